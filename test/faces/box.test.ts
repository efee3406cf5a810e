import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {cropBox, FaceBoxError, pythonRound} from '../../src/faces/box.js'
import {resizeForModel} from '../../src/image/preprocess.js'
import {decodeRgb} from '../../src/image/sharp.js'

const FIX = path.resolve(import.meta.dirname, '../fixtures')
const expected = JSON.parse(readFileSync(path.join(FIX, 'faces/pillow-crops.json'), 'utf8')) as {
  images: Record<string, Array<{box: [number, number, number, number]; size: [number, number]; crop_sha256: string; resized_sha256?: string}>>
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('cropBox: PIL Image.crop((x, y, x + w, y + h)) then Resize((224, 224))', () => {
  for (const [name, cases] of Object.entries(expected.images)) {
    it(`${name}: every box's crop and resized pixels equal Pillow's, byte for byte (${cases.length} boxes)`, async () => {
      const img = await decodeRgb(path.join(FIX, 'preprocess', name))
      for (const c of cases) {
        const [x, y, w, h] = c.box
        if (c.size[0] === 0 || c.size[1] === 0) {
          // Pillow gives an empty image that Resize cannot take: an error with the reason here.
          expect(() => cropBox(img, {x, y, w, h}), JSON.stringify(c.box)).toThrow(/zero-size face box/)
          continue
        }
        const {image} = cropBox(img, {x, y, w, h})
        expect([image.width, image.height], JSON.stringify(c.box)).toEqual(c.size)
        expect(sha(image.data), JSON.stringify(c.box)).toBe(c.crop_sha256)
        expect(sha(resizeForModel(image).data), JSON.stringify(c.box)).toBe(c.resized_sha256)
      }
    })
  }

  it("rounds as Python's round() does (halves to even)", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001, 7].map(pythonRound)).toEqual([0, 2, 2, 0, -2, 2, 3, 7])
  })

  it('refuses boxes that cannot be cropped, each with its reason', () => {
    const img = {width: 10, height: 10, data: new Uint8Array(300)}
    const reason = (box: {x: number; y: number; w: number; h: number}) => {
      try {
        cropBox(img, box)
      } catch (e) {
        expect(e).toBeInstanceOf(FaceBoxError)
        return (e as FaceBoxError).reason
      }
      return 'no error'
    }
    expect(reason({x: 1, y: 1, w: 0, h: 5})).toBe('zero-size face box 0×5 at (1, 1)')
    expect(reason({x: 1, y: 1, w: -3, h: 5})).toBe('face box has a negative size -3×5 at (1, 1)')
    expect(reason({x: NaN, y: 1, w: 3, h: 5})).toBe('face box (NaN, 1, 3, 5) is not four finite numbers')
    expect(reason({x: 0, y: 0, w: 20000, h: 20000})).toMatch(/larger than Pillow crops/)
  })
})
