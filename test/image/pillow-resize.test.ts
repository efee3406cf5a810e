import {describe, expect, it} from 'vitest'
import {clearCoeffCache, computeCoeffs, getCoeffs, pillowResize, type ResampleFilter} from '../../src/image/pillow-resize.js'
import {lcgBytes, sha256} from './helpers.js'

const ONE = 1 << 22

describe('computeCoeffs (Pillow precompute_coeffs + normalize_coeffs_8bpc)', () => {
  it('upscaling 2 -> 4: plain bilinear taps, support not widened', () => {
    const c = computeCoeffs(2, 4)
    expect(c.ksize).toBe(3)
    expect(Array.from(c.start)).toEqual([0, 0, 0, 1])
    expect(Array.from(c.count)).toEqual([1, 2, 2, 1])
    // centres 0.25, 0.75, 1.25, 1.75 -> weights 1 | 0.75 0.25 | 0.25 0.75 | 1
    const w = (i: number) => Array.from(c.weights.subarray(i * c.ksize, i * c.ksize + c.count[i]!))
    expect(w(0)).toEqual([ONE])
    expect(w(1)).toEqual([0.75 * ONE, 0.25 * ONE])
    expect(w(2)).toEqual([0.25 * ONE, 0.75 * ONE])
    expect(w(3)).toEqual([ONE])
  })

  it('downscaling 4 -> 2: support scaled by 2, weights 3/7 3/7 1/7 in fixed point', () => {
    const c = computeCoeffs(4, 2)
    expect(c.ksize).toBe(5) // ceil(1 * 2) * 2 + 1
    expect(Array.from(c.start)).toEqual([0, 1])
    expect(Array.from(c.count)).toEqual([3, 3])
    const big = Math.trunc(0.5 + (3 / 7) * ONE) // 1797559
    const small = Math.trunc(0.5 + (1 / 7) * ONE) // 599186
    expect(big).toBe(1797559)
    expect(small).toBe(599186)
    expect(Array.from(c.weights.subarray(0, 3))).toEqual([big, big, small])
    expect(Array.from(c.weights.subarray(5, 8))).toEqual([small, big, big])
  })

  it('caches tables per (inSize, outSize, filter)', () => {
    clearCoeffCache()
    const a = getCoeffs(640, 224)
    expect(getCoeffs(640, 224)).toBe(a)
    expect(getCoeffs(640, 224, 'bicubic')).not.toBe(a)
    expect(getCoeffs(480, 224)).not.toBe(a)
  })

  it('rejects bad sizes', () => {
    expect(() => computeCoeffs(0, 4)).toThrow(RangeError)
    expect(() => computeCoeffs(4, 1.5)).toThrow(RangeError)
  })
})

describe('pillowResize on hand-made images', () => {
  it('2x2 -> 4x4 grey (horizontal pass, uint8 rounding, then vertical pass)', () => {
    // Horizontal: [0, 255] -> [0, 63.75, 191.25, 255] -> [0, 64, 191, 255]; row 2 mirrored.
    // Vertical on those uint8 rows: e.g. 0.75 * 64 + 0.25 * 191 = 95.75 -> 96.
    const r = pillowResize({width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 255, 255, 0])}, 4, 4)
    expect(Array.from(r.data)).toEqual([
      0, 64, 191, 255,
      64, 96, 159, 191,
      191, 159, 96, 64,
      255, 191, 64, 0,
    ])
  })

  it('4x1 -> 2x1 grey (downscale, no vertical pass)', () => {
    // (10*3 + 20*3 + 30) / 7 = 17.14 -> 17; (20 + 30*3 + 40*3) / 7 = 32.86 -> 33
    const r = pillowResize({width: 4, height: 1, channels: 1, data: Uint8Array.from([10, 20, 30, 40])}, 2, 1)
    expect(Array.from(r.data)).toEqual([17, 33])
  })

  it('4x1 -> 3x2 grey (rows are copies when upscaling a single row)', () => {
    const r = pillowResize({width: 4, height: 1, channels: 1, data: Uint8Array.from([10, 20, 30, 40])}, 3, 2)
    expect(Array.from(r.data)).toEqual([13, 25, 37, 13, 25, 37])
  })

  it('RGB channels are resampled independently', () => {
    const data = Uint8Array.from([10, 200, 0, 20, 100, 255, 30, 0, 255, 40, 50, 0])
    const r = pillowResize({width: 4, height: 1, channels: 3, data}, 2, 1)
    const grey = (i: number) => pillowResize({width: 4, height: 1, channels: 1, data: Uint8Array.from([0, 1, 2, 3], (x) => data[x * 3 + i]!)}, 2, 1).data
    expect(Array.from(r.data)).toEqual([grey(0)[0], grey(1)[0], grey(2)[0], grey(0)[1], grey(1)[1], grey(2)[1]])
  })

  it('same size is an exact copy; writes into a caller buffer', () => {
    const data = lcgBytes(5 * 4 * 3, 3)
    const out = new Uint8Array(5 * 4 * 3 + 10)
    const r = pillowResize({width: 5, height: 4, channels: 3, data}, 5, 4, {out})
    expect(r.data).toBe(out)
    expect(Array.from(out.subarray(0, data.length))).toEqual(Array.from(data))
    expect(() => pillowResize({width: 5, height: 4, channels: 3, data}, 6, 4, {out: new Uint8Array(10)})).toThrow(RangeError)
  })

  it('a constant image stays constant at any size', () => {
    const data = new Uint8Array(7 * 9 * 3).fill(173)
    for (const [w, h] of [[224, 224], [3, 2], [1, 1], [20, 5]] as const) {
      const r = pillowResize({width: 7, height: 9, channels: 3, data}, w, h)
      expect(r.data.every((v) => v === 173)).toBe(true)
    }
  })
})

// Outputs of Pillow 9.4's Image.resize on the same LCG pixels (lcgBytes(w*h*c, seed), HWC).
const PILLOW_REFERENCE: Array<{in: [number, number, number]; out: [number, number]; filter: ResampleFilter; seed: number; sha256: string}> = [
  {in: [37, 53, 3], out: [224, 224], filter: 'bilinear', seed: 21, sha256: 'ccf798ab5515d3e673fcac49dbad2f15b5941213e756dfaf95aa72c1a09ad0b5'},
  {in: [300, 7, 3], out: [224, 224], filter: 'bilinear', seed: 22, sha256: '14718f59919f92794e6789b1f25ce145096092d31e53266eefde4a51ea336c01'},
  {in: [1, 1, 3], out: [224, 224], filter: 'bilinear', seed: 23, sha256: 'ab9f18654574af3ed86a14701e91b6a6b44977523f2792d7816c75c9b0538cee'},
  {in: [50, 40, 3], out: [13, 77], filter: 'bicubic', seed: 24, sha256: 'fbccf5b1f5f96cb0778986f6149aeb2e1c569cbe0ee9aa5db2d146e335c21c1f'},
  {in: [61, 45, 1], out: [20, 90], filter: 'box', seed: 25, sha256: '921440de9bc9ea6d435bc8268098313c5e6898284c9268255fb071fb2381b1f9'},
  {in: [224, 100, 3], out: [224, 224], filter: 'bilinear', seed: 26, sha256: '3c5c9bb57985264e5c4d40909a8dd563c1ee7a0ff555be54d7d5b05dfa7510c0'},
  {in: [100, 224, 3], out: [224, 224], filter: 'bilinear', seed: 27, sha256: '9d8283d29bcd0ff3cf1bfdf7778eb21c1739a0ae4908544b1da327f0de849f43'},
  {in: [640, 480, 3], out: [224, 224], filter: 'bilinear', seed: 28, sha256: 'ab54e3199c2f3f1e72c601323a2b9ebdc546da7093df3c0ccda0d2334822e1bc'},
  {in: [97, 3, 1], out: [5, 200], filter: 'bicubic', seed: 29, sha256: '5a730ed830ae801b8a290ff0c890433d65bdd12de8069f6e4e25fb864d03e61a'},
]

describe('pillowResize against Pillow 9.4 outputs', () => {
  for (const c of PILLOW_REFERENCE) {
    it(`${c.in[0]}x${c.in[1]}x${c.in[2]} -> ${c.out[0]}x${c.out[1]} ${c.filter}`, () => {
      const [w, h, ch] = c.in
      const r = pillowResize({width: w, height: h, channels: ch, data: lcgBytes(w * h * ch, c.seed)}, c.out[0], c.out[1], {filter: c.filter})
      expect(r.data.length).toBe(c.out[0] * c.out[1] * ch)
      expect(sha256(r.data)).toBe(c.sha256)
    })
  }
})
