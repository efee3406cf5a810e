import {describe, expect, it} from 'vitest'
import {buildNormalizeLut, IMAGENET_MEAN, IMAGENET_STD, normalizeValue, toTensor, toTensorInto} from '../../src/image/to-tensor.js'
import {sha256} from './helpers.js'

describe('ToTensor + Normalize in float32', () => {
  it('is bit-identical to torch 1.13 for every 8-bit value of every channel', () => {
    // sha256 of the 3x256 float32 (little-endian) table computed by torchvision 0.14 /
    // torch 1.13: ToTensor()(img) then Normalize(mean, std), one channel ramp per row.
    const lut = buildNormalizeLut()
    expect(sha256(new Uint8Array(lut.buffer))).toBe('1d8b9af12b7b391827f7c801265239e21435c7e29b4d78c6189a35e437633897')
    // A few values as torch prints them.
    expect(lut[0]).toBeCloseTo(-2.117904, 6)
    expect(lut[256]).toBeCloseTo(-2.0357141, 6)
    expect(lut[512]).toBeCloseTo(-1.8044444, 6)
  })

  it('rounds to float32 at each step', () => {
    const v = 200
    const x = Math.fround(v / 255)
    const want = Math.fround(Math.fround(x - Math.fround(0.485)) / Math.fround(0.229))
    expect(normalizeValue(v, 0.485, 0.229)).toBe(want)
    // Not the same as the float64 formula rounded once, for some values.
    let differs = 0
    for (let i = 0; i < 256; i++) if (normalizeValue(i, 0.456, 0.224) !== Math.fround((i / 255 - 0.456) / 0.224)) differs++
    expect(differs).toBeGreaterThan(0)
  })

  it('writes CHW at an offset', () => {
    const w = 3
    const h = 2
    const rgb = Uint8Array.from({length: w * h * 3}, (_, i) => i * 10)
    const out = new Float32Array(4 + 3 * w * h).fill(99)
    toTensorInto(rgb, w, h, out, 4)
    expect(Array.from(out.subarray(0, 4))).toEqual([99, 99, 99, 99])
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < w * h; p++) {
        expect(out[4 + c * w * h + p]).toBe(normalizeValue(rgb[p * 3 + c]!, IMAGENET_MEAN[c]!, IMAGENET_STD[c]!))
      }
    }
    expect(Array.from(toTensor(rgb, w, h))).toEqual(Array.from(out.subarray(4)))
  })

  it('supports other mean/std and checks sizes', () => {
    const t = toTensor(Uint8Array.from([255, 0, 51]), 1, 1, {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]})
    expect(Array.from(t)).toEqual([1, -1, Math.fround(Math.fround(Math.fround(51 / 255) - 0.5) / 0.5)])
    expect(() => toTensorInto(new Uint8Array(12), 2, 2, new Float32Array(11))).toThrow(RangeError)
    expect(() => toTensorInto(new Uint8Array(11), 2, 2, new Float32Array(12))).toThrow(RangeError)
    expect(() => buildNormalizeLut([0, 0, 0], [1, 0, 1])).toThrow(RangeError)
  })
})
