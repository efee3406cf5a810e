/** Small deterministic image writers for tests (no fixtures needed). */

import {createHash} from 'node:crypto'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {deflateSync} from 'node:zlib'

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'preprocess')

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Deterministic bytes: a 32-bit LCG (Numerical Recipes constants), top byte of each state. */
export function lcgBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s >>> 24
  }
  return out
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

export interface PngSpec {
  width: number
  height: number
  bitDepth: 1 | 2 | 4 | 8 | 16
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA */
  colourType: 0 | 2 | 3 | 4 | 6
  /** Packed scanlines without filter bytes (big-endian 16-bit samples). */
  rows: Uint8Array[]
  plte?: Uint8Array
  trns?: Uint8Array
  /** Write this IDAT instead of compressing `rows` (e.g. to make a bomb). */
  idat?: Uint8Array
}

export function writePng(spec: PngSpec): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(spec.width, 0)
  ihdr.writeUInt32BE(spec.height, 4)
  ihdr[8] = spec.bitDepth
  ihdr[9] = spec.colourType
  const raw = Buffer.concat(spec.rows.flatMap((r) => [Buffer.from([0]), Buffer.from(r)]))
  const chunks = [pngChunk('IHDR', ihdr)]
  if (spec.plte) chunks.push(pngChunk('PLTE', spec.plte))
  if (spec.trns) chunks.push(pngChunk('tRNS', spec.trns))
  chunks.push(pngChunk('IDAT', spec.idat ?? deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)))
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks])
}

/** 16-bit samples, big-endian, one row. */
export function be16(values: ArrayLike<number>): Uint8Array {
  const b = Buffer.alloc(values.length * 2)
  for (let i = 0; i < values.length; i++) b.writeUInt16BE(values[i]!, i * 2)
  return b
}

export interface GifSpec {
  screenWidth: number
  screenHeight: number
  /** Global colour table, RGB triplets (length 3 * 2^k). */
  globalPalette?: Uint8Array
  background?: number
  frames: Array<{
    x: number
    y: number
    width: number
    height: number
    /** Palette indices, row-major. */
    indices: Uint8Array
    localPalette?: Uint8Array
    transparency?: number
  }>
}

function paletteBits(p: Uint8Array): number {
  const entries = p.length / 3
  const bits = Math.log2(entries)
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error('palette must have 2^k entries')
  return bits
}

/**
 * LZW with 8-bit minimum code size and a clear code every 100 literals, so that
 * every code is 9 bits wide: valid GIF, no compression, trivially correct.
 */
function lzwUncompressed(indices: Uint8Array): Uint8Array {
  const codes: number[] = [256]
  let sinceClear = 0
  for (const v of indices) {
    if (sinceClear === 100) {
      codes.push(256)
      sinceClear = 0
    }
    codes.push(v)
    sinceClear++
  }
  codes.push(257)
  const bytes: number[] = []
  let acc = 0
  let nbits = 0
  for (const c of codes) {
    acc |= c << nbits
    nbits += 9
    while (nbits >= 8) {
      bytes.push(acc & 0xff)
      acc >>>= 8
      nbits -= 8
    }
  }
  if (nbits > 0) bytes.push(acc & 0xff)
  const out: number[] = [8]
  for (let i = 0; i < bytes.length; i += 255) {
    const block = bytes.slice(i, i + 255)
    out.push(block.length, ...block)
  }
  out.push(0)
  return Uint8Array.from(out)
}

export function writeGif(spec: GifSpec): Buffer {
  const parts: number[] = [...Buffer.from('GIF89a', 'latin1')]
  const u16 = (v: number) => [v & 0xff, v >> 8]
  let flags = 0
  if (spec.globalPalette) flags = 0x80 | 0x70 | (paletteBits(spec.globalPalette) - 1)
  parts.push(...u16(spec.screenWidth), ...u16(spec.screenHeight), flags, spec.background ?? 0, 0)
  if (spec.globalPalette) parts.push(...spec.globalPalette)
  for (const f of spec.frames) {
    if (f.transparency !== undefined) parts.push(0x21, 0xf9, 4, 0x01, 10, 0, f.transparency, 0)
    let iflags = 0
    if (f.localPalette) iflags = 0x80 | (paletteBits(f.localPalette) - 1)
    parts.push(0x2c, ...u16(f.x), ...u16(f.y), ...u16(f.width), ...u16(f.height), iflags)
    if (f.localPalette) parts.push(...f.localPalette)
    parts.push(...lzwUncompressed(f.indices))
  }
  parts.push(0x3b)
  return Buffer.from(parts)
}
