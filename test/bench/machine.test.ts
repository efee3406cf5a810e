/** The CPU flags the benchmark reports (they decide which int8 kernels onnxruntime can use). */
import {describe, expect, it} from 'vitest'

import {cpuSimdFlags} from '../../src/bench/machine.js'
import {nchwcBlock} from '../../src/runtime/cpu.js'

describe('cpuSimdFlags', () => {
  it('keeps the SIMD flags of the first CPU, sorted and once each', () => {
    const zen3 = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni\n\nprocessor\t: 1\nflags\t\t: fpu avx512f\n'
    expect(cpuSimdFlags(zen3)).toEqual(['avx', 'avx2', 'f16c', 'fma', 'sse4_1', 'sse4_2'])
    const sapphire = 'flags\t: avx2 avx512f avx512bw avx512_vnni avx_vnni amx_int8 amx_tile fma'
    expect(cpuSimdFlags(sapphire)).toEqual(['amx_int8', 'amx_tile', 'avx2', 'avx512_vnni', 'avx512bw', 'avx512f', 'avx_vnni', 'fma'])
  })

  it('nothing to read: no flags', () => {
    expect(cpuSimdFlags('')).toEqual([])
    expect(cpuSimdFlags('Features\t: fp asimd')).toEqual([])
  })
})

describe('nchwcBlock', () => {
  it("is MLAS's NCHWc channel block: 16 floats with AVX-512F, 8 with AVX2, 1 elsewhere", () => {
    expect(nchwcBlock(['avx2', 'avx512f', 'fma'], 'x64')).toBe(16)
    expect(nchwcBlock(['avx', 'avx2', 'fma'], 'x64')).toBe(8)
    expect(nchwcBlock(['avx', 'sse4_2'], 'x64')).toBe(1)
    expect(nchwcBlock([], 'arm64')).toBe(1)
    expect(nchwcBlock(['avx512f'], 'arm64')).toBe(1)
  })
})
