/**
 * Windows (and OS/2) BMP decoding in TypeScript, pixel for pixel as Pillow 9.4's BmpImagePlugin followed by
 * `convert('RGB')` (sharp/libvips cannot read BMP at all). What Pillow 9.4 does, and so what this does:
 *
 * - Headers: the 12-byte OS/2 core header (16-bit unsigned sizes, 3-byte palette entries, always bottom-up) and
 *   the 40 (BITMAPINFOHEADER), 64 (OS/2 2.x), 108 (V4) and 124 (V5) byte headers. Others (52, 56, ...) are refused.
 * - A height is read as top-down (negative) only when its top byte is 0xff; other values are unsigned, so a
 *   nonsense height is a huge image (refused by the pixel limit). Zero width or height: not an image.
 * - 1, 4 and 8 bits per pixel use the palette (colour count from the header, else 2^bits; entries past the
 *   palette's end, or past the end of a file cut short in the palette, look up as grey (i, i, i)). Pillow reads a palette that is exactly black/white (2 colours) or the
 *   ramp 0, 1, 2, ... (any count) as mode "1" / "L", whose pixels it unpacks at 1 / 8 bits whatever the file's
 *   depth: a 4- or 8-bit file with a black/white palette is read as 1 bit per pixel, and an 8-bit-wide ramp in a
 *   1- or 4-bit file as 8 (an error when the row is too short for that). This quirk is reproduced.
 * - When the pixel-data offset is exactly 14 + header size (it forgot the palette), the palette's size in 4-byte
 *   entries is added to it; an offset of 0 means "right after the palette".
 * - 16 bits: 5-5-5 (BI_RGB) or, with BI_BITFIELDS, the 5-6-5 and 5-5-5 masks, each channel scaled by
 *   `v * 255 / max` truncated. 24 bits: BGR. 32 bits: BGRX (the fourth byte is ignored), or with BI_BITFIELDS
 *   the five byte-aligned layouts Pillow knows (alpha, if any, is dropped). Any other mask set is refused.
 * - BI_RLE8 / BI_RLE4, with Pillow 9.4's own decoder and its quirks: a delta escape skips its two bytes and takes
 *   the next two as (right, up); an absolute run of odd length in RLE4 gives one pixel less; runs are word-aligned
 *   on the file position. RLE data that stops before the image is full is an error, as in Pillow.
 * - Rows are padded to 4 bytes, but the last row's padding may be missing.
 */

import {ImageError, REASON_NOT_IMAGE, REASON_TRUNCATED, reasonTooLarge, reasonUnsupportedFormat} from './errors.js'
import type {RgbImage} from './types.js'

export interface RasterDecodeOptions {
  /** Refuse images with more pixels than this; 0 or less: no limit. */
  limitInputPixels: number
  /** Name for error messages. */
  path?: string
}

const BI_RGB = 0
const BI_RLE8 = 1
const BI_RLE4 = 2
const BI_BITFIELDS = 3

/** Pillow's unpackers ("raw modes") that a BMP can end up with. */
type RawMode = '1' | 'L' | 'P;1' | 'P;4' | 'P' | 'BGR;15' | 'BGR;16' | 'BGR' | 'BGRX' | 'XBGR' | 'ABGR' | 'RGBA' | 'BGRA'

const RAW_BITS: Record<RawMode, number> = {
  '1': 1, 'L': 8, 'P;1': 1, 'P;4': 4, 'P': 8, 'BGR;15': 16, 'BGR;16': 16, 'BGR': 24,
  'BGRX': 32, 'XBGR': 32, 'ABGR': 32, 'RGBA': 32, 'BGRA': 32,
}

/** 32-bit BI_BITFIELDS layouts Pillow 9.4 accepts: red, green, blue, alpha masks. */
const MASKS_32: ReadonlyArray<readonly [number, number, number, number, RawMode]> = [
  [0xff0000, 0xff00, 0xff, 0, 'BGRX'],
  [0xff000000, 0xff0000, 0xff00, 0, 'XBGR'],
  [0xff000000, 0xff0000, 0xff00, 0xff, 'ABGR'],
  [0xff, 0xff00, 0xff0000, 0xff000000, 'RGBA'],
  [0xff0000, 0xff00, 0xff, 0xff000000, 'BGRA'],
  [0, 0, 0, 0, 'BGRA'],
]

/** What the headers say, once checked. */
interface BmpLayout {
  width: number
  height: number
  bits: number
  topDown: boolean
  /** null: uncompressed rows; else RLE8 / RLE4. */
  rle: 'rle8' | 'rle4' | null
  raw: RawMode
  /** Pillow image mode: '1', 'L', 'P' (palette in `lut`), or RGB for the rest. */
  mode: '1' | 'L' | 'P' | 'RGB'
  /** 256 RGB entries (mode P). */
  lut: Uint8Array | null
  /** Where the pixel data starts. */
  dataStart: number
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8)
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000
}

function hex(v: number): string {
  return `0x${v.toString(16)}`
}

/** The file starts with the BMP signature "BM". */
export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d
}

function errors(path: string | undefined) {
  return {
    unsupported: (detail: string) => new ImageError('unsupported', reasonUnsupportedFormat(`bmp (${detail})`), {path}),
    truncated: () => new ImageError('truncated', REASON_TRUNCATED, {path}),
    notImage: () => new ImageError('unsupported', REASON_NOT_IMAGE, {path}),
    corrupt: (detail: string) => new ImageError('corrupt', `corrupt image: ${detail}`, {path}),
  }
}

/** Reads and checks the headers and palette (Pillow's BmpImageFile._bitmap). */
function parseLayout(buf: Uint8Array, path: string | undefined): BmpLayout {
  const err = errors(path)
  if (buf.length < 18) throw err.truncated()
  let offset = u32(buf, 10)
  const headerSize = u32(buf, 14)
  if (headerSize !== 12 && headerSize !== 40 && headerSize !== 64 && headerSize !== 108 && headerSize !== 124) {
    throw err.unsupported(`header size ${headerSize}`)
  }
  if (buf.length < 14 + headerSize) throw err.truncated()
  let pos = 14 + headerSize
  let width: number
  let height: number
  let bits: number
  let compression: number
  let colors = 0
  let topDown = false
  let paletteEntry: 3 | 4
  let masks: [number, number, number, number] = [0, 0, 0, 0]
  if (headerSize === 12) {
    width = u16(buf, 18)
    height = u16(buf, 20)
    bits = u16(buf, 24)
    compression = BI_RGB
    paletteEntry = 3
  } else {
    topDown = buf[25] === 0xff
    width = u32(buf, 18)
    height = topDown ? 2 ** 32 - u32(buf, 22) : u32(buf, 22)
    bits = u16(buf, 28)
    compression = u32(buf, 30)
    colors = u32(buf, 46)
    paletteEntry = 4
    if (compression === BI_BITFIELDS) {
      if (headerSize >= 56) {
        // Masks inside the header (V4/V5; Pillow reads the same place in a 64-byte OS/2 header).
        masks = [u32(buf, 54), u32(buf, 58), u32(buf, 62), u32(buf, 66)]
      } else {
        // A 40-byte header is followed by three masks; there is no alpha mask.
        if (buf.length < pos + 12) throw err.truncated()
        masks = [u32(buf, pos), u32(buf, pos + 4), u32(buf, pos + 8), 0]
        pos += 12
      }
    }
  }
  if (colors === 0) colors = bits < 31 ? 2 ** bits : Infinity
  if (offset === 14 + headerSize && bits <= 8) offset += 4 * colors

  let raw: RawMode
  let mode: BmpLayout['mode'] = 'RGB'
  switch (bits) {
    case 1: raw = 'P;1'; mode = 'P'; break
    case 4: raw = 'P;4'; mode = 'P'; break
    case 8: raw = 'P'; mode = 'P'; break
    case 16: raw = 'BGR;15'; break
    case 24: raw = 'BGR'; break
    case 32: raw = 'BGRX'; break
    default: throw err.unsupported(`${bits} bits per pixel`)
  }

  let rle: BmpLayout['rle'] = null
  if (compression === BI_BITFIELDS) {
    const [r, g, b, a] = masks
    const rgb = (rr: number, gg: number, bb: number) => r === rr && g === gg && b === bb
    let found: RawMode | undefined
    if (bits === 32) found = MASKS_32.find(([rr, gg, bb, aa]) => rgb(rr, gg, bb) && a === aa)?.[4]
    else if (bits === 24 && rgb(0xff0000, 0xff00, 0xff)) found = 'BGR'
    else if (bits === 16 && rgb(0xf800, 0x7e0, 0x1f)) found = 'BGR;16'
    else if (bits === 16 && rgb(0x7c00, 0x3e0, 0x1f)) found = 'BGR;15'
    if (found === undefined) {
      const shown = bits === 32 ? [r, g, b, a] : [r, g, b]
      throw err.unsupported(`${bits}-bit bitfields ${shown.map(hex).join('/')}`)
    }
    raw = found
  } else if (compression === BI_RLE8 || compression === BI_RLE4) {
    rle = compression === BI_RLE8 ? 'rle8' : 'rle4'
  } else if (compression !== BI_RGB) {
    const names: Record<number, string> = {4: 'JPEG compression', 5: 'PNG compression', 6: 'BI_ALPHABITFIELDS compression'}
    throw err.unsupported(names[compression] ?? `compression ${compression}`)
  }

  let lut: Uint8Array | null = null
  if (mode === 'P') {
    if (!(colors > 0 && colors <= 65536)) throw err.unsupported(`palette of ${colors} colours`)
    // Pillow reads what there is of the palette: a file cut short in it may still decode (when the pixel-data
    // offset points back into it), with the entries present.
    const end = Math.min(buf.length, pos + paletteEntry * colors)
    const entries = Math.floor((end - pos) / paletteEntry)
    // A palette that is exactly black/white, or the grey ramp 0, 1, 2, ..., makes Pillow read mode "1" / "L".
    let grey = true
    for (let i = 0; i < (colors === 2 ? 2 : colors) && grey; i++) {
      const v = colors === 2 ? (i === 0 ? 0 : 255) : i & 255
      const p = pos + i * paletteEntry
      grey = p + 3 <= end && buf[p] === v && buf[p + 1] === v && buf[p + 2] === v
    }
    if (grey) {
      mode = colors === 2 ? '1' : 'L'
      raw = mode
    } else {
      if (entries > 256) throw err.unsupported(`palette of ${colors} colours`)
      lut = new Uint8Array(768)
      for (let i = 0; i < 256; i++) lut[i * 3] = lut[i * 3 + 1] = lut[i * 3 + 2] = i
      for (let i = 0; i < entries; i++) {
        const p = pos + i * paletteEntry
        lut[i * 3] = buf[p + 2]!
        lut[i * 3 + 1] = buf[p + 1]!
        lut[i * 3 + 2] = buf[p]!
      }
    }
    pos = end
  }
  if (rle !== null && mode !== 'P' && mode !== 'L') {
    throw err.unsupported(`${rle.toUpperCase()} with ${mode === '1' ? 'a black-and-white palette' : `${bits} bits per pixel`}`)
  }
  return {width, height, bits, topDown, rle, raw, mode, lut, dataStart: offset === 0 ? pos : offset}
}

/** Stored size from the headers, checked as for decoding (throws ImageError). */
export function readBmpSize(buf: Uint8Array, path?: string): {width: number; height: number} {
  const l = parseLayout(buf, path)
  if (l.width === 0 || l.height === 0) throw errors(path).notImage()
  return {width: l.width, height: l.height}
}

function allocate(n: number, l: BmpLayout, limit: number, path: string | undefined): Uint8Array {
  try {
    return new Uint8Array(n)
  } catch (e) {
    throw new ImageError('too-large', reasonTooLarge(l.width, l.height, limit), {path, cause: e})
  }
}

/** Decodes a BMP file's bytes to RGB as `Image.open(f).convert('RGB')` does with Pillow 9.4. Throws ImageError. */
export function decodeBmp(buf: Uint8Array, opts: RasterDecodeOptions): RgbImage {
  const {path} = opts
  const err = errors(path)
  const l = parseLayout(buf, path)
  const {width: w, height: h} = l
  if (w === 0 || h === 0) throw err.notImage()
  if (opts.limitInputPixels > 0 && w * h > opts.limitInputPixels) {
    throw new ImageError('too-large', reasonTooLarge(w, h, opts.limitInputPixels), {path})
  }
  if (l.rle !== null) {
    const idx = decodeRle(buf, l, opts.limitInputPixels, path)
    const out = allocate(w * h * 3, l, opts.limitInputPixels, path)
    const lut = l.lut
    for (let y = 0; y < h; y++) {
      const src = (l.topDown ? y : h - 1 - y) * w
      let o = y * w * 3
      for (let x = 0; x < w; x++, o += 3) {
        const v = idx[src + x]!
        if (lut === null) {
          out[o] = out[o + 1] = out[o + 2] = v
        } else {
          out[o] = lut[v * 3]!
          out[o + 1] = lut[v * 3 + 1]!
          out[o + 2] = lut[v * 3 + 2]!
        }
      }
    }
    return {width: w, height: h, data: out}
  }

  const rowBytes = Math.ceil((w * RAW_BITS[l.raw]) / 8)
  const stride = Math.floor((w * l.bits + 31) / 32) * 4
  if (stride < rowBytes) {
    // Pillow: "codec configuration error" (a grey palette makes it unpack 8 bits per pixel from narrower rows).
    throw err.unsupported(`${l.bits}-bit pixels with a ${l.mode === '1' ? 'black-and-white' : 'grey'} palette`)
  }
  if (l.dataStart + (h - 1) * stride + rowBytes > buf.length) throw err.truncated()
  const out = allocate(w * h * 3, l, opts.limitInputPixels, path)
  for (let r = 0; r < h; r++) {
    unpackRow(buf, l.dataStart + r * stride, out, (l.topDown ? r : h - 1 - r) * w * 3, w, l.raw, l.lut)
  }
  return {width: w, height: h, data: out}
}

function unpackRow(b: Uint8Array, i: number, out: Uint8Array, o: number, w: number, raw: RawMode, lut: Uint8Array | null): void {
  const put = (r: number, g: number, bl: number) => {
    out[o] = r
    out[o + 1] = g
    out[o + 2] = bl
    o += 3
  }
  switch (raw) {
    case '1':
      for (let x = 0; x < w; x++) {
        const v = (b[i + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 255 : 0
        put(v, v, v)
      }
      return
    case 'L':
      for (let x = 0; x < w; x++) put(b[i + x]!, b[i + x]!, b[i + x]!)
      return
    case 'P;1':
    case 'P;4':
    case 'P': {
      const p = lut!
      for (let x = 0; x < w; x++) {
        let v: number
        if (raw === 'P') v = b[i + x]!
        else if (raw === 'P;4') v = (b[i + (x >> 1)]! >> (x & 1 ? 0 : 4)) & 15
        else v = (b[i + (x >> 3)]! >> (7 - (x & 7))) & 1
        put(p[v * 3]!, p[v * 3 + 1]!, p[v * 3 + 2]!)
      }
      return
    }
    case 'BGR;15':
      for (let x = 0; x < w; x++, i += 2) {
        const v = b[i]! | (b[i + 1]! << 8)
        put((((v >> 10) & 31) * 255 / 31) | 0, (((v >> 5) & 31) * 255 / 31) | 0, ((v & 31) * 255 / 31) | 0)
      }
      return
    case 'BGR;16':
      for (let x = 0; x < w; x++, i += 2) {
        const v = b[i]! | (b[i + 1]! << 8)
        put((((v >> 11) & 31) * 255 / 31) | 0, (((v >> 5) & 63) * 255 / 63) | 0, ((v & 31) * 255 / 31) | 0)
      }
      return
    case 'BGR':
      for (let x = 0; x < w; x++, i += 3) put(b[i + 2]!, b[i + 1]!, b[i]!)
      return
    case 'BGRX':
    case 'BGRA':
      for (let x = 0; x < w; x++, i += 4) put(b[i + 2]!, b[i + 1]!, b[i]!)
      return
    case 'XBGR':
    case 'ABGR':
      for (let x = 0; x < w; x++, i += 4) put(b[i + 3]!, b[i + 2]!, b[i + 1]!)
      return
    case 'RGBA':
      for (let x = 0; x < w; x++, i += 4) put(b[i]!, b[i + 1]!, b[i + 2]!)
      return
  }
}

/**
 * Pillow 9.4's BmpRleDecoder: returns width * height palette indices (or grey values) in file row order.
 * Output past the image is dropped; only the running length matters for it.
 */
function decodeRle(buf: Uint8Array, l: BmpLayout, limit: number, path: string | undefined): Uint8Array {
  const {width: w, height: h} = l
  const rle4 = l.rle === 'rle4'
  const total = w * h
  const data = allocate(total, l, limit, path)
  let n = 0 // bytes produced so far (Pillow's len(data))
  const push = (v: number) => {
    if (n < total) data[n] = v
    n++
  }
  let x = 0
  let pos = l.dataStart
  const end = buf.length
  let hitEof = false
  while (n < total) {
    if (pos + 2 > end) {
      hitEof = true
      break
    }
    let count = buf[pos]!
    const byte = buf[pos + 1]!
    pos += 2
    if (count !== 0) {
      // Encoded run, clipped to the row.
      if (x + count > w) count = Math.max(0, w - x)
      if (rle4) {
        for (let k = 0; k < count; k++) push(k % 2 === 0 ? byte >> 4 : byte & 15)
      } else {
        for (let k = 0; k < count; k++) push(byte)
      }
      x += count
    } else if (byte === 0) {
      // End of line.
      if (n % w !== 0) n += w - (n % w)
      x = 0
    } else if (byte === 1) {
      break // end of bitmap
    } else if (byte === 2) {
      // Delta: Pillow 9.4 reads two bytes, then takes the *next* two as (right, up).
      if (pos + 2 > end) {
        hitEof = true
        break
      }
      pos += 2
      if (pos + 2 > end) throw new ImageError('truncated', REASON_TRUNCATED, {path})
      n += buf[pos]! + buf[pos + 1]! * w
      pos += 2
      x = n % w
    } else {
      // Absolute run.
      const want = rle4 ? byte >> 1 : byte
      const got = Math.min(want, Math.max(0, end - pos))
      for (let k = 0; k < got; k++) {
        const v = buf[pos + k]!
        if (rle4) {
          push(v >> 4)
          push(v & 15)
        } else {
          push(v)
        }
      }
      pos += got
      if (got < want) {
        hitEof = true
        break
      }
      x += byte
      if (pos % 2 !== 0) pos += 1
    }
  }
  if (n < total) {
    // Pillow: "not enough image data".
    if (hitEof) throw new ImageError('truncated', REASON_TRUNCATED, {path})
    throw errors(path).corrupt('RLE data ends before the image does')
  }
  return data
}
