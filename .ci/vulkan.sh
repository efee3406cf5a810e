#!/usr/bin/env bash
# Best effort: give CI a Vulkan device (Mesa's software lavapipe) so test/runtime/webgpu.test.ts runs the real
# POSTER++ graph on WebGPU instead of skipping. Debian bookworm's mesa-vulkan-drivers (22.3) is refused by
# onnxruntime's Dawn ("No supported adapters"); bookworm-backports' (25.x) works. Never fails the build: any
# problem (no root, no apt, no network, another distribution) prints why and the WebGPU tests skip, saying so.
# POSTER_CI_VULKAN=0 turns it off. Takes ~15 s with a reachable mirror; each apt step is capped at 90 s.
set -u
say() { echo "ci/vulkan: $*" >&2; }
[ "${POSTER_CI_VULKAN:-1}" = 0 ] && { say "POSTER_CI_VULKAN=0: not installing a Vulkan driver"; exit 0; }
have() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
mesa=$(have mesa-vulkan-drivers)
major=${mesa%%.*}; major=${major#*:}
if [ -n "$mesa" ] && [ "$(have libvulkan1)" != "" ] && [ "${major:-0}" -ge 25 ] 2>/dev/null; then
  say "mesa-vulkan-drivers $mesa already installed"; exit 0
fi
command -v apt-get >/dev/null || { say "no apt-get: not installing a Vulkan driver (WebGPU tests will skip)"; exit 0; }
SUDO=
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else say "not root and no passwordless sudo: WebGPU tests will skip"; exit 0; fi
fi
. "${POSTER_CI_OS_RELEASE:-/etc/os-release}" 2>/dev/null || true
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
  # Elsewhere the distribution's own Mesa is tried (Ubuntu 24.04 and Debian trixie ship Mesa >= 24).
  say "${PRETTY_NAME:-unknown system}: trying the distribution's mesa-vulkan-drivers"
  timeout 90 $SUDO apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive timeout 90 $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1 ||
    say "apt-get could not install mesa-vulkan-drivers (offline?): WebGPU tests will skip"
  exit 0
fi
# POSTER_CI_APT_SOURCES (default /etc/apt/sources.list.d) and POSTER_CI_APT_LIST let test/ci/vulkan.test.ts run this without touching /etc.
dir=${POSTER_CI_APT_SOURCES:-/etc/apt/sources.list.d}
src=$dir/poster-ci-backports.sources
if ! grep -rqs bookworm-backports "${POSTER_CI_APT_LIST:-/etc/apt/sources.list}" "$dir"/; then
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee "$src" >/dev/null || { say "cannot write $src: WebGPU tests will skip"; exit 0; }
fi
if ! timeout 90 $SUDO apt-get update -qq >/dev/null 2>&1; then
  say "apt-get update failed or timed out (offline?): WebGPU tests will skip"; exit 0
fi
if DEBIAN_FRONTEND=noninteractive timeout 90 $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  say "installed mesa-vulkan-drivers $(have mesa-vulkan-drivers) (lavapipe) from bookworm-backports"
else
  say "apt-get install from bookworm-backports failed or timed out: WebGPU tests will skip"
fi
exit 0
