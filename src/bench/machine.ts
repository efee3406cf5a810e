/** What the benchmark ran on: CPU, cores, memory, Node, onnxruntime-node and sharp versions, load average. */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {availableParallelism, cpus, loadavg, totalmem} from 'node:os'

import {cpuSimdFlags} from '../runtime/cpu.js'

export {cpuSimdFlags}

export interface MachineInfo {
  cpu: string
  /**
   * The CPU's SIMD flags that decide which int8 and float kernels onnxruntime picks (from /proc/cpuinfo; empty
   * where there is none): avx2/fma, avx512*, avx512_vnni / avx_vnni (u8×s8 dot products without saturation), amx.
   */
  cpuFlags: string[]
  /** Logical CPUs the OS reports. */
  cores: number
  /** CPUs this process may use (affinity, cgroups). */
  availableParallelism: number
  memoryGiB: number
  platform: string
  arch: string
  node: string
  onnxruntime: string
  sharp: string
  libvips: string
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url)
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {version?: string}
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const list = cpus()
  let sharp = 'unknown'
  let libvips = 'unknown'
  try {
    const {loadSharp} = await import('../image/sharp.js')
    const versions = (await loadSharp()).versions as {sharp?: string; vips?: string}
    sharp = versions.sharp ?? sharp
    libvips = versions.vips ?? libvips
  } catch {
    // versions are decoration
  }
  return {
    cpu: (list[0]?.model ?? 'unknown').trim(),
    cpuFlags: cpuSimdFlags(),
    cores: list.length,
    availableParallelism: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    onnxruntime: packageVersion('onnxruntime-node'),
    sharp,
    libvips,
  }
}

/** 1, 5 and 15 minute load averages, rounded to 2 decimals. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = loadavg()
  const r = (x: number | undefined) => Math.round((x ?? 0) * 100) / 100
  return [r(a), r(b), r(c)]
}

