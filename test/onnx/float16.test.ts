import {describe, expect, it} from 'vitest'
import {
  bfloat16ArrayToFloat32,
  fitsFloat16,
  float16ArrayToFloat32,
  float16BitsToNumber,
  float32ArrayToFloat16,
  float32ToFloat16Bits,
} from '../../src/onnx/float16.js'

describe('float16 conversion', () => {
  it('converts representative values exactly', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [1e6, 0x7c00], // overflow
      [2 ** -26, 0x0000], // underflow
    ]
    for (const [v, bits] of cases) expect(float32ToFloat16Bits(v), String(v)).toBe(bits)
    expect(Number.isNaN(float16BitsToNumber(float32ToFloat16Bits(NaN)))).toBe(true)
  })

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00)
    // 1 + 3·2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties to even (1 + 2^-9).
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01)
    // subnormal tie: 1.5 · 2^-24 → 2 · 2^-24 (even), 2.5 · 2^-24 → 2 · 2^-24
    expect(float32ToFloat16Bits(1.5 * 2 ** -24)).toBe(0x0002)
    expect(float32ToFloat16Bits(2.5 * 2 ** -24)).toBe(0x0002)
    // rounding up into the next binade and into infinity
    expect(float32ToFloat16Bits(2047.9)).toBe(0x6800) // 2048
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00)
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff)
  })

  it('round-trips every finite float16 value', () => {
    const all = new Uint16Array(65536).map((_, i) => i)
    const decoded = float16ArrayToFloat32(all)
    const back = float32ArrayToFloat16(decoded)
    for (let i = 0; i < 65536; i++) {
      const exp = (i >>> 10) & 0x1f
      if (exp === 0x1f && (i & 0x3ff) !== 0) continue // NaN payloads
      if (back[i] !== i) throw new Error(`round trip of 0x${i.toString(16)} gave 0x${back[i]!.toString(16)}`)
    }
  })

  it('decodes bfloat16 and detects float16 overflow', () => {
    expect(Array.from(bfloat16ArrayToFloat32(Uint16Array.from([0x3f80, 0xc000, 0x0000])))).toEqual([1, -2, 0])
    expect(fitsFloat16(Float32Array.from([1, -65504, 65519]))).toBe(true)
    expect(fitsFloat16(Float32Array.from([1, 70000]))).toBe(false)
  })
})
