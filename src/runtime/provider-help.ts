/**
 * What a user needs to read when a GPU execution provider does not start: the cause in one line (onnxruntime's
 * messages start with a source path and a failed assertion), and exactly what to install. Pure: no onnxruntime
 * import, so `poster doctor` and the tests use it as the session module does.
 */

/** The device names poster accepts, and the onnxruntime provider each one asks for first. */
export type Device = 'cpu' | 'cuda' | 'webgpu'
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu']
export const GPU_DEVICES: readonly Device[] = ['cuda', 'webgpu']

/** onnxruntime's provider names, as its profiles and logs write them. */
export const PROVIDER_NAMES: Record<Device, string> = {
  cpu: 'CPUExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
}

/** The CUDA and cuDNN majors onnxruntime-node 1.30's CUDA provider is built against. */
export const CUDA_REQUIREMENT = {cuda: 12, cudnn: 9, install: 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci'} as const

/** The files `ONNXRUNTIME_NODE_INSTALL=cuda12` adds next to onnxruntime's binding (linux x64). */
export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const

/**
 * The useful part of an onnxruntime error: its first line without the `/onnxruntime_src/...cc:136 fn(...) <cond>
 * was false.` prefix, e.g. "Failed to get a WebGPU adapter: No supported adapters".
 */
export function shortCause(message: string): string {
  const first = message.split('\n').find((l) => l.trim() !== '') ?? message
  const afterAssert = first.match(/ was false\.\s*(.+)$/)
  if (afterAssert) return afterAssert[1]!.trim()
  const afterStatus = first.match(/\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : (.+)$/)
  if (afterStatus) return afterStatus[1]!.trim()
  return first.replace(/^Error:\s*/, '').trim()
}

/** A shared library named in a loader error ("libcublasLt.so.12: cannot open shared object file"), if any. */
export function missingLibrary(message: string): string | undefined {
  const all = [...message.matchAll(/(lib[\w.+-]+\.so[\w.]*): cannot open shared object file/g)].map((m) => m[1]!)
  return all.at(-1)
}

export interface ProviderFacts {
  /** Whether the CUDA provider's files are installed next to onnxruntime's binding. */
  cudaProviderInstalled?: boolean
}

/** The message for a provider that did not start, saying what to install or check. */
export function providerHelp(device: Device, cause: string, facts: ProviderFacts = {}): string {
  const short = shortCause(cause)
  if (device === 'cuda') {
    const install = `\`${CUDA_REQUIREMENT.install}\` in poster's folder (fetches onnxruntime's CUDA ${CUDA_REQUIREMENT.cuda} provider; needs network)`
    const libs = `CUDA ${CUDA_REQUIREMENT.cuda}.x and cuDNN ${CUDA_REQUIREMENT.cudnn}.x libraries on the library path (LD_LIBRARY_PATH or ldconfig) and an NVIDIA driver`
    if (facts.cudaProviderInstalled === false) {
      return (
        `--device cuda: onnxruntime's CUDA provider is not installed (${short}). onnxruntime-node bundles only the CPU ` +
        `and WebGPU providers; install the CUDA one with ${install}. It needs ${libs}. ` +
        'Check with `poster doctor`, or use --device webgpu (any Vulkan GPU) or --device cpu.'
      )
    }
    const lib = missingLibrary(cause)
    return (
      `--device cuda: onnxruntime's CUDA provider is installed but did not start (${short}). ` +
      (lib ? `${lib} was not found: ` : '') +
      `it needs ${libs}. Check with \`poster doctor\` and \`nvidia-smi\`; reinstall with ${install} if the provider files are damaged, ` +
      'or use --device webgpu or --device cpu.'
    )
  }
  if (device === 'webgpu') {
    const noAdapter = /adapter/i.test(short)
    return (
      `--device webgpu: the WebGPU provider could not start (${short}). ` +
      (noAdapter
        ? 'onnxruntime found no Vulkan device. Install your GPU vendor\'s Vulkan driver and the loader (Debian/Ubuntu: ' +
          'libvulkan1; NVIDIA: the driver\'s Vulkan ICD; AMD/Intel: mesa-vulkan-drivers). Without a GPU, Mesa\'s software ' +
          'lavapipe works from Mesa 25 (Debian bookworm-backports\' mesa-vulkan-drivers; bookworm\'s 22.3 is refused), ' +
          'for checks only (well under 1 image/s). '
        : '') +
      'Check with `poster doctor`, or use --device cpu.'
    )
  }
  return short
}
