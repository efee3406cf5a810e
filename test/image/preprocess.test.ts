import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {pillowResize} from '../../src/image/pillow-resize.js'
import {INPUT_SIZE, PREPROCESS, preprocess, preprocessInto, preprocessRgbInto, resizeForModel} from '../../src/image/preprocess.js'
import {decodeRaw, decodeRgb} from '../../src/image/sharp.js'
import {FIXTURES, sha256} from './helpers.js'

interface Expected {
  decoded_shape: [number, number, number]
  decoded_sha256: string
  decoded_sum: number
  resized_png: string
  tensor: {shape: number[]; sum: number; abs_sum: number; first: number[]}
}

const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {images: Record<string, Expected>}
const names = Object.keys(expected.images)

function relClose(actual: number, want: number, rel = 1e-4): void {
  expect(Math.abs(actual - want)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(want)))
}

describe('official evaluation transform on the reference images', () => {
  it('has the ten reference images', () => {
    expect(names).toHaveLength(10)
  })

  for (const name of names) {
    const e = expected.images[name]!
    describe(name, () => {
      it('decodes to the same RGB pixels as Image.open(f).convert("RGB")', async () => {
        const img = await decodeRgb(join(FIXTURES, name))
        expect([img.height, img.width, 3]).toEqual(e.decoded_shape)
        expect(img.data.length).toBe(img.width * img.height * 3)
        let sum = 0
        for (const v of img.data) sum += v
        expect(sum).toBe(e.decoded_sum)
        expect(sha256(img.data)).toBe(e.decoded_sha256)
      })

      it('resizes to exactly the pixels of transforms.Resize((224, 224))', async () => {
        const img = await decodeRgb(join(FIXTURES, name))
        const ours = pillowResize({...img, channels: 3}, 224, 224)
        const ref = await decodeRaw(join(FIXTURES, e.resized_png))
        expect([ref.width, ref.height, ref.channels]).toEqual([224, 224, 3])
        expect(ours.data.length).toBe(ref.data.length)
        let diff = 0
        for (let i = 0; i < ref.data.length; i++) if (ours.data[i] !== ref.data[i]) diff++
        expect(diff).toBe(0)
        expect(Buffer.from(resizeForModel(img).data).equals(Buffer.from(ref.data))).toBe(true)
      })

      it('gives the tensor of ToTensor + Normalize', async () => {
        const t = await preprocess(join(FIXTURES, name))
        expect(t.length).toBe(e.tensor.shape.reduce((a, b) => a * b, 1))
        let sum = 0
        let abs = 0
        for (const v of t) {
          sum += v
          abs += Math.abs(v)
        }
        relClose(sum, e.tensor.sum)
        relClose(abs, e.tensor.abs_sum)
        e.tensor.first.forEach((v, i) => relClose(t[i]!, v))
      })
    })
  }
})

describe('preprocessInto', () => {
  it('fills a batch buffer at offsets, same values as one at a time', async () => {
    const n = PREPROCESS.numel
    const batch = new Float32Array(3 * n).fill(Number.NaN)
    const picks = ['wide-640x480.jpg', 'gray-120.jpg', 'small-57x75.png']
    const sizes = await Promise.all(picks.map((p, i) => preprocessInto(join(FIXTURES, p), batch, i * n)))
    expect(sizes).toEqual([{width: 640, height: 480}, {width: 120, height: 120}, {width: 57, height: 75}])
    expect(batch.some(Number.isNaN)).toBe(false)
    for (let i = 0; i < picks.length; i++) {
      const single = await preprocess(join(FIXTURES, picks[i]!))
      expect(Buffer.from(batch.buffer, i * n * 4, n * 4).equals(Buffer.from(single.buffer))).toBe(true)
    }
  })

  it('accepts the file bytes instead of a path', async () => {
    const a = await preprocess(readFileSync(join(FIXTURES, 'crop-256.jpg')))
    const b = await preprocess(join(FIXTURES, 'crop-256.jpg'))
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
  })

  it('checks the output buffer before decoding', async () => {
    await expect(preprocessInto(join(FIXTURES, 'crop-256.jpg'), new Float32Array(10), 0)).rejects.toThrow(RangeError)
    await expect(preprocessInto(join(FIXTURES, 'crop-256.jpg'), new Float32Array(PREPROCESS.numel), 1)).rejects.toThrow(RangeError)
  })

  it('preprocessRgbInto works on already decoded pixels', async () => {
    const img = await decodeRgb(join(FIXTURES, 'aligned-100.jpg'))
    const out = new Float32Array(PREPROCESS.numel + 5)
    preprocessRgbInto(img, out, 5)
    const ref = await preprocess(join(FIXTURES, 'aligned-100.jpg'))
    expect(Array.from(out.subarray(5, 25))).toEqual(Array.from(ref.subarray(0, 20)))
  })

  it('exports the model input constants', () => {
    expect(INPUT_SIZE).toBe(224)
    expect(PREPROCESS.size).toBe(224)
    expect(PREPROCESS.mean).toEqual([0.485, 0.456, 0.406])
    expect(PREPROCESS.std).toEqual([0.229, 0.224, 0.225])
    expect(PREPROCESS.numel).toBe(3 * 224 * 224)
  })
})
