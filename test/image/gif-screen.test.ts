/**
 * GIF logical screens as Pillow 9.4 opens them (issue 14 item 15): the image is the screen, grown to hold the first
 * frame, and that size meets the decompression-bomb check. libvips (libnsgif) replaces a "suspicious" screen (wider
 * or higher than 2048, 0, 640×480, 800×600, ...) by the frames' extent, so before this a 65535×65535 screen around
 * a 1×1 frame decoded as 1×1 where Pillow raises DecompressionBombError, and a 640×480 screen gave the frame alone.
 * Expected pixels are worked out here from the file's own palette and indices (what Pillow's palette lookup gives);
 * they were also checked against Pillow 9.4 on 300 random screens, offsets, frame counts and transparencies.
 */
import {describe, expect, it} from 'vitest'

import {DEFAULT_LIMIT_INPUT_PIXELS, decodeRgb, readImageSize} from '../../src/image/sharp.js'
import {writeGif} from './helpers.js'

/** 4 colours: 0 = (10, 20, 30), 1 = (200, 0, 0), 2 = (0, 200, 0), 3 = (0, 0, 200). */
const PALETTE = [10, 20, 30, 200, 0, 0, 0, 200, 0, 0, 0, 200]

function gif(screenWidth: number, screenHeight: number, frame: {x: number; y: number; width: number; height: number; transparency?: number}): {bytes: Buffer; indices: number[]} {
  const indices = Array.from({length: frame.width * frame.height}, (_, i) => 1 + (i % 3))
  return {bytes: writeGif({screenWidth, screenHeight, globalPalette: Uint8Array.from(PALETTE), frames: [{...frame, indices: Uint8Array.from(indices)}]}), indices}
}

/** What Pillow gives: the canvas max(screen, frame edge), the frame's colours at its place, palette entry 0 (or the transparent one) elsewhere. */
function expected(screenW: number, screenH: number, f: {x: number; y: number; width: number; height: number; transparency?: number}, indices: number[]) {
  const width = Math.max(screenW, f.x + f.width)
  const height = Math.max(screenH, f.y + f.height)
  const fill = f.transparency ?? 0
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= f.x && x < f.x + f.width && y >= f.y && y < f.y + f.height
      let idx = inside ? indices[(y - f.y) * f.width + (x - f.x)]! : fill
      if (inside && idx === f.transparency) idx = fill
      data.set(PALETTE.slice(idx * 3, idx * 3 + 3), (y * width + x) * 3)
    }
  }
  return {width, height, data}
}

describe('GIF logical screen (Pillow size and bomb check)', () => {
  it('a 65535×65535 screen around a 1×1 frame is a decompression bomb, as in Pillow (was decoded as 1×1)', async () => {
    const {bytes} = gif(65535, 65535, {x: 0, y: 0, width: 1, height: 1})
    const t0 = Date.now()
    const e = await decodeRgb(bytes).then(() => undefined, (err: unknown) => err as {kind: string; reason: string})
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(e?.kind).toBe('too-large')
    expect(e?.reason).toBe(`image too large: 65535×65535 exceeds the ${DEFAULT_LIMIT_INPUT_PIXELS}-pixel limit`)
    expect(await readImageSize(bytes)).toEqual({width: 65535, height: 65535, format: 'gif'})
  })

  const cases: Array<[string, number, number, {x: number; y: number; width: number; height: number; transparency?: number}]> = [
    ['640×480 (a screen libnsgif drops)', 640, 480, {x: 3, y: 4, width: 6, height: 5}],
    ['800×600 with a transparent index', 800, 600, {x: 0, y: 0, width: 6, height: 5, transparency: 2}],
    ['65535×1 (wide, under the limit)', 65535, 1, {x: 0, y: 0, width: 1, height: 1}],
    ['2049×10 (just past 2048)', 2049, 10, {x: 5, y: 2, width: 6, height: 5}],
    ['0×7 (no width)', 0, 7, {x: 0, y: 0, width: 6, height: 5}],
    ['1×1 with the frame at (2, 3): grown to hold it', 1, 1, {x: 2, y: 3, width: 6, height: 5}],
    ['10×10 with the frame past its edge', 10, 10, {x: 7, y: 8, width: 6, height: 5}],
    ['an ordinary 20×12 screen', 20, 12, {x: 4, y: 1, width: 6, height: 5}],
  ]
  for (const [name, sw, sh, frame] of cases) {
    it(`${name}: Pillow's size and pixels`, async () => {
      const {bytes, indices} = gif(sw, sh, frame)
      const want = expected(sw, sh, frame, indices)
      const got = await decodeRgb(bytes)
      expect([got.width, got.height]).toEqual([want.width, want.height])
      expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true)
    })
  }
})
