/**
 * `--batch-size auto`: a batch size by device. The CPU keeps each command's default (32 for eval and predict:
 * on the CPU provider images/s hardly depend on the batch, and memory grows with it). GPUs are filled:
 *
 *   software Vulkan (lavapipe)  8   it runs on the CPU; a bigger batch is not faster and takes longer per step
 *   GPU with known memory       the largest power of two ≤ memory / 256 MiB, between 8 and 128
 *                               (8 GiB → 32, 16 GiB → 64, 24 GiB and more → 128)
 *   GPU of unknown memory       32  (WebGPU on a non-NVIDIA GPU: Vulkan does not say how much is free)
 *
 * 256 MiB per image is a safe budget: POSTER++'s float32 activations at batch 32 peaked at ~36 MB per image on
 * the CPU provider; a GPU provider adds its workspace and arena rounding, and the rest of the GPU may be in use.
 * `--batch-size N` always wins.
 */
import {existsSync, readdirSync} from 'node:fs'

import {gpuReport, preferredVulkanDevice, type GpuReport} from './gpu-info.js'
import type {Device} from './provider-help.js'

export type BatchSizeSetting = number | 'auto'

export const AUTO_BATCH = {software: 8, unknownMemory: 32, min: 8, max: 128, perImageMiB: 256} as const

export interface AutoBatchFacts {
  device: Device
  /** WebGPU's adapter is a software rasteriser (lavapipe / llvmpipe, SwiftShader). */
  software?: boolean
  /** The GPU's memory, MiB (nvidia-smi). */
  memoryMiB?: number
  /** The GPU's name, for the message. */
  gpu?: string
}

/** The rule above; `cpuDefault` is the command's own default. */
export function autoBatchSize(f: AutoBatchFacts, cpuDefault: number): {size: number; why: string} {
  if (f.device === 'cpu') return {size: cpuDefault, why: 'cpu: the default'}
  const on = f.gpu ? ` (${f.gpu})` : ''
  if (f.software) return {size: AUTO_BATCH.software, why: `${f.device} on software Vulkan${on}`}
  if (f.memoryMiB && f.memoryMiB > 0) {
    const fit = Math.floor(f.memoryMiB / AUTO_BATCH.perImageMiB)
    let size: number = AUTO_BATCH.min
    while (size * 2 <= Math.min(fit, AUTO_BATCH.max)) size *= 2
    return {size, why: `${f.device}${on}, ${(f.memoryMiB / 1024).toFixed(0)} GiB: ${AUTO_BATCH.perImageMiB} MiB per image, at most ${AUTO_BATCH.max}`}
  }
  return {size: AUTO_BATCH.unknownMemory, why: `${f.device}${on}, memory unknown`}
}

/** Whether the machine has a GPU render node or an NVIDIA device node at all (when vulkaninfo is not installed). */
function hasGpuDeviceNode(): boolean {
  if (existsSync('/dev/nvidia0')) return true
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'))
  } catch {
    return false
  }
}

/** The facts autoBatchSize needs, from the GPU tools' report. */
export function batchFacts(device: Device, report: GpuReport, gpuNode: () => boolean = hasGpuDeviceNode): AutoBatchFacts {
  const nv = report.nvidia?.gpus[0]
  if (device === 'cuda') return {device, ...(nv ? {gpu: nv.name, ...(nv.memoryMiB ? {memoryMiB: nv.memoryMiB} : {})} : {})}
  if (device === 'webgpu') {
    const vk = report.vulkan ? preferredVulkanDevice(report.vulkan) : undefined
    if (vk) {
      const software = vk.type === 'PHYSICAL_DEVICE_TYPE_CPU'
      const nvidia = !software && nv && /nvidia/i.test(vk.name)
      return {device, gpu: vk.name, software, ...(nvidia && nv.memoryMiB ? {memoryMiB: nv.memoryMiB} : {})}
    }
    if (nv) return {device, gpu: nv.name, ...(nv.memoryMiB ? {memoryMiB: nv.memoryMiB} : {})}
    return {device, software: !gpuNode()}
  }
  return {device}
}

/** A number stays; auto is decided by the device (asking nvidia-smi / vulkaninfo for GPUs). */
export async function resolveBatchSize(
  setting: BatchSizeSetting | undefined,
  device: Device,
  cpuDefault: number,
  onStatus?: (message: string) => void,
): Promise<number> {
  if (setting === undefined) return cpuDefault
  if (setting !== 'auto') return setting
  if (device === 'cpu') return cpuDefault
  const {size, why} = autoBatchSize(batchFacts(device, await gpuReport()), cpuDefault)
  onStatus?.(`--batch-size auto: ${size} (${why})`)
  return size
}
