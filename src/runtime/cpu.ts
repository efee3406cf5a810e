/**
 * What the CPU offers onnxruntime's kernels: its SIMD flags (/proc/cpuinfo), and from them the channel block of
 * MLAS's NCHWc convolutions (the layout ORT's CPU provider runs most convolutions in at optimisation level 'all').
 */
import {readFileSync} from 'node:fs'

const SIMD_FLAG = /^(sse4_1|sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni\w*|amx\w*)$/

/** The SIMD flags of the first CPU in /proc/cpuinfo (Linux), sorted; [] elsewhere. */
export function cpuSimdFlags(cpuinfo?: string): string[] {
  let text = cpuinfo
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8')
    } catch {
      return []
    }
  }
  const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l))
  if (!line) return []
  return [...new Set(line.split(':')[1]!.trim().split(/\s+/).filter((f) => SIMD_FLAG.test(f)))].sort()
}

/**
 * The channel block of onnxruntime's NCHWc convolutions on this CPU: 16 floats with AVX-512F, 8 with AVX2 (MLAS's
 * MlasNchwcGetBlockSize on x86-64), 1 where there is no NCHWc layout (other CPUs, or flags that cannot be read).
 * A network whose channel counts are not multiples of it has its feature maps converted to and from NCHWc around
 * the operators that cannot take them.
 */
export function nchwcBlock(flags: readonly string[] = cpuSimdFlags(), arch: string = process.arch): number {
  if (arch !== 'x64') return 1
  if (flags.includes('avx512f')) return 16
  if (flags.includes('avx2')) return 8
  return 1
}
