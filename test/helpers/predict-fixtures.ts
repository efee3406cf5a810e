/**
 * Generated input folders for `poster predict` tests: solid-colour images in every format sharp writes, names
 * that CSV and file systems find awkward, nested folders, symlinks, and each kind of bad file. Each entry records
 * what predict must say about it (ok with the colour the model will see, or error with a reason pattern).
 */
import {mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'

import {loadSharp} from '../../src/image/sharp.js'
import {writeTinyModel, type TinyModelSpec} from './tiny-model.js'

export type Rgb = [number, number, number]

export interface Expected {
  status: 'ok' | 'error'
  /** ok: the colour the decoder gives (exact for lossless formats, read back for lossy ones). */
  rgb?: Rgb
  width?: number
  height?: number
  /** error: what the reason must say. */
  reason?: RegExp
}

export const SPEC: TinyModelSpec = {
  weights: [
    [1, 0, -1, 0.5],
    [0, 2, 0, -0.5],
    [0.5, 0, 1, 0.25],
  ],
  bias: [0.1, 0, -0.1, 0.2],
  labels: ['anger', 'joy, "big"', 'neutral', 'sad'],
  landmarks: true,
}

const made: string[] = []

export function tmpDir(prefix = 'poster-predict-'): string {
  const d = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)))
  made.push(d)
  return d
}

export function cleanupTmp(): void {
  while (made.length) rmSync(made.pop()!, {recursive: true, force: true})
}

export async function tinyModel(dir: string, spec: TinyModelSpec = SPEC): Promise<string> {
  return writeTinyModel(path.join(dir, 'tiny.onnx'), spec)
}

type Format = 'png' | 'jpeg' | 'webp' | 'tiff' | 'gif' | 'avif'

/** A solid-colour image file; lossless settings where the format has them. */
export async function solidImage(format: Format, rgb: Rgb, width: number, height: number): Promise<Buffer> {
  const sharp = await loadSharp()
  const img = sharp({create: {width, height, channels: 3, background: {r: rgb[0], g: rgb[1], b: rgb[2]}}})
  switch (format) {
    case 'png':
      return img.png().toBuffer()
    case 'jpeg':
      return img.jpeg({quality: 95}).toBuffer()
    case 'webp':
      return img.webp({lossless: true}).toBuffer()
    case 'tiff':
      return img.tiff({compression: 'lzw'}).toBuffer()
    case 'gif':
      return img.gif().toBuffer()
    case 'avif':
      return img.avif({quality: 90}).toBuffer()
  }
}

/** A two-frame GIF: the first frame is `first`, the second a different colour (predict must use the first). */
export async function animatedGif(first: Rgb, second: Rgb, width: number, height: number): Promise<Buffer> {
  const sharp = await loadSharp()
  const frame = (c: Rgb) => sharp({create: {width, height, channels: 3, background: {r: c[0], g: c[1], b: c[2]}}}).png().toBuffer()
  return sharp([await frame(first), await frame(second)], {join: {animated: true}}).gif().toBuffer()
}

/** The colour a decoder gives for a solid image (lossy formats shift it a little); checks it is uniform. */
export async function decodedColour(bytes: Buffer): Promise<Rgb> {
  const {decodeRgb} = await import('../../src/image/sharp.js')
  const img = await decodeRgb(bytes, {formats: 'all'})
  const c: Rgb = [img.data[0]!, img.data[1]!, img.data[2]!]
  for (let i = 0; i < img.data.length; i += 3) {
    if (img.data[i] !== c[0] || img.data[i + 1] !== c[1] || img.data[i + 2] !== c[2]) throw new Error('decoded image is not uniform')
  }
  return c
}

/** A 24-bit uncompressed BMP, all black (decoded by poster's own BMP reader, as Pillow reads it). */
export function bmpBytes(width: number, height: number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4
  const size = 54 + row * height
  const b = Buffer.alloc(size)
  b.write('BM', 0, 'latin1')
  b.writeUInt32LE(size, 2)
  b.writeUInt32LE(54, 10)
  b.writeUInt32LE(40, 14)
  b.writeInt32LE(width, 18)
  b.writeInt32LE(height, 22)
  b.writeUInt16LE(1, 26)
  b.writeUInt16LE(24, 28)
  b.writeUInt32LE(row * height, 34)
  return b
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(zlib.crc32(td) >>> 0)
  return Buffer.concat([len, td, crc])
}

/** A decompression bomb's header: a PNG that claims width × height pixels (only a few bytes of data). */
export function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ])
}

export interface Zoo {
  /** The folder to pass to predict (with --recursive). */
  root: string
  /** relPath (as predict writes it, given `root` as the input) → what predict must say. */
  expected: Map<string, Expected>
  /** Paths under root that must NOT appear (de-duplicated symlinks, hidden files, other extensions). */
  absent: string[]
  /** --max-pixels to use so that `too-large.png` is refused while every other image passes. */
  maxPixels: number
}

/**
 * Build the zoo under a fresh temp folder. relPaths are `${root}/...` (root is absolute, as a user would pass it).
 */
export async function makeZoo(opts: {nonUtf8?: boolean} = {}): Promise<Zoo> {
  const base = tmpDir()
  const root = path.join(base, 'in')
  const outside = path.join(base, 'outside')
  mkdirSync(root)
  mkdirSync(path.join(outside, 'linked-dir'), {recursive: true})
  const expected = new Map<string, Expected>()
  const absent: string[] = []
  const put = (rel: string, bytes: Buffer | string) => {
    const p = path.join(root, rel)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, bytes)
  }
  const ok = async (rel: string, format: Format, rgb: Rgb, w: number, h: number, lossy = false) => {
    const bytes = await solidImage(format, rgb, w, h)
    put(rel, bytes)
    expected.set(`${root}/${rel}`, {status: 'ok', rgb: lossy ? await decodedColour(bytes) : rgb, width: w, height: h})
  }
  const bad = (rel: string, bytes: Buffer | string, reason: RegExp) => {
    put(rel, bytes)
    expected.set(`${root}/${rel}`, {status: 'error', reason})
  }

  // Every format, varied sizes (landmark pixels scale with each image's own size).
  await ok('red.png', 'png', [200, 30, 40], 40, 30)
  await ok('green.WEBP', 'webp', [20, 210, 60], 32, 48)
  await ok('blue.Tiff', 'tiff', [30, 60, 220], 50, 20)
  await ok('photo.JPG', 'jpeg', [120, 90, 200], 64, 64, true)
  await ok('nested/deeper/face.avif', 'avif', [90, 160, 110], 48, 36, true)
  await ok('nested/red.png', 'png', [10, 10, 10], 24, 24) // same base name as red.png: overlay names must differ
  put('anim.gif', await animatedGif([250, 250, 0], [0, 0, 250], 30, 30))
  expected.set(`${root}/anim.gif`, {status: 'ok', rgb: [250, 250, 0], width: 30, height: 30})
  // Awkward names.
  await ok('comma,name.png', 'png', [100, 100, 100], 20, 20)
  await ok('quote"d.png', 'png', [0, 0, 0], 20, 22)
  await ok('new\nline.png', 'png', [255, 255, 255], 22, 20)
  await ok('ünï cödé 表情 😀.png', 'png', [60, 70, 80], 21, 21)
  await ok('nested/dir, with "quotes"/x.png', 'png', [1, 2, 3], 18, 19)
  if (opts.nonUtf8) {
    const bytes = await solidImage('png', [33, 66, 99], 26, 17)
    writeFileSync(Buffer.concat([Buffer.from(`${root}/latin1-`), Buffer.from([0xe9, 0xff]), Buffer.from('.png')]), bytes)
    expected.set(`${root}/latin1-\\xe9\\xff.png`, {status: 'ok', rgb: [33, 66, 99], width: 26, height: 17})
  }
  // Symlinks: a file and a folder outside the tree (listed under the link), a second link to red.png (listed once).
  writeFileSync(path.join(outside, 'target.png'), await solidImage('png', [5, 100, 250], 16, 16))
  symlinkSync(path.join(outside, 'target.png'), path.join(root, 'link-to-outside.png'))
  expected.set(`${root}/link-to-outside.png`, {status: 'ok', rgb: [5, 100, 250], width: 16, height: 16})
  writeFileSync(path.join(outside, 'linked-dir', 'inner.png'), await solidImage('png', [77, 22, 11], 19, 23))
  symlinkSync(path.join(outside, 'linked-dir'), path.join(root, 'nested', 'linked'))
  expected.set(`${root}/nested/linked/inner.png`, {status: 'ok', rgb: [77, 22, 11], width: 19, height: 23})
  symlinkSync(path.join(root, 'red.png'), path.join(root, 'zz-second-link-to-red.png'))
  absent.push(`${root}/zz-second-link-to-red.png`)
  // Not inputs at all.
  put('notes.txt', 'hello')
  put('.hidden.png', await solidImage('png', [1, 1, 1], 4, 4))
  absent.push(`${root}/notes.txt`, `${root}/.hidden.png`)

  // Bad files: each one row with status=error and a reason.
  const png = await solidImage('png', [1, 2, 3], 64, 64)
  const jpg = await solidImage('jpeg', [1, 2, 3], 64, 64)
  bad('empty.png', Buffer.alloc(0), /empty file/)
  bad('truncated.png', png.subarray(0, Math.floor(png.length / 2)), /truncated/)
  bad('truncated.jpg', jpg.subarray(0, Math.floor(jpg.length * 0.6)), /truncated/)
  bad('not-an-image.jpg', 'this is a text file, not a JPEG\n', /not an image/)
  const jpegBmp = bmpBytes(8, 8)
  jpegBmp.writeUInt32LE(4, 30) // BI_JPEG compression: a BMP Pillow cannot read either
  bad('old.BMP', jpegBmp, /unsupported image format: bmp \(JPEG compression\)/)
  bad('bomb.png', bombPng(20000, 20000), /too large/)
  bad('nested/too-large.png', await solidImage('png', [9, 9, 9], 120, 100), /too large/)
  // Unreadable even for root: reading /proc/self/mem at offset 0 fails with EIO.
  symlinkSync('/proc/self/mem', path.join(root, 'unreadable.png'))
  expected.set(`${root}/unreadable.png`, {status: 'error', reason: /cannot read file/})

  return {root, expected, absent, maxPixels: 120 * 100 - 1}
}
