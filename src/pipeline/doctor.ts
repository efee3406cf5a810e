/**
 * `poster doctor`: can this machine run POSTER++ on a GPU, and if not, what to install. It probes each execution
 * provider with a small graph (does it start, did it run the nodes), asks nvidia-smi and vulkaninfo which GPUs and
 * drivers there are, looks for the CUDA libraries the CUDA provider opens, and with a model says which of its ops
 * each GPU provider would leave to the CPU (from onnxruntime's profile of one batch-1 run).
 */
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {INPUT_NUMEL} from '../basics.js'
import {deviceName, gpuReport, type GpuReport} from '../runtime/gpu-info.js'
import {describePlacement, placementFromProfile, type Placement} from '../runtime/placement.js'
import {CUDA_REQUIREMENT, DEVICES, PROVIDER_NAMES, type Device} from '../runtime/provider-help.js'
import type {DeviceProbe} from '../runtime/session.js'
import {TOOL_VERSION} from '../version.js'

export interface DeviceReport extends DeviceProbe {
  /** The GPU behind it, when the tools say (nvidia-smi for CUDA, vulkaninfo for WebGPU). */
  gpu?: string
}

export interface ModelPlacement {
  device: Device
  ok: boolean
  placement?: Placement
  /** describePlacement's line, or the error. */
  summary: string
  /** Session creation plus one batch-1 run, s. */
  seconds: number
}

export interface DoctorReport {
  poster: string
  node: string
  platform: string
  onnxruntime: string
  /** Providers onnxruntime-node's build knows, and whether its npm package bundles them. */
  backends: Array<{name: string; bundled: boolean}>
  cudaRequirement: {cuda: number; cudnn: number; install: string}
  devices: DeviceReport[]
  gpus: GpuReport
  model?: {path: string; placements: ModelPlacement[]}
}

export interface DoctorOptions {
  devices?: Device[]
  /** An ONNX file to place on every GPU device that loads. */
  modelPath?: string
  onStatus?: (message: string) => void
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const {probeDevice, runtimeInfo} = await import('../runtime/session.js')
  const devices = opts.devices ?? [...DEVICES]
  const [info, gpus] = await Promise.all([runtimeInfo(), gpuReport()])
  const reports: DeviceReport[] = []
  for (const d of devices) {
    opts.onStatus?.(`probing ${d}…`)
    const probe = await probeDevice(d)
    const gpu = d === 'cpu' ? undefined : deviceName(d, gpus)
    reports.push(gpu ? {...probe, gpu} : probe)
  }
  const report: DoctorReport = {
    poster: TOOL_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    onnxruntime: info.version,
    backends: info.backends,
    cudaRequirement: {...CUDA_REQUIREMENT},
    devices: reports,
    gpus,
  }
  if (opts.modelPath) {
    const placements: ModelPlacement[] = []
    for (const d of reports.filter((r) => r.device !== 'cpu' && r.loads)) {
      opts.onStatus?.(`placing ${opts.modelPath} on ${d.device} (one batch-1 run)…`)
      placements.push(await placeModel(opts.modelPath, d.device))
    }
    report.model = {path: opts.modelPath, placements}
  }
  return report
}

/** Open the model on `device` with profiling, run one blank image, and read which provider ran each node. */
export async function placeModel(modelPath: string, device: Device): Promise<ModelPlacement> {
  const {openSession} = await import('../runtime/session.js')
  const dir = await mkdtemp(join(tmpdir(), 'poster-doctor-'))
  const t0 = performance.now()
  try {
    const session = await openSession(modelPath, {device, profilePrefix: join(dir, 'profile')})
    try {
      await session.run(new Float32Array(INPUT_NUMEL), 1, {landmarks: true})
      const file = await session.endProfiling()
      if (!file) throw new Error('onnxruntime wrote no profile')
      const placement = placementFromProfile(JSON.parse(await readFile(file, 'utf8')), PROVIDER_NAMES[device])
      return {device, ok: true, placement, summary: describePlacement(placement, PROVIDER_NAMES[device]), seconds: (performance.now() - t0) / 1000}
    } finally {
      await session.release()
    }
  } catch (error) {
    return {device, ok: false, summary: error instanceof Error ? error.message : String(error), seconds: (performance.now() - t0) / 1000}
  } finally {
    await rm(dir, {recursive: true, force: true}).catch(() => {})
  }
}

/** The report as terminal lines. */
export function doctorLines(r: DoctorReport): string[] {
  const lines: string[] = []
  lines.push(`poster ${r.poster}, Node ${r.node}, ${r.platform}, onnxruntime-node ${r.onnxruntime}`)
  lines.push('')
  lines.push('devices')
  for (const d of r.devices) {
    const state = d.loads
      ? d.ranOn.includes(d.provider)
        ? `ok (${d.provider}, probe ${Math.round(d.ms)} ms)`
        : `starts, but the probe ran on ${d.ranOn.join(', ') || 'nothing'}`
      : d.installed
        ? 'does not start'
        : 'not installed'
    lines.push(`  ${d.device.padEnd(7)} ${state}${d.gpu ? ` — ${d.gpu}` : ''}`)
    if (!d.loads && d.help) lines.push(`          ${d.help}`)
  }
  lines.push('')
  lines.push('GPUs')
  const nv = r.gpus.nvidia
  if (nv && nv.gpus.length > 0) {
    for (const g of nv.gpus) {
      lines.push(`  NVIDIA  #${g.index} ${g.name}, driver ${g.driver}${g.memoryMiB ? `, ${(g.memoryMiB / 1024).toFixed(0)} GiB` : ''}${nv.cudaDriverVersion ? `, driver supports CUDA ≤ ${nv.cudaDriverVersion}` : ''}`)
    }
  } else lines.push(`  NVIDIA  none (${r.gpus.nvidiaNote ?? 'nvidia-smi listed no GPU'})`)
  if (r.gpus.vulkan && r.gpus.vulkan.length > 0) {
    for (const v of r.gpus.vulkan) {
      const type = v.type.replace('PHYSICAL_DEVICE_TYPE_', '').toLowerCase().replace('_', ' ')
      lines.push(`  Vulkan  ${v.name} (${type}${v.driverInfo ? `, ${v.driverInfo}` : ''})`)
    }
  } else lines.push(`  Vulkan  ${r.gpus.vulkanNote ?? 'no device'}`)
  lines.push(`          loader ${r.gpus.vulkanLoader ?? 'libvulkan.so.1 not found (Debian/Ubuntu: libvulkan1)'}; drivers ${r.gpus.icdFiles.length > 0 ? r.gpus.icdFiles.map((f) => f.split('/').pop()).join(', ') : 'none found'}`)
  const cuda = r.devices.find((d) => d.device === 'cuda')
  if (cuda) {
    const missing = r.gpus.cudaLibraries.filter((l) => !l.path).map((l) => l.name)
    lines.push('')
    lines.push(`CUDA provider needs CUDA ${r.cudaRequirement.cuda} + cuDNN ${r.cudaRequirement.cudnn} (install: ${r.cudaRequirement.install})`)
    lines.push(`  libraries: ${missing.length === 0 ? 'all found' : `missing ${missing.join(', ')}`}${r.gpus.cudaLibraries.some((l) => l.path) ? `; found ${r.gpus.cudaLibraries.filter((l) => l.path).map((l) => l.name).join(', ')}` : ''}`)
  }
  if (r.model) {
    lines.push('')
    lines.push(`model ${r.model.path}`)
    if (r.model.placements.length === 0) lines.push('  no GPU device loads: nothing to place')
    for (const p of r.model.placements) lines.push(`  ${p.device.padEnd(7)} ${p.ok ? p.summary : `failed: ${p.summary}`} (${p.seconds.toFixed(1)} s)`)
  }
  return lines
}
