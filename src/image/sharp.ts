/**
 * Everything that touches sharp (libvips) lives here, and sharp is loaded
 * lazily on first use so that CLI start-up does not pay for it.
 *
 * `decodeRgb` reproduces torchvision's default loader,
 * `PIL.Image.open(f).convert('RGB')` with Pillow 9.4, pixel for pixel:
 *  - no EXIF orientation is applied, and embedded ICC profiles are ignored;
 *  - alpha is dropped without compositing (RGBA, LA, palette or grey or RGB with tRNS);
 *  - grey and palette images are expanded to three equal / looked-up channels;
 *  - 16-bit PNG/TIFF: RGB(A) and grey+alpha keep the high byte (Pillow's
 *    `RGB;16B`, `RGBA;16B`, `LA;16B` unpackers), while 16-bit grey without an
 *    alpha channel becomes Pillow mode `I`/`I;16`, whose conversion to RGB clips
 *    to 255 (so values >= 255 become white, values below 255 are kept as is);
 *  - CMYK JPEG: the decoder undoes Adobe inversion (as libjpeg+Pillow do), then
 *    Pillow's `cmyk2rgb`: R = (255 - K) - round((255 - K) * C / 255), same for G, B;
 *  - GIF: the first frame; pixels that are transparent or outside the first
 *    frame's rectangle take the colour of palette entry `transparency` (or 0),
 *    as Pillow's palette lookup gives them;
 *  - truncated data is an error, as Pillow's "image file is truncated".
 *  - BMP and netpbm (PBM/PGM/PPM), which sharp cannot read, are recognised by
 *    their first bytes and decoded in TypeScript (bmp.ts, netpbm.ts), with
 *    Pillow 9.4's own rules.
 * Formats that Pillow 9.4 cannot open (SVG, HEIF/AVIF, ...) are refused, unless
 * `formats: 'all'` (poster predict) lets AVIF in; other Pillow-only formats
 * (ICO, TGA, PCX, ...) are not supported by sharp and are refused too.
 */

import type {Sharp, SharpOptions} from 'sharp'
import {FileTooLargeError, MAX_READ_BYTES, NotRegularFileError, readRegularFile} from '../files.js'
import {decodeBmp, isBmp, readBmpSize} from './bmp.js'
import {DecodeGate} from './decode-gate.js'
import {
  ImageError, REASON_EMPTY, REASON_NOT_IMAGE, REASON_TRUNCATED,
  reasonTooLarge, reasonUnreadable, reasonUnsupportedFormat,
} from './errors.js'
import {gifToRgb, parseGifFirstFrame, pillowGifSize} from './gif.js'
import {pillowJpegRefusal} from './jpeg-markers.js'
import {decodeNetpbm, readNetpbmSize, sniffNetpbm} from './netpbm.js'
import type {RgbImage} from './types.js'

type SharpFactory = typeof import('sharp')['default']

export {parseGifFirstFrame} from './gif.js'

/** Pillow's DecompressionBombError threshold: 2 * Image.MAX_IMAGE_PIXELS. */
export const DEFAULT_LIMIT_INPUT_PIXELS = 2 * 89_478_485

/**
 * Input formats decoded: the ones both sharp and Pillow 9.4 read, plus BMP and netpbm (PBM/PGM/PPM, reported as
 * 'ppm'), decoded in TypeScript.
 */
export const SUPPORTED_FORMATS: readonly string[] = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp', 'ppm']

/**
 * Input formats decoded with `formats: 'all'` (poster predict): the Pillow ones plus HEIF, the container of AVIF
 * (sharp's bundled libheif decodes AV1; HEVC-coded HEIC is reported as unsupported).
 */
export const ALL_FORMATS: readonly string[] = [...SUPPORTED_FORMATS, 'heif']

let sharpPromise: Promise<SharpFactory> | undefined
let pendingConfig: SharpConfig | undefined

export interface SharpConfig {
  /** libvips threads per image (sharp.concurrency); 0 = number of cores. */
  concurrency?: number
  /** libvips operation cache; off by default (one-shot decodes only grow memory). */
  cache?: boolean
}

/** Loads sharp once; the first load turns the libvips cache off. */
export function loadSharp(): Promise<SharpFactory> {
  sharpPromise ??= import('sharp').then((mod) => {
    const s = mod.default
    s.cache(pendingConfig?.cache ?? false)
    if (pendingConfig?.concurrency !== undefined) s.concurrency(pendingConfig.concurrency)
    return s
  })
  return sharpPromise
}

/** Sets sharp's thread count / cache, now if loaded, else when it loads. */
export async function configureSharp(config: SharpConfig): Promise<void> {
  pendingConfig = {...pendingConfig, ...config}
  if (sharpPromise !== undefined) {
    const s = await sharpPromise
    if (config.cache !== undefined) s.cache(config.cache)
    if (config.concurrency !== undefined) s.concurrency(config.concurrency)
  }
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default: Pillow's bomb limit, 178,956,970). */
  limitInputPixels?: number
  /** Name used in error messages when `input` is a Buffer. */
  path?: string
  /**
   * Which formats to accept: 'pillow' (default) only those Pillow 9.4 opens, so eval stays faithful to the
   * paper's loader; 'all' adds AVIF/HEIF (ALL_FORMATS), for poster predict.
   */
  formats?: 'pillow' | 'all'
  /** Refuse image files larger than this many bytes (default: imageFileLimit of the pixel limit). */
  maxFileBytes?: number
}

/**
 * The largest image file read: 1 GiB under Pillow's pixel limit (the largest 16-bit RGB image under it, stored
 * uncompressed, is 6 × 178,956,970 = 1,073,741,820 bytes, just under 2^30), what one read can hold when the pixel
 * limit is raised or off.
 */
export function imageFileLimit(limitInputPixels: number = DEFAULT_LIMIT_INPUT_PIXELS): number {
  return limitInputPixels > 0 && limitInputPixels <= DEFAULT_LIMIT_INPUT_PIXELS ? 2 ** 30 : MAX_READ_BYTES
}

/**
 * An image file's bytes: regular files only, links followed, at most `maxBytes` (a FIFO, a socket, a device such
 * as a link to /dev/zero, or a huge file is an `unreadable` ImageError, never a read that blocks or never ends).
 */
export async function readImageFile(file: string | Buffer, opts: {maxBytes?: number; path?: string} = {}): Promise<Buffer> {
  const shownPath = opts.path ?? (typeof file === 'string' ? file : undefined)
  try {
    return await readRegularFile(file, {maxBytes: opts.maxBytes ?? imageFileLimit()})
  } catch (e) {
    if (e instanceof NotRegularFileError || e instanceof FileTooLargeError) {
      throw new ImageError('unreadable', e.reason, {path: shownPath, cause: e})
    }
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO'
    throw new ImageError('unreadable', reasonUnreadable(code), {path: shownPath, cause: e})
  }
}

async function readInput(input: string | Uint8Array, path: string | undefined, maxBytes?: number): Promise<Buffer> {
  let buf: Buffer
  if (typeof input === 'string') {
    buf = await readImageFile(input, {maxBytes})
  } else {
    buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  }
  if (buf.length === 0) throw new ImageError('empty', REASON_EMPTY, {path: typeof input === 'string' ? input : path})
  return buf
}

function hasPngIend(buf: Buffer): boolean {
  // IEND chunk: length 0, type "IEND", CRC ae426082; normally the last 12 bytes.
  return buf.lastIndexOf('IEND', undefined, 'latin1') >= 0
}

/** Maps a sharp/libvips error to an ImageError with a reason a user can act on. */
function mapSharpError(e: unknown, buf: Buffer, format: string | undefined, path: string | undefined): ImageError {
  if (e instanceof ImageError) return e
  const msg = e instanceof Error ? e.message : String(e)
  const low = msg.toLowerCase()
  const opts = {path, cause: e}
  if (low.includes('unsupported image format')) return new ImageError('unsupported', REASON_NOT_IMAGE, opts)
  if (low.includes('exceeds pixel limit')) return new ImageError('too-large', 'image too large: exceeds the pixel limit', opts)
  if (low.includes('premature end') || low.includes('truncated') || low.includes('end of stream') || low.includes('unexpected end')) {
    return new ImageError('truncated', REASON_TRUNCATED, opts)
  }
  if ((format === 'png' || isPng(buf)) && !hasPngIend(buf)) return new ImageError('truncated', REASON_TRUNCATED, opts)
  if (isRiffShort(buf)) return new ImageError('truncated', REASON_TRUNCATED, opts)
  const first = msg.split('\n')[0]!.replace(/^Input (buffer|file) (has corrupt header|contains)[: ]*/i, '').trim()
  return new ImageError('corrupt', `corrupt image: ${first || 'decoder error'}`, opts)
}

/** A RIFF (WebP) file shorter than its header says. */
function isRiffShort(buf: Buffer): boolean {
  return buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.readUInt32LE(4) + 8 > buf.length
}

function isPng(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47
}

/** PNG colour type (IHDR byte 25), or -1. */
function pngColourType(buf: Buffer): number {
  return isPng(buf) && buf.length >= 26 && buf.toString('latin1', 12, 16) === 'IHDR' ? buf[25]! : -1
}

/** The format of a file decoded in TypeScript rather than by sharp, from its first bytes. */
function sniffJsFormat(buf: Buffer): 'bmp' | 'ppm' | undefined {
  if (isBmp(buf)) return 'bmp'
  if (sniffNetpbm(buf) !== 0) return 'ppm'
  return undefined
}

/** Pillow 9.4 cmyk2rgb: MULDIV255 with rounding. */
function cmykToRgb(cmyk: Uint8Array, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3)
  for (let i = 0, p = 0, o = 0; i < pixels; i++, p += channels, o += 3) {
    const nk = 255 - cmyk[p + 3]!
    for (let c = 0; c < 3; c++) {
      const t = cmyk[p + c]! * nk + 128
      out[o + c] = nk - (((t >> 8) + t) >> 8)
    }
  }
  return out
}

function baseOptions(limit: number): SharpOptions {
  return {ignoreIcc: true, failOn: 'truncated', limitInputPixels: limit, autoOrient: false, page: 0, pages: 1, sequentialRead: true}
}

/**
 * Decodes an image file (or its bytes) to 8-bit RGB exactly as
 * `PIL.Image.open(f).convert('RGB')` does. Throws ImageError.
 */
export async function decodeRgb(input: string | Uint8Array, opts: DecodeOptions = {}): Promise<RgbImage> {
  return decodeGate.run(() => decodeRgbNow(input, opts))
}

/** Every decode in the process goes through this gate, so an error's reason depends only on its own file. */
const decodeGate = new DecodeGate()

async function decodeRgbNow(input: string | Uint8Array, opts: DecodeOptions): Promise<RgbImage> {
  const path = typeof input === 'string' ? input : opts.path
  const limit = opts.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS
  const buf = await readInput(input, path, opts.maxFileBytes ?? imageFileLimit(limit))
  const js = sniffJsFormat(buf)
  if (js === 'bmp') return decodeBmp(buf, {limitInputPixels: limit, path})
  if (js === 'ppm') return decodeNetpbm(buf, {limitInputPixels: limit, path})
  const sharp = await loadSharp()
  let format: string | undefined
  try {
    const meta = await sharp(buf, {...baseOptions(limit), limitInputPixels: false}).metadata()
    format = meta.format
    if (!(opts.formats === 'all' ? ALL_FORMATS : SUPPORTED_FORMATS).includes(meta.format)) {
      throw new ImageError('unsupported', reasonUnsupportedFormat(meta.format), {path})
    }
    if (meta.format === 'jpeg') {
      // Markers after the image data that Pillow's libjpeg refuses and libvips never reads (see jpeg-markers.ts).
      const refusal = pillowJpegRefusal(buf)
      if (refusal) throw new ImageError('corrupt', refusal, {path})
    }
    if (meta.format === 'heif' && meta.compression !== undefined && meta.compression !== 'av1') {
      throw new ImageError('unsupported', reasonUnsupportedFormat(`heif (${meta.compression}; only AV1-coded AVIF is decoded)`), {path})
    }
    const gif = meta.format === 'gif' ? parseGifFirstFrame(buf) : null
    // A GIF's size is Pillow's (the logical screen, grown to hold the first frame), not libvips' (see gif.ts).
    const {width, height} = gif ? pillowGifSize(gif) : meta
    if (limit > 0 && width * height > limit) {
      throw new ImageError('too-large', reasonTooLarge(width, height, limit), {path})
    }
    const pixels = width * height
    const make = (): Sharp => sharp(buf, baseOptions(limit))

    if (meta.space === 'cmyk') {
      const {data, info} = await make().pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({resolveWithObject: true})
      return {width: info.width, height: info.height, data: cmykToRgb(data, info.width * info.height, info.channels)}
    }
    if (meta.depth === 'ushort' && (meta.space === 'grey16' || meta.space === 'b-w')) {
      const ct = pngColourType(buf)
      const realAlpha = meta.channels === 2 && (meta.format !== 'png' || ct === 4)
      if (!realAlpha) {
        // Pillow mode I / I;16 -> RGB clips each value to 0..255.
        const {data, info} = await make().extractChannel(0).toColourspace('grey16').raw({depth: 'ushort'}).toBuffer({resolveWithObject: true})
        const n = info.width * info.height
        const v = data.byteOffset % 2 === 0
          ? new Uint16Array(data.buffer, data.byteOffset, n)
          : new Uint16Array(new Uint8Array(data.buffer, data.byteOffset, n * 2).slice().buffer)
        const out = new Uint8Array(v.length * 3)
        for (let i = 0, o = 0; i < v.length; i++, o += 3) {
          const g = v[i]! > 255 ? 255 : v[i]!
          out[o] = g
          out[o + 1] = g
          out[o + 2] = g
        }
        return {width: info.width, height: info.height, data: out}
      }
    }
    if (meta.format === 'gif') {
      const {data, info} = await make().ensureAlpha().toColourspace('srgb').raw().toBuffer({resolveWithObject: true})
      if (info.channels !== 4) throw new Error(`unexpected GIF channel count ${info.channels}`)
      const size = gif ? pillowGifSize(gif) : {width: info.width, height: info.height}
      return {...size, data: gifToRgb(data, info.width, info.height, gif, size.width, size.height)}
    }
    const {data, info} = await make().removeAlpha().toColourspace('srgb').raw().toBuffer({resolveWithObject: true})
    if (info.channels !== 3 || data.length !== info.width * info.height * 3 || info.width * info.height !== pixels) {
      throw new Error(`unexpected decoder output ${info.width}x${info.height}x${info.channels}`)
    }
    return {width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length)}
  } catch (e) {
    throw mapSharpError(e, buf, format, path)
  }
}

export interface ImageSize {
  width: number
  height: number
  format: string
}

/** Stored pixel size (no EXIF orientation applied) and format, from the header only. */
export async function readImageSize(input: string | Uint8Array): Promise<ImageSize> {
  const path = typeof input === 'string' ? input : undefined
  const buf = await readInput(input, path)
  const js = sniffJsFormat(buf)
  if (js === 'bmp') return {...readBmpSize(buf, path), format: js}
  if (js === 'ppm') return {...readNetpbmSize(buf, path), format: js}
  const sharp = await loadSharp()
  try {
    const meta = await sharp(buf, {limitInputPixels: false}).metadata()
    const gif = meta.format === 'gif' ? parseGifFirstFrame(buf) : null
    return {...(gif ? pillowGifSize(gif) : {width: meta.width, height: meta.height}), format: meta.format}
  } catch (e) {
    throw mapSharpError(e, buf, undefined, path)
  }
}

/** Encodes raw interleaved 8-bit pixels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA channels) as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3): Promise<Buffer> {
  if (data.length < width * height * channels) throw new RangeError('pixel buffer is smaller than width * height * channels')
  const sharp = await loadSharp()
  return sharp(data, {raw: {width, height, channels}}).png().toBuffer()
}

/** Encodes raw RGB pixels as a baseline JPEG (4:2:0), as camera and dataset images are stored. */
export async function encodeJpeg(data: Uint8Array, width: number, height: number, quality = 90): Promise<Buffer> {
  if (data.length < width * height * 3) throw new RangeError('pixel buffer is smaller than width * height * 3')
  const sharp = await loadSharp()
  return sharp(data, {raw: {width, height, channels: 3}}).jpeg({quality}).toBuffer()
}

/** Renders an SVG to a JPEG of the given size (synthetic datasets for the demo and the benchmark). */
export async function svgToJpeg(svg: string, width: number, height: number, quality = 90): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp(Buffer.from(svg, 'utf8')).resize(width, height, {fit: 'fill'}).removeAlpha().jpeg({quality}).toBuffer()
}

/** Decodes a PNG (or any supported image) to raw pixels without conversion beyond 8 bits. */
export async function decodeRaw(input: string | Uint8Array): Promise<{width: number; height: number; channels: number; data: Uint8Array}> {
  const sharp = await loadSharp()
  const {data, info} = await sharp(input, {ignoreIcc: true, failOn: 'truncated'}).raw().toBuffer({resolveWithObject: true})
  return {width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length)}
}

export interface SvgToPngOptions {
  /** Output size; the SVG is scaled to fill it (default: the SVG's own size). */
  width?: number
  height?: number
  /** Rendering DPI (default 72). */
  density?: number
}

/** Renders an SVG document to PNG (RGBA). */
export async function svgToPng(svg: string, opts: SvgToPngOptions = {}): Promise<Buffer> {
  const sharp = await loadSharp()
  let s = sharp(Buffer.from(svg, 'utf8'), {density: opts.density ?? 72})
  if (opts.width !== undefined || opts.height !== undefined) {
    s = s.resize(opts.width, opts.height, {fit: 'fill'})
  }
  return s.png().toBuffer()
}

/**
 * Draws an SVG over an image (for `predict --overlay`) and returns a PNG.
 * The image is decoded like the model sees it (decodeRgb: no EXIF rotation,
 * alpha dropped), so SVG coordinates are stored-pixel coordinates. The SVG is
 * scaled to the image size if its own size differs.
 */
export async function compositeSvgOnImage(input: string | Uint8Array, svg: string, opts: DecodeOptions = {}): Promise<Buffer> {
  const img = await decodeRgb(input, opts)
  const sharp = await loadSharp()
  const overlay = await sharp(Buffer.from(svg, 'utf8'))
    .resize(img.width, img.height, {fit: 'fill'})
    .png()
    .toBuffer()
  return sharp(img.data, {raw: {width: img.width, height: img.height, channels: 3}})
    .composite([{input: overlay, left: 0, top: 0}])
    .png()
    .toBuffer()
}

/**
 * A small JPEG of the image as a `data:` URI for the HTML report gallery,
 * longest side at most `maxSide` (never enlarged), decoded like decodeRgb.
 */
export async function thumbnailJpegDataUri(input: string | Uint8Array, maxSide = 128, opts: DecodeOptions & {quality?: number} = {}): Promise<string> {
  const img = await decodeRgb(input, opts)
  const sharp = await loadSharp()
  const jpeg = await sharp(img.data, {raw: {width: img.width, height: img.height, channels: 3}})
    .resize(maxSide, maxSide, {fit: 'inside', withoutEnlargement: true})
    .jpeg({quality: opts.quality ?? 80})
    .toBuffer()
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`
}
