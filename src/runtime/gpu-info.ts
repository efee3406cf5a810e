/**
 * What the machine says about its GPUs, from the tools that know: `nvidia-smi` (NVIDIA GPUs, driver, the CUDA
 * version the driver supports), `vulkaninfo --summary` (every Vulkan device, the software lavapipe included, which
 * is what WebGPU runs on), the Vulkan driver manifests (ICD files) and the loader's shared libraries. Every tool is
 * optional: a missing one is reported as missing, never an error. The parsers are pure and tested on real output.
 */
import {execFile} from 'node:child_process'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

export interface NvidiaGpu {
  index: number
  name: string
  driver: string
  memoryMiB?: number
}

export interface NvidiaInfo {
  gpus: NvidiaGpu[]
  /** The highest CUDA version the driver supports ("CUDA Version: 12.4" in nvidia-smi's header). */
  cudaDriverVersion?: string
}

export interface VulkanDevice {
  name: string
  /** PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, _INTEGRATED_GPU, _VIRTUAL_GPU, _CPU (software, e.g. lavapipe). */
  type: string
  driverName?: string
  driverInfo?: string
  apiVersion?: string
}

export interface GpuReport {
  nvidia?: NvidiaInfo
  /** Why there is no nvidia section (nvidia-smi missing or failing). */
  nvidiaNote?: string
  vulkan?: VulkanDevice[]
  vulkanNote?: string
  /** Vulkan driver manifests found (each a driver the loader may use). */
  icdFiles: string[]
  /** Where libvulkan.so.1 (the loader WebGPU needs) was found, if anywhere. */
  vulkanLoader?: string
  /** CUDA libraries the CUDA provider loads: where each was found, or missing. */
  cudaLibraries: Array<{name: string; path?: string}>
}

type Exec = (cmd: string, args: string[]) => Promise<{ok: boolean; stdout: string; error?: string}>

const defaultExec: Exec = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, {timeout: 15_000, maxBuffer: 4 << 20, env: process.env}, (error, stdout) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code
        resolve({ok: false, stdout: String(stdout ?? ''), error: code === 'ENOENT' ? `${cmd} not found` : error.message.split('\n')[0]})
      } else resolve({ok: true, stdout: String(stdout)})
    })
  })

/** nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits */
export function parseNvidiaQuery(csv: string): NvidiaGpu[] {
  const gpus: NvidiaGpu[] = []
  for (const line of csv.split('\n')) {
    const cells = line.split(',').map((c) => c.trim())
    if (cells.length < 3 || !/^\d+$/.test(cells[0]!)) continue
    const mem = Number(cells[3])
    gpus.push({index: Number(cells[0]), name: cells[1]!, driver: cells[2]!, ...(Number.isFinite(mem) && cells[3] ? {memoryMiB: mem} : {})})
  }
  return gpus
}

/** The "CUDA Version: 12.4" of nvidia-smi's banner. */
export function parseCudaDriverVersion(banner: string): string | undefined {
  return banner.match(/CUDA Version:\s*([\d.]+)/)?.[1]
}

/** The GPU0:, GPU1: blocks of `vulkaninfo --summary`. */
export function parseVulkanSummary(text: string): VulkanDevice[] {
  const devices: VulkanDevice[] = []
  const start = text.indexOf('Devices:')
  if (start < 0) return devices
  let cur: Record<string, string> | undefined
  const flush = () => {
    if (cur?.deviceName) {
      devices.push({
        name: cur.deviceName,
        type: cur.deviceType ?? 'unknown',
        ...(cur.driverName ? {driverName: cur.driverName} : {}),
        ...(cur.driverInfo ? {driverInfo: cur.driverInfo} : {}),
        ...(cur.apiVersion ? {apiVersion: cur.apiVersion} : {}),
      })
    }
  }
  for (const line of text.slice(start).split('\n')) {
    if (/^GPU\d+:/.test(line.trim())) {
      flush()
      cur = {}
      continue
    }
    const m = line.match(/^\s+(\w+)\s*=\s*(.*)$/)
    if (m && cur) cur[m[1]!] = m[2]!.trim()
  }
  flush()
  return devices
}

const TYPE_ORDER = ['PHYSICAL_DEVICE_TYPE_DISCRETE_GPU', 'PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU', 'PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU', 'PHYSICAL_DEVICE_TYPE_CPU']

/** The device WebGPU most likely runs on: Dawn asks for high performance, so discrete before integrated before software. */
export function preferredVulkanDevice(devices: VulkanDevice[]): VulkanDevice | undefined {
  const rank = (d: VulkanDevice) => {
    const i = TYPE_ORDER.indexOf(d.type)
    return i < 0 ? TYPE_ORDER.length : i
  }
  return [...devices].sort((a, b) => rank(a) - rank(b))[0]
}

/** A device name for tables: "NVIDIA H200 (driver 570.86)", "llvmpipe (LLVM 15.0.6, 256 bits) (software Vulkan, Mesa 25.0.7)". */
export function describeVulkanDevice(d: VulkanDevice): string {
  const software = d.type === 'PHYSICAL_DEVICE_TYPE_CPU'
  const mesa = d.driverInfo?.match(/Mesa [\d.]+/)?.[0]
  const extra = [software ? 'software Vulkan' : undefined, mesa ?? d.driverInfo].filter(Boolean).join(', ')
  return extra ? `${d.name} (${extra})` : d.name
}

export const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']

/** The libraries onnxruntime 1.30's CUDA provider opens (CUDA 12, cuDNN 9). */
export const CUDA_LIBRARIES = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9']

function icdFiles(env: NodeJS.ProcessEnv): string[] {
  const explicit = (env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES ?? '').split(':').filter(Boolean)
  if (explicit.length > 0) return explicit.filter((f) => existsSync(f))
  const out: string[] = []
  for (const dir of VULKAN_ICD_DIRS) {
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.json')) out.push(join(dir, f))
    } catch {
      // no such folder
    }
  }
  return out.sort()
}

/** `ldconfig -p` lines "libcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9" → name → path. */
export function parseLdconfig(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/)
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[3]!)
  }
  return out
}

function findLibrary(name: string, ld: Map<string, string>, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    const p = join(dir, name)
    if (existsSync(p)) return p
  }
  return ld.get(name)
}

/** Ask every tool; what is missing is said in the notes. */
export async function gpuReport(opts: {exec?: Exec; env?: NodeJS.ProcessEnv} = {}): Promise<GpuReport> {
  const exec = opts.exec ?? defaultExec
  const env = opts.env ?? process.env
  const [query, banner, vk, ld] = await Promise.all([
    exec('nvidia-smi', ['--query-gpu=index,name,driver_version,memory.total', '--format=csv,noheader,nounits']),
    exec('nvidia-smi', []),
    exec('vulkaninfo', ['--summary']),
    exec('ldconfig', ['-p']).then((r) => (r.ok ? r : exec('/sbin/ldconfig', ['-p']))),
  ])
  const report: GpuReport = {icdFiles: icdFiles(env), cudaLibraries: []}
  if (query.ok) {
    report.nvidia = {gpus: parseNvidiaQuery(query.stdout)}
    const v = banner.ok ? parseCudaDriverVersion(banner.stdout) : undefined
    if (v) report.nvidia.cudaDriverVersion = v
  } else report.nvidiaNote = query.error ?? 'nvidia-smi failed'
  if (vk.ok || vk.stdout.includes('Devices:')) {
    report.vulkan = parseVulkanSummary(vk.stdout)
    if (report.vulkan.length === 0) report.vulkanNote = 'vulkaninfo listed no device'
  } else {
    report.vulkanNote = vk.error?.includes('not found')
      ? 'vulkaninfo not found (Debian/Ubuntu: apt-get install vulkan-tools) — device names unknown'
      : `vulkaninfo failed: ${vk.error}`
  }
  const libs = ld.ok ? parseLdconfig(ld.stdout) : new Map<string, string>()
  report.vulkanLoader = findLibrary('libvulkan.so.1', libs, env)
  report.cudaLibraries = CUDA_LIBRARIES.map((name) => {
    const path = findLibrary(name, libs, env)
    return path ? {name, path} : {name}
  })
  return report
}

/** The GPU a device runs on, for bench tables: nvidia-smi's first GPU for CUDA, the preferred Vulkan device for WebGPU. */
export function deviceName(device: 'cpu' | 'cuda' | 'webgpu', report: GpuReport): string | undefined {
  const nv = report.nvidia?.gpus[0]
  if (device === 'cuda') return nv ? `${nv.name} (driver ${nv.driver})` : undefined
  if (device === 'webgpu') {
    const vk = report.vulkan ? preferredVulkanDevice(report.vulkan) : undefined
    if (vk) return describeVulkanDevice(vk)
    return nv ? `${nv.name} (driver ${nv.driver}; Vulkan device not listed: no vulkaninfo)` : undefined
  }
  return undefined
}
