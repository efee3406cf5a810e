import {describe, expect, it} from 'vitest'

import {alignFace, applySimilarity, boxReduce, fitSimilarity, invertSimilarity, RAFDB_TEMPLATE, type Similarity} from '../../src/faces/align.js'
import {mapLandmarks} from '../../src/pipeline/inputs.js'

const rotScale = (deg: number, k: number, tx: number, ty: number): Similarity => ({
  a: k * Math.cos((deg * Math.PI) / 180),
  b: k * Math.sin((deg * Math.PI) / 180),
  tx,
  ty,
})

/** A 300×300 image whose red channel is the column, green the row (mod 256), blue 128. */
function gradient(w = 300, h = 300) {
  const data = new Uint8Array(w * h * 3)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x % 256, y % 256, 128], (y * w + x) * 3)
  return {width: w, height: h, data}
}

describe('similarity fit', () => {
  it('recovers a known rotation, scale and translation from four points exactly', () => {
    const s = rotScale(30, 1.7, 12.5, -4)
    const from = [{x: 1, y: 2}, {x: 10, y: 3}, {x: 6, y: 9}, {x: 5, y: 14}]
    const fit = fitSimilarity(from, from.map((p) => applySimilarity(s, p)))
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(s[k], 10)
    const back = invertSimilarity(fit)
    for (const p of from) {
      const q = applySimilarity(back, applySimilarity(fit, p))
      expect(q.x).toBeCloseTo(p.x, 10)
      expect(q.y).toBeCloseTo(p.y, 10)
    }
  })

  it('refuses points that coincide', () => {
    expect(() => fitSimilarity([{x: 1, y: 1}, {x: 1, y: 1}], [{x: 0, y: 0}, {x: 1, y: 1}])).toThrow(/coincide/)
  })
})

describe('alignFace', () => {
  // A face whose points are the template's, rotated by 20°, scaled by 1.25 and moved: the crop must undo exactly that.
  const size = 100
  const toImage = rotScale(20, 1.25, 90, 60)
  const template = [RAFDB_TEMPLATE.eyeR, RAFDB_TEMPLATE.eyeL, RAFDB_TEMPLATE.nose, RAFDB_TEMPLATE.mouth].map((p) => ({x: p.x * size, y: p.y * size}))
  const [eyeR, eyeL, nose, mouth] = template.map((p) => applySimilarity(toImage, p))
  const face = {eyeR: eyeR!, eyeL: eyeL!, nose: nose!, mouth: mouth!}

  it('samples each crop pixel at its centre mapped into the image (bilinear: exact on a gradient)', async () => {
    const img = gradient()
    const {image} = await alignFace(img, face, size)
    expect([image.width, image.height]).toEqual([size, size])
    let worst = 0
    for (let j = 0; j < size; j++) {
      for (let i = 0; i < size; i++) {
        const q = applySimilarity(toImage, {x: i + 0.5, y: j + 0.5})
        const o = (j * size + i) * 3
        // Pixel k holds value k at its centre k + 0.5; inside the image the bilinear value is the position itself.
        if (q.x < 1 || q.y < 1 || q.x > 255 || q.y > 255) continue
        worst = Math.max(worst, Math.abs(image.data[o]! - (q.x - 0.5)), Math.abs(image.data[o + 1]! - (q.y - 0.5)))
        expect(image.data[o + 2]).toBe(128)
      }
    }
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-9) // only rounding to 8 bits
  })

  it('is black outside the image', async () => {
    const {image} = await alignFace(gradient(60, 60), {eyeR: {x: 2, y: 2}, eyeL: {x: 12, y: 2}, nose: {x: 7, y: 8}, mouth: {x: 7, y: 12}}, size)
    expect([...image.data.subarray(0, 3)]).toEqual([0, 0, 0]) // top left of the crop lies above and left of the image
  })

  it("maps normalised crop coordinates back to the image: the template's points land on the face's", async () => {
    const {toOriginal} = await alignFace(gradient(), face, size)
    const norm = [RAFDB_TEMPLATE.eyeR, RAFDB_TEMPLATE.eyeL, RAFDB_TEMPLATE.nose, RAFDB_TEMPLATE.mouth].flatMap((p) => [p.x, p.y])
    const back = mapLandmarks(norm, toOriginal)
    const want = [face.eyeR, face.eyeL, face.nose, face.mouth].flatMap((p) => [p.x, p.y])
    back.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 9))
  })

  it('reduces a large face before sampling, so a fine pattern does not alias', async () => {
    // A 1-pixel checkerboard seen 8× smaller averages to grey; point sampling would give near black or white.
    const w = 1200
    const data = new Uint8Array(w * w * 3)
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.fill((x + y) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3)
    const big = rotScale(0, 8, 200, 200)
    const pts = template.map((p) => applySimilarity(big, p))
    const {image} = await alignFace({width: w, height: w, data}, {eyeR: pts[0]!, eyeL: pts[1]!, nose: pts[2]!, mouth: pts[3]!}, size)
    const mean = image.data.reduce((t, v) => t + v, 0) / image.data.length
    const spread = Math.max(...image.data) - Math.min(...image.data)
    expect(Math.abs(mean - 127.5)).toBeLessThan(3)
    expect(spread).toBeLessThan(40)
  })
})

describe('boxReduce', () => {
  it('each reduced pixel is the mean of its f×f source pixels, black past the image', () => {
    const w = 7
    const h = 5
    const data = new Uint8Array(w * h * 3)
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) % 251
    const img = {width: w, height: h, data}
    const f = 2
    const r = boxReduce(img, 1, 0, 6, 5, f)
    expect([r.width, r.height]).toEqual([3, 3])
    for (let v = 0; v < 3; v++)
      for (let u = 0; u < 3; u++)
        for (let c = 0; c < 3; c++) {
          let sum = 0
          for (let dy = 0; dy < f; dy++)
            for (let dx = 0; dx < f; dx++) {
              const x = 1 + u * f + dx
              const y = v * f + dy
              if (x < w && y < h) sum += data[(y * w + x) * 3 + c]!
            }
          expect(r.data[(v * 3 + u) * 3 + c]).toBeCloseTo(sum / (f * f), 4)
        }
  })
})
