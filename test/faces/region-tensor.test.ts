/**
 * The detector's input tensors: each pixel the mean of the k×k source pixels around its centre (k the rounded
 * scale), black outside the image, in [-1, 1]. Checked against a direct per-pixel computation of that rule.
 */
import {describe, expect, it} from 'vitest'

import {firstLookRegions, gridWindow, regionTensor, type Region} from '../../src/faces/detect.js'
import type {RgbImage} from '../../src/image/types.js'

function reference(img: RgbImage, region: Region, size: number): Float32Array {
  const out = new Float32Array(size * size * 3)
  const scale = region.side / size
  const k = Math.max(1, Math.round(scale))
  const half = (k - 1) / 2
  for (let j = 0; j < size; j++)
    for (let i = 0; i < size; i++) {
      const x0 = Math.round(region.x + (i + 0.5) * scale - 0.5 - half)
      const y0 = Math.round(region.y + (j + 0.5) * scale - 0.5 - half)
      for (let c = 0; c < 3; c++) {
        let sum = 0
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++) {
            const x = x0 + dx
            const y = y0 + dy
            if (x >= 0 && x < img.width && y >= 0 && y < img.height) sum += img.data[(y * img.width + x) * 3 + c]!
          }
        out[(j * size + i) * 3 + c] = sum * (1 / 127.5 / (k * k)) - 1
      }
    }
  return out
}

function noise(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3)
  let x = 12345
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    data[i] = x >>> 24
  }
  return {width, height, data}
}

describe('regionTensor', () => {
  const img = noise(97, 61)
  const cases: Array<[string, Region, number]> = [
    ['the whole image letterboxed, reduced 3×', {x: 0, y: -18, side: 97}, 32],
    ['a region inside, reduced 2.4× (k = 2)', {x: 10.3, y: 5.7, side: 38.4}, 16],
    ['a region leaving the image on every side', {x: -30, y: -40, side: 160}, 40],
    ['a region smaller than the tensor (nearest pixel)', {x: 20, y: 20, side: 12}, 32],
    ['a region wholly outside (all black)', {x: 200, y: 200, side: 50}, 10],
  ]
  for (const [what, region, size] of cases)
    it(what, () => {
      const got = regionTensor(img, region, size)
      const want = reference(img, region, size)
      expect(got).toEqual(want)
      expect(Math.min(...got)).toBeGreaterThanOrEqual(-1)
      expect(Math.max(...got)).toBeLessThanOrEqual(1)
    })
  it('is -1 (black) outside and the pixel value inside', () => {
    const t = regionTensor(img, {x: 200, y: 200, side: 50}, 10)
    expect(t.every((v) => v === -1)).toBe(true)
    const one = regionTensor(img, {x: 5, y: 7, side: 1}, 1)
    expect(Array.from(one)).toEqual([0, 1, 2].map((c) => Math.fround(img.data[(7 * 97 + 5) * 3 + c]! * (1 / 127.5) - 1)))
  })
})

describe('regionTensor on a window of the input', () => {
  const img = noise(97, 61)
  it('is the same pixels as the window of the whole tensor', () => {
    const region: Region = {x: -12.5, y: -30, side: 121}
    const size = 64
    const full = regionTensor(img, region, size)
    const window = {x: 8, y: 16, width: 40, height: 24}
    const part = regionTensor(img, region, size, window)
    expect(part).toHaveLength(40 * 24 * 3)
    for (let j = 0; j < window.height; j++) {
      const from = ((window.y + j) * size + window.x) * 3
      expect(part.subarray(j * window.width * 3, (j + 1) * window.width * 3)).toEqual(full.subarray(from, from + window.width * 3))
    }
  })
})

describe('gridWindow: the cells of the model input that hold the image', () => {
  const letterbox = (w: number, h: number): Region => firstLookRegions(w, h)[0]!
  it('leaves out whole cells of letterbox bars: a 640×480 photo at 256 is 8×6 cells, a 16:9 frame 8×5, a square one all 8×8', () => {
    expect(gridWindow({width: 640, height: 480}, letterbox(640, 480), 256)).toEqual({col: 0, row: 1, cols: 8, rows: 6})
    expect(gridWindow({width: 480, height: 640}, letterbox(480, 640), 256)).toEqual({col: 1, row: 0, cols: 6, rows: 8})
    expect(gridWindow({width: 1280, height: 720}, letterbox(1280, 720), 256)).toEqual({col: 0, row: 1, cols: 8, rows: 5})
    expect(gridWindow({width: 720, height: 1280}, letterbox(720, 1280), 128)).toEqual({col: 1, row: 0, cols: 5, rows: 8})
    expect(gridWindow({width: 300, height: 300}, letterbox(300, 300), 256)).toEqual({col: 0, row: 0, cols: 8, rows: 8})
  })
  it('keeps every input pixel that is not black: outside the window the whole tensor is -1', () => {
    let seed = 7
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const img = noise(97, 61)
    for (let t = 0; t < 200; t++) {
      const size = 64
      const side = 20 + rand() * 300
      const region = {x: -side + rand() * (97 + side), y: -side + rand() * (61 + side), side}
      const g = gridWindow(img, region, size)
      const full = regionTensor(img, region, size)
      const cell = size / 8
      for (let j = 0; j < size; j++)
        for (let i = 0; i < size; i++) {
          const inside = i >= g.col * cell && i < (g.col + g.cols) * cell && j >= g.row * cell && j < (g.row + g.rows) * cell
          if (inside) continue
          const o = (j * size + i) * 3
          // A source pixel of value 0 would also give -1; the noise image has few, so compare with the rule itself.
          if (full[o] !== -1 || full[o + 1] !== -1 || full[o + 2] !== -1) expect.fail(`pixel ${i},${j} outside ${JSON.stringify(g)} is not black (region ${JSON.stringify(region)})`)
        }
    }
  })
})
