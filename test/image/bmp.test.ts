/**
 * BMP decoding (src/image/bmp.ts) against Pillow 9.4's `Image.open(f).convert('RGB')`: every header, depth and
 * compression variant in test/fixtures/image-extra pixel for pixel, the 16-bit channel scaling over all 65536
 * values, the error cases, and the full preprocessing on a BMP.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {decodeBmp, isBmp, readBmpSize} from '../../src/image/bmp.js'
import {ImageError, REASON_NOT_IMAGE, REASON_TRUNCATED} from '../../src/image/errors.js'
import {preprocessInto} from '../../src/image/preprocess.js'
import {DEFAULT_LIMIT_INPUT_PIXELS, decodeRgb, encodePng, readImageSize, SUPPORTED_FORMATS} from '../../src/image/sharp.js'
import {EXTRA_FIXTURES, extraExpected, toHex} from './extra-fixtures.js'
import {lcgBytes, sha256} from './helpers.js'

const EXPECTED = Object.entries(extraExpected()).filter(([name]) => name.endsWith('.bmp'))

interface BmpSpec {
  width: number
  height: number
  bits: number
  /** Pixel array as stored (rows bottom-up unless height < 0, padded). */
  pixels: Uint8Array
  compression?: number
  colors?: number
  palette?: Uint8Array
  /** Three BI_BITFIELDS masks after a 40-byte header. */
  masks?: [number, number, number]
  /** Height as written (default: height). */
  storedHeight?: number
}

/** A BMP with a 40-byte header. */
function writeBmp(s: BmpSpec): Buffer {
  const masks = s.masks === undefined ? 0 : 12
  const palette = s.palette ?? new Uint8Array(0)
  const offset = 14 + 40 + masks + palette.length
  const b = Buffer.alloc(offset + s.pixels.length)
  b.write('BM', 0, 'latin1')
  b.writeUInt32LE(b.length, 2)
  b.writeUInt32LE(offset, 10)
  b.writeUInt32LE(40, 14)
  b.writeInt32LE(s.width, 18)
  b.writeInt32LE(s.storedHeight ?? s.height, 22)
  b.writeUInt16LE(1, 26)
  b.writeUInt16LE(s.bits, 28)
  b.writeUInt32LE(s.compression ?? 0, 30)
  b.writeUInt32LE(s.pixels.length, 34)
  b.writeUInt32LE(s.colors ?? 0, 46)
  if (s.masks !== undefined) s.masks.forEach((m, i) => b.writeUInt32LE(m, 54 + 4 * i))
  b.set(palette, 14 + 40 + masks)
  b.set(s.pixels, offset)
  return b
}

/** A random 24-bit BMP (rows padded to 4 bytes). */
function rgb24Bmp(width: number, height: number, seed: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4
  return writeBmp({width, height, bits: 24, pixels: lcgBytes(stride * height, seed)})
}

function errorOf(fn: () => unknown): ImageError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError)
    return e as ImageError
  }
  throw new Error('expected an ImageError')
}

const decode = (buf: Uint8Array, limitInputPixels = DEFAULT_LIMIT_INPUT_PIXELS) => decodeBmp(buf, {limitInputPixels, path: 'x.bmp'})

describe('BMP decoding matches Pillow 9.4 convert("RGB")', () => {
  it('has fixtures for every variant', () => {
    expect(EXPECTED.length).toBe(27)
    expect(new Set(EXPECTED.map(([, e]) => e.mode))).toEqual(new Set(['RGB', 'RGBA', 'P', 'L', '1']))
  })

  for (const [name, exp] of EXPECTED) {
    it(`${name} (Pillow mode ${exp.mode}, ${exp.width}×${exp.height})`, async () => {
      const img = await decodeRgb(join(EXTRA_FIXTURES, name))
      expect([img.width, img.height]).toEqual([exp.width, exp.height])
      expect(toHex(img.data)).toBe(exp.rgb)
      expect(await readImageSize(join(EXTRA_FIXTURES, name))).toEqual({width: exp.width, height: exp.height, format: 'bmp'})
    })
  }

  it('16-bit pixels: every 5-5-5 and 5-6-5 value scales as Pillow does (v * 255 / max, truncated)', () => {
    const pixels = new Uint8Array(65536 * 2)
    for (let v = 0; v < 65536; v++) {
      pixels[2 * v] = v & 255
      pixels[2 * v + 1] = v >> 8
    }
    // Pillow 9.4: sha256 of convert('RGB') of these 256×256 files.
    const rgb555 = decode(writeBmp({width: 256, height: 256, bits: 16, pixels}))
    expect(sha256(rgb555.data)).toBe('2b765e98ee0475aa562ccdf3db08f6cf8a0b334b0cd7271c2a3eec8af513a86f')
    const bf555 = decode(writeBmp({width: 256, height: 256, bits: 16, pixels, compression: 3, masks: [0x7c00, 0x3e0, 0x1f]}))
    expect(sha256(bf555.data)).toBe('2b765e98ee0475aa562ccdf3db08f6cf8a0b334b0cd7271c2a3eec8af513a86f')
    const bf565 = decode(writeBmp({width: 256, height: 256, bits: 16, pixels, compression: 3, masks: [0xf800, 0x7e0, 0x1f]}))
    expect(sha256(bf565.data)).toBe('ecf2fabfd005ded07dbd09ef98c17fb1b7fe3b5177f6a1e10aaf82eef9af9564')
    // Spot check: 0xffff is white; 0x7c00 (5-5-5) is pure red; 0x07e0 (5-6-5) is pure green.
    const at = (img: {data: Uint8Array}, v: number) => {
      const y = 255 - (v >> 8)
      const i = (y * 256 + (v & 255)) * 3
      return Array.from(img.data.subarray(i, i + 3))
    }
    expect(at(rgb555, 0xffff)).toEqual([255, 255, 255])
    expect(at(rgb555, 0x7c00)).toEqual([255, 0, 0])
    expect(at(bf565, 0x07e0)).toEqual([0, 255, 0])
    expect(at(bf565, 0x0021)).toEqual([0, 4, 8])
  })

  it('the last row may lack its padding (Pillow reads only the bytes it needs)', () => {
    const full = rgb24Bmp(5, 3, 7)
    const img = decode(full)
    expect(decode(full.subarray(0, full.length - 1))).toEqual(img)
    expect(errorOf(() => decode(full.subarray(0, full.length - 2))).reason).toBe(REASON_TRUNCATED)
  })

  it('sniffs the signature and reads the size from the headers', () => {
    expect(isBmp(Buffer.from('BM'))).toBe(true)
    expect(isBmp(Buffer.from('MB'))).toBe(false)
    expect(readBmpSize(rgb24Bmp(9, 4, 1))).toEqual({width: 9, height: 4})
    expect(SUPPORTED_FORMATS).toContain('bmp')
  })
})

describe('BMP errors', () => {
  it('truncated pixel array, header, masks or palette', async () => {
    const full = rgb24Bmp(5, 3, 3)
    for (const cut of [full.length - 5, 60, 54, 40, 17, 3]) {
      const e = errorOf(() => decode(full.subarray(0, cut)))
      expect([cut, e.kind, e.reason, e.path]).toEqual([cut, 'truncated', REASON_TRUNCATED, 'x.bmp'])
    }
    const e = await decodeRgb(full.subarray(0, full.length - 5), {path: 'half.bmp'}).catch((err: unknown) => err as ImageError)
    expect(e).toMatchObject({kind: 'truncated', reason: REASON_TRUNCATED, path: 'half.bmp'})
    const masks = writeBmp({width: 2, height: 1, bits: 16, pixels: new Uint8Array(4), compression: 3, masks: [0xf800, 0x7e0, 0x1f]})
    expect(errorOf(() => decode(masks.subarray(0, 60))).kind).toBe('truncated')
    const pal8 = readFileSync(join(EXTRA_FIXTURES, 'pal8.bmp'))
    expect(errorOf(() => decode(pal8.subarray(0, 300))).kind).toBe('truncated')
  })

  it('RLE data that stops early: truncated at the end of the file, corrupt at an early end-of-bitmap', () => {
    const rle8 = readFileSync(join(EXTRA_FIXTURES, 'rle8.bmp'))
    expect(errorOf(() => decode(rle8.subarray(0, rle8.length - 6))).kind).toBe('truncated')
    const palette = new Uint8Array(16 * 4).fill(90)
    const early = writeBmp({width: 4, height: 2, bits: 8, compression: 1, colors: 16, palette, pixels: Uint8Array.from([4, 1, 0, 1])})
    expect(errorOf(() => decode(early))).toMatchObject({kind: 'corrupt', reason: 'corrupt image: RLE data ends before the image does'})
  })

  it('unsupported compression, depth, header, bitfields and palette', () => {
    const base = rgb24Bmp(4, 2, 5)
    const withCompression = (c: number) => {
      const b = Buffer.from(base)
      b.writeUInt32LE(c, 30)
      return b
    }
    const cases: Array<[Buffer, string]> = [
      [withCompression(4), 'bmp (JPEG compression)'],
      [withCompression(5), 'bmp (PNG compression)'],
      [withCompression(9), 'bmp (compression 9)'],
      [withCompression(1), 'bmp (RLE8 with 24 bits per pixel)'],
      [writeBmp({width: 4, height: 1, bits: 2, pixels: new Uint8Array(4), palette: new Uint8Array(16)}), 'bmp (2 bits per pixel)'],
      [writeBmp({width: 4, height: 1, bits: 16, pixels: new Uint8Array(8), compression: 3, masks: [0xf00, 0xf0, 0xf]}),
        'bmp (16-bit bitfields 0xf00/0xf0/0xf)'],
      [writeBmp({width: 4, height: 1, bits: 32, pixels: new Uint8Array(16), compression: 3, masks: [0xff, 0xff00, 0xff0000]}),
        'bmp (32-bit bitfields 0xff/0xff00/0xff0000/0x0)'],
      [writeBmp({width: 4, height: 1, bits: 8, pixels: new Uint8Array(4), colors: 300, palette: lcgBytes(1200, 1)}), 'bmp (palette of 300 colours)'],
      // A 4-bit file whose palette is the grey ramp 0..15: Pillow unpacks 8 bits per pixel and fails.
      [writeBmp({width: 9, height: 1, bits: 4, pixels: new Uint8Array(8), colors: 16,
        palette: Uint8Array.from({length: 64}, (_, i) => (i % 4 === 3 ? 0 : i >> 2))}), 'bmp (4-bit pixels with a grey palette)'],
    ]
    const v3 = Buffer.from(base)
    v3.writeUInt32LE(56, 14)
    cases.push([v3, 'bmp (header size 56)'])
    for (const [buf, detail] of cases) {
      const e = errorOf(() => decode(buf))
      expect([e.kind, e.reason]).toEqual(['unsupported', `unsupported image format: ${detail}`])
    }
  })

  it('zero width or height: not an image (as Pillow says)', async () => {
    const e = errorOf(() => decode(writeBmp({width: 0, height: 3, bits: 24, pixels: new Uint8Array(0)})))
    expect([e.kind, e.reason]).toEqual(['unsupported', REASON_NOT_IMAGE])
  })

  it('too large: checked before the pixel data (a tiny file declaring 50000×50000)', async () => {
    const bomb = writeBmp({width: 50_000, height: 50_000, bits: 24, pixels: new Uint8Array(16)})
    const e = await decodeRgb(bomb).catch((err: unknown) => err as ImageError)
    expect(e).toMatchObject({kind: 'too-large', reason: `image too large: 50000×50000 exceeds the ${DEFAULT_LIMIT_INPUT_PIXELS}-pixel limit`})
    const small = rgb24Bmp(40, 30, 2)
    expect(errorOf(() => decode(small, 1199)).reason).toBe('image too large: 40×30 exceeds the 1199-pixel limit')
    expect(decode(small, 1200).width).toBe(40)
    // A negative height whose top byte is not 0xff is a huge unsigned height for Pillow.
    const odd = Buffer.from(small)
    odd.writeInt32LE(-0x1000000 - 30, 22)
    expect(errorOf(() => decode(odd)).kind).toBe('too-large')
    // Top-down rows when the height's top byte is 0xff.
    const topDown = Buffer.from(small)
    topDown.writeInt32LE(-30, 22)
    const a = decode(small)
    const b = decode(topDown)
    expect(toHex(b.data.subarray(0, 120))).toBe(toHex(a.data.subarray(29 * 120, 30 * 120)))
  })
})

describe('BMP through the evaluation preprocessing', () => {
  it('preprocessInto gives the same tensor for a BMP as for the same pixels in a PNG', async () => {
    const bmp = rgb24Bmp(57, 43, 11)
    const img = decode(bmp)
    const png = await encodePng(img.data, img.width, img.height)
    const size = 3 * 224 * 224
    const out = new Float32Array(2 * size)
    expect(await preprocessInto(bmp, out, 0)).toEqual({width: 57, height: 43})
    expect(await preprocessInto(png, out, size)).toEqual({width: 57, height: 43})
    expect(out.subarray(0, size)).toEqual(out.subarray(size))
    expect(out.subarray(0, size).some((v) => v !== out[0])).toBe(true)
  })
})
