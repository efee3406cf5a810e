/**
 * Generated images covering Pillow's convert('RGB') corner cases. Their
 * expected decodes (in decode.test.ts) were produced by Pillow 9.4
 * (Image.open(f).convert('RGB')), the version of the official reference.
 */

import {be16, lcgBytes, writeGif, writePng} from './helpers.js'

export interface EdgeCase {
  name: string
  bytes: Buffer
  width: number
  height: number
}

const W = 13
const H = 7

function rowsOf(bytes: Uint8Array, rowLen: number, h: number): Uint8Array[] {
  return Array.from({length: h}, (_, y) => bytes.subarray(y * rowLen, (y + 1) * rowLen))
}

function u16Samples(n: number, seed: number): number[] {
  const b = lcgBytes(n * 2, seed)
  const v: number[] = []
  for (let i = 0; i < n; i++) v.push((b[2 * i]! << 8) | b[2 * i + 1]!)
  // Include the interesting values around the 8-bit boundary.
  v.splice(0, 6, 0, 1, 254, 255, 256, 65535)
  return v
}

export function edgeCases(): EdgeCase[] {
  const cases: EdgeCase[] = []
  const add = (name: string, bytes: Buffer, width = W, height = H) => cases.push({name, bytes, width, height})

  // 16-bit grey: Pillow mode I, convert('RGB') clips at 255.
  {
    const v = u16Samples(W * H, 1)
    add('grey16.png', writePng({width: W, height: H, bitDepth: 16, colourType: 0, rows: rowsOf(be16(v), W * 2, H)}))
    // ... also with a tRNS chunk (still mode I, not LA).
    add('grey16-trns.png', writePng({width: W, height: H, bitDepth: 16, colourType: 0, rows: rowsOf(be16(v), W * 2, H), trns: be16([v[7]!])}))
  }
  // 16-bit RGB / RGBA / grey+alpha: high byte.
  add('rgb16.png', writePng({width: W, height: H, bitDepth: 16, colourType: 2, rows: rowsOf(be16(u16Samples(W * H * 3, 2)), W * 6, H)}))
  add('rgba16.png', writePng({width: W, height: H, bitDepth: 16, colourType: 6, rows: rowsOf(be16(u16Samples(W * H * 4, 3)), W * 8, H)}))
  add('la16.png', writePng({width: W, height: H, bitDepth: 16, colourType: 4, rows: rowsOf(be16(u16Samples(W * H * 2, 4)), W * 4, H)}))
  // 8-bit with alpha: alpha dropped, not composited.
  add('la8.png', writePng({width: W, height: H, bitDepth: 8, colourType: 4, rows: rowsOf(lcgBytes(W * H * 2, 5), W * 2, H)}))
  add('rgba8.png', writePng({width: W, height: H, bitDepth: 8, colourType: 6, rows: rowsOf(lcgBytes(W * H * 4, 6), W * 4, H)}))
  // Low bit depth grey is scaled to 0..255.
  {
    const idx = lcgBytes(W * H, 7)
    const rows: Uint8Array[] = []
    for (let y = 0; y < H; y++) {
      const row = new Uint8Array(Math.ceil(W / 4))
      for (let x = 0; x < W; x++) row[x >> 2]! |= (idx[y * W + x]! & 3) << (6 - 2 * (x & 3))
      rows.push(row)
    }
    add('grey2.png', writePng({width: W, height: H, bitDepth: 2, colourType: 0, rows}))
  }
  // Palette with tRNS: the palette colour, alpha dropped.
  {
    const plte = lcgBytes(16 * 3, 8)
    const idx = lcgBytes(W * H, 9)
    const rows: Uint8Array[] = []
    for (let y = 0; y < H; y++) {
      const row = new Uint8Array(Math.ceil(W / 2))
      for (let x = 0; x < W; x++) row[x >> 1]! |= (idx[y * W + x]! & 15) << (x & 1 ? 0 : 4)
      rows.push(row)
    }
    add('pal4-trns.png', writePng({width: W, height: H, bitDepth: 4, colourType: 3, rows, plte, trns: Uint8Array.from([0, 128, 255, 7])}))
  }
  // GIF: first frame only; transparent pixels and pixels outside the first
  // frame's rectangle take the colour of the transparency index (or index 0).
  {
    const pal = lcgBytes(8 * 3, 10)
    const local = lcgBytes(4 * 3, 11)
    const fw = 7
    const fh = 4
    const idx0 = Uint8Array.from(lcgBytes(fw * fh, 12), (v) => v & 7)
    idx0[0] = 3
    idx0[5] = 3
    const idx1 = Uint8Array.from(lcgBytes(W * H, 13), (v) => v & 7)
    add('frame-trns.gif', writeGif({
      screenWidth: W, screenHeight: H, globalPalette: pal, background: 5,
      frames: [
        {x: 2, y: 1, width: fw, height: fh, indices: idx0, transparency: 3},
        {x: 0, y: 0, width: W, height: H, indices: idx1},
      ],
    }))
    add('frame-opaque.gif', writeGif({
      screenWidth: W, screenHeight: H, globalPalette: pal, background: 5,
      frames: [{x: 3, y: 2, width: fw, height: fh, indices: idx0}],
    }))
    const idxL = Uint8Array.from(lcgBytes(W * H, 14), (v) => v & 3)
    add('local-palette-trns.gif', writeGif({
      screenWidth: W, screenHeight: H, globalPalette: pal,
      frames: [{x: 0, y: 0, width: W, height: H, indices: idxL, localPalette: local, transparency: 1}],
    }))
  }
  return cases
}
