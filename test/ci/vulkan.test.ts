/**
 * .ci/vulkan.sh never fails CI: whatever apt does (missing, offline, refusing), it exits 0 and says why the WebGPU
 * tests will skip. Run with fake apt-get / dpkg-query on PATH and a scratch sources folder, so nothing is installed
 * and /etc is not touched.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

const SCRIPT = fileURLToPath(new URL('../../.ci/vulkan.sh', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'poster-ci-vulkan-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

function fakeBin(name: string, tools: Record<string, string>): string {
  const bin = join(work, name, 'bin')
  mkdirSync(bin, {recursive: true})
  for (const [tool, body] of Object.entries(tools)) {
    writeFileSync(join(bin, tool), `#!/bin/sh\n${body}\n`)
    chmodSync(join(bin, tool), 0o755)
  }
  return bin
}

function run(bin: string, env: Record<string, string> = {}) {
  const sources = join(work, `sources-${Math.random().toString(36).slice(2)}`)
  mkdirSync(sources)
  const osRelease = join(work, 'os-release')
  writeFileSync(osRelease, 'ID=debian\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
  const r = spawnSync('bash', [SCRIPT], {
    encoding: 'utf8',
    env: {PATH: `${bin}:/usr/bin:/bin`, POSTER_CI_APT_SOURCES: sources, POSTER_CI_APT_LIST: join(work, 'no-sources.list'), POSTER_CI_OS_RELEASE: osRelease, ...env},
  })
  return {...r, sources}
}

describe('.ci/vulkan.sh', () => {
  it('exits 0 and says the tests will skip when apt-get update fails (offline)', () => {
    const bin = fakeBin('offline', {'dpkg-query': 'exit 1', 'apt-get': 'echo "$@" >> "$(dirname "$0")/calls"; exit 100', id: 'echo 0', sudo: 'exit 1'})
    const r = run(bin)
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('apt-get update failed or timed out (offline?): WebGPU tests will skip')
    // It asked for bookworm-backports: the sources entry is written where it was told.
    expect(readFileSync(join(r.sources, 'poster-ci-backports.sources'), 'utf8')).toContain('Suites: bookworm-backports')
    expect(readFileSync(join(bin, 'calls'), 'utf8')).toMatch(/update/)
  })

  it('installs from bookworm-backports when apt works, and reports the version', () => {
    const bin = fakeBin('online', {
      'dpkg-query': 'if [ -f "$(dirname "$0")/installed" ]; then printf 25.0.7-2~bpo12+1; exit 0; fi; exit 1',
      'apt-get': 'echo "$@" >> "$(dirname "$0")/calls"; case "$*" in *install*) touch "$(dirname "$0")/installed";; esac; exit 0',
      id: 'echo 0',
    })
    const r = run(bin)
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('installed mesa-vulkan-drivers 25.0.7-2~bpo12+1 (lavapipe) from bookworm-backports')
    expect(readFileSync(join(bin, 'calls'), 'utf8')).toMatch(/install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1/)
  })

  it('does nothing when Mesa 25 is already there, without root, or when turned off', () => {
    const have = fakeBin('have', {'dpkg-query': 'printf 25.0.7-2~bpo12+1', 'apt-get': 'exit 1'})
    expect(run(have).stderr).toContain('already installed')
    const user = fakeBin('user', {'dpkg-query': 'exit 1', 'apt-get': 'exit 1', id: 'echo 1000', sudo: 'exit 1'})
    const r = run(user)
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('not root and no passwordless sudo')
    expect(existsSync(join(r.sources, 'poster-ci-backports.sources'))).toBe(false)
    expect(run(user, {POSTER_CI_VULKAN: '0'}).stderr).toContain('POSTER_CI_VULKAN=0')
  })
})
