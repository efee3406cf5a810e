/**
 * Netpbm (PBM / PGM / PPM) decoding in TypeScript, pixel for pixel as Pillow 9.4's PpmImagePlugin followed by
 * `convert('RGB')` (sharp's prebuilt libvips has no PPM loader). What Pillow 9.4 does, and so what this does:
 *
 * - P4 / P5 / P6 (binary) and P1 / P2 / P3 (plain text). Header tokens are separated by whitespace; a `#`
 *   comment runs to the next CR or LF and may sit inside a token (the two halves are joined). Tokens longer than
 *   10 characters are refused; numbers are Python integers (a sign and `1_000`-style underscores are accepted).
 *   Exactly one whitespace character ends the header.
 * - maxval must be 1..65535. With maxval 255 the bytes are used as they are. Otherwise each sample is rescaled:
 *   `round(v / maxval * 255)` (Python's round, half to even) for PPM and for PGM with maxval < 256, clipped at 255
 *   (binary samples may exceed maxval). A PGM with maxval > 255 becomes Pillow mode "I" with samples rescaled to
 *   0..65535 (maxval 65535: the big-endian values as stored), and "I" to RGB clips at 255, so such images come out
 *   nearly white; that is what the official loader feeds the model, so it is reproduced.
 * - Binary samples of 2 bytes (maxval > 255) are big-endian. PBM: 1 is black.
 * - Plain files are read in 1 MiB blocks, as Pillow does, with its quirks: in P1 every non-space character of a
 *   block must be 0 or 1 (even after the last pixel); in P2 / P3 a value above maxval is an error, a negative value
 *   wraps modulo 256, and when the file ends right after a number (no final newline) before the image is full, that
 *   number is repeated to fill it.
 * - Zero or negative sizes: not an image. Too little data: truncated.
 * Pillow's test-only extensions (P0CMYK, PyP, PyRGBA, PyCMYK) are not handled.
 */

import {ImageError, REASON_NOT_IMAGE, REASON_TRUNCATED, reasonTooLarge} from './errors.js'
import type {RasterDecodeOptions} from './bmp.js'
import type {RgbImage} from './types.js'

/** Pillow's ImageFile.SAFEBLOCK: the plain decoder reads this much at a time. */
const SAFEBLOCK = 1024 * 1024
const MAX_TOKEN = 10

function isWhitespace(c: number): boolean {
  // Python's b" \t\n\x0b\x0c\r" (also what bytes.split() and bytes.isspace() use).
  return c === 0x20 || (c >= 0x09 && c <= 0x0d)
}

/** The netpbm type (1..6) if the bytes start with "P1".."P6" then whitespace (or end there), else 0. */
export function sniffNetpbm(buf: Uint8Array): number {
  if (buf.length < 2 || buf[0] !== 0x50 || buf[1]! < 0x31 || buf[1]! > 0x36) return 0
  if (buf.length > 2 && !isWhitespace(buf[2]!)) return 0
  return buf[1]! - 0x30
}

interface PnmHeader {
  type: number
  width: number
  height: number
  /** 0 for bitmaps (P1, P4). */
  maxval: number
  dataStart: number
}

function errors(path: string | undefined) {
  return {
    truncated: () => new ImageError('truncated', REASON_TRUNCATED, {path}),
    corrupt: (detail: string) => new ImageError('corrupt', `corrupt image: ${detail}`, {path}),
    notImage: () => new ImageError('unsupported', REASON_NOT_IMAGE, {path}),
  }
}

/** Python's int() of a token (no whitespace in it), or undefined if it would raise. */
function pyInt(token: string): number | undefined {
  if (!/^[+-]?[0-9]+(?:_[0-9]+)*$/.test(token)) return undefined
  return Number(token.replace(/_/g, ''))
}

function parseHeader(buf: Uint8Array, path: string | undefined): PnmHeader {
  const err = errors(path)
  const type = sniffNetpbm(buf)
  if (type === 0) throw err.notImage()
  let p = Math.min(3, buf.length) // the magic and the whitespace after it
  const readToken = (): number => {
    let token = ''
    while (token.length <= MAX_TOKEN) {
      if (p >= buf.length) break
      const c = buf[p++]!
      if (isWhitespace(c)) {
        if (token === '') continue
        break
      }
      if (c === 0x23) {
        // '#': skip to CR, LF or the end; the token goes on after it.
        while (p < buf.length) {
          const d = buf[p++]!
          if (d === 0x0a || d === 0x0d) break
        }
        continue
      }
      token += String.fromCharCode(c)
    }
    if (token === '') throw err.truncated()
    if (token.length > MAX_TOKEN) throw err.corrupt('header token too long')
    const v = pyInt(token)
    if (v === undefined) throw err.corrupt('invalid number in header')
    return v
  }
  const width = readToken()
  const height = readToken()
  let maxval = 0
  if (type !== 1 && type !== 4) {
    maxval = readToken()
    if (!(maxval > 0 && maxval < 65536)) throw err.corrupt(`maxval ${maxval} is not in 1..65535`)
  }
  return {type, width, height, maxval, dataStart: p}
}

/** Stored size from the header, checked as for decoding (throws ImageError). */
export function readNetpbmSize(buf: Uint8Array, path?: string): {width: number; height: number} {
  const h = parseHeader(buf, path)
  if (h.width <= 0 || h.height <= 0) throw errors(path).notImage()
  return {width: h.width, height: h.height}
}

/** Python's round() of a float: half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x)
  const d = x - f
  if (d > 0.5) return f + 1
  if (d < 0.5) return f
  return f % 2 === 0 ? f : f + 1
}

/** Decodes a PBM/PGM/PPM file's bytes to RGB as `Image.open(f).convert('RGB')` does with Pillow 9.4. */
export function decodeNetpbm(buf: Uint8Array, opts: RasterDecodeOptions): RgbImage {
  const {path} = opts
  const err = errors(path)
  const hd = parseHeader(buf, path)
  const {type, width: w, height: h, maxval} = hd
  if (w <= 0 || h <= 0) throw err.notImage()
  if (opts.limitInputPixels > 0 && w * h > opts.limitInputPixels) {
    throw new ImageError('too-large', reasonTooLarge(w, h, opts.limitInputPixels), {path})
  }
  const bands = type === 3 || type === 6 ? 3 : 1
  // Pillow mode "I" (PGM with maxval > 255): samples are 0..65535, clipped at 255 when converted to RGB.
  const modeI = bands === 1 && maxval > 255
  const start = hd.dataStart
  const have = buf.length - start

  const total = w * h * bands
  const alloc = (n: number): Uint8Array => {
    try {
      return new Uint8Array(n)
    } catch (e) {
      throw new ImageError('too-large', reasonTooLarge(w, h, opts.limitInputPixels), {path, cause: e})
    }
  }
  const bytesPer = maxval < 256 ? 1 : 2
  const rowBytes = Math.ceil(w / 8)
  // Binary data shorter than the header says: truncated (checked before allocating anything).
  if ((type === 4 && have < rowBytes * h) || ((type === 5 || type === 6) && have < total * bytesPer)) throw err.truncated()
  const samples = alloc(total)

  if (type === 4) {
    for (let y = 0, i = 0; y < h; y++) {
      const row = start + y * rowBytes
      for (let x = 0; x < w; x++) samples[i++] = (buf[row + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 0 : 255
    }
  } else if (type === 5 || type === 6) {
    if (maxval === 255) {
      samples.set(buf.subarray(start, start + total))
    } else if (maxval === 65535 && modeI) {
      // Raw "I;16B": the value as stored, then clipped.
      for (let i = 0, q = start; i < total; i++, q += 2) {
        const v = (buf[q]! << 8) | buf[q + 1]!
        samples[i] = v > 255 ? 255 : v
      }
    } else {
      const outMax = modeI ? 65535 : 255
      for (let i = 0, q = start; i < total; i++, q += bytesPer) {
        const v = bytesPer === 1 ? buf[q]! : (buf[q]! << 8) | buf[q + 1]!
        const s = Math.min(outMax, roundHalfEven((v / maxval) * outMax))
        samples[i] = s > 255 ? 255 : s
      }
    }
  } else {
    new PlainReader(buf, start, path).decode(type, maxval, modeI, samples)
  }

  const out = bands === 3 ? samples : alloc(w * h * 3)
  if (bands === 1) {
    for (let i = 0, o = 0; i < samples.length; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = samples[i]!
  }
  return {width: w, height: h, data: out}
}

/** Pillow 9.4's PpmPlainDecoder, block by block so that its quirks come out the same. */
class PlainReader {
  private pos: number
  private commentSpans = false

  constructor(private readonly buf: Uint8Array, start: number, private readonly path: string | undefined) {
    this.pos = start
  }

  private readBlock(): Uint8Array {
    const end = Math.min(this.buf.length, this.pos + SAFEBLOCK)
    const b = this.buf.subarray(this.pos, end)
    this.pos = end
    return b
  }

  /** Pillow's _find_comment_end (with its quirk: an LF or CR at index 0 counts only if the other is absent). */
  private static commentEnd(block: Uint8Array, start: number): number {
    const a = block.indexOf(0x0a, start)
    const b = block.indexOf(0x0d, start)
    return a * b > 0 ? Math.min(a, b) : Math.max(a, b)
  }

  private ignoreComments(block: Uint8Array): Uint8Array {
    if (this.commentSpans) {
      while (block.length > 0) {
        const end = PlainReader.commentEnd(block, 0)
        if (end !== -1) {
          block = block.subarray(end + 1)
          break
        }
        block = this.readBlock()
      }
    }
    this.commentSpans = false
    if (block.indexOf(0x23) === -1) return block
    // Drop each "#..." up to and including its CR/LF; a comment without one runs into the next block.
    const parts: Uint8Array[] = []
    let i = 0
    for (;;) {
      const s = block.indexOf(0x23, i)
      if (s === -1) {
        parts.push(block.subarray(i))
        break
      }
      parts.push(block.subarray(i, s))
      const e = PlainReader.commentEnd(block, s)
      if (e === -1) {
        this.commentSpans = true
        break
      }
      i = e + 1
    }
    return concat(parts)
  }

  decode(type: number, maxval: number, modeI: boolean, out: Uint8Array): void {
    const total = out.length
    let n = 0
    const corrupt = (detail: string) => new ImageError('corrupt', `corrupt image: ${detail}`, {path: this.path})
    if (type === 1) {
      while (n !== total) {
        let block = this.readBlock()
        if (block.length === 0) break
        block = this.ignoreComments(block)
        let ok = true
        for (const c of block) if (!isWhitespace(c) && c !== 0x30 && c !== 0x31) ok = false
        if (!ok) throw corrupt('invalid character in PBM data')
        for (const c of block) {
          if (n === total) break
          if (c === 0x30) out[n++] = 255
          else if (c === 0x31) out[n++] = 0
        }
      }
    } else {
      const outMax = modeI ? 65535 : 255
      let half: Uint8Array | null = null
      while (n !== total) {
        let block = this.readBlock()
        if (block.length === 0) {
          if (half === null) break
          block = Uint8Array.of(0x20) // flush the last number (Pillow keeps it, and repeats it while data is short)
        }
        block = this.ignoreComments(block)
        if (half !== null) block = concat([half, block])
        const tokens = splitTokens(block)
        if (block.length > 0 && !isWhitespace(block[block.length - 1]!)) {
          half = tokens.pop()!
          if (half.length > MAX_TOKEN) throw corrupt('number too long in data')
        }
        for (const t of tokens) {
          if (t.length > MAX_TOKEN) throw corrupt('number too long in data')
          const v = pyInt(String.fromCharCode(...t))
          if (v === undefined) throw corrupt('invalid number in data')
          if (v > maxval) throw corrupt(`sample ${v} above maxval ${maxval}`)
          const s = roundHalfEven((v / maxval) * outMax)
          if (modeI) {
            if (s < 0) throw corrupt('negative sample')
            out[n++] = s > 255 ? 255 : s
          } else {
            out[n++] = s & 255
          }
          if (n === total) break
        }
      }
    }
    if (n !== total) throw new ImageError('truncated', REASON_TRUNCATED, {path: this.path})
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function splitTokens(block: Uint8Array): Uint8Array[] {
  const tokens: Uint8Array[] = []
  let i = 0
  while (i < block.length) {
    while (i < block.length && isWhitespace(block[i]!)) i++
    if (i >= block.length) break
    const s = i
    while (i < block.length && !isWhitespace(block[i]!)) i++
    tokens.push(block.subarray(s, i))
  }
  return tokens
}
