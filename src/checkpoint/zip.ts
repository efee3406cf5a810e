/**
 * A minimal zip reader for torch.save archives: central directory (zip64 aware), stored and deflated
 * records, each record read in place through a file handle into a buffer of exactly its size.
 */
import type {FileHandle} from 'node:fs/promises'
import {inflateRawSync} from 'node:zlib'
import {CheckpointError} from './errors.js'

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_ZIP64_EOCD = 0x06064b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_DESCRIPTOR = 0x08074b50

export interface ZipEntry {
  name: string
  /** 0 stored, 8 deflated. */
  method: number
  flags: number
  compressedSize: number
  size: number
  localHeaderOffset: number
}

/** The most bytes one fs read asks for: node's fs.read takes a 32-bit length (2 GiB or more aborts the process). */
const MAX_READ = 1 << 30

/** Reads exactly `length` bytes at `position` into a new, 8-byte aligned buffer; short reads are errors. */
export async function readExactly(fh: FileHandle, position: number, length: number, what: () => string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(position) || position < 0) {
    throw new CheckpointError('corrupt', `${what()} has an impossible position or size (${length} bytes at offset ${position})`)
  }
  const out = new Uint8Array(new ArrayBuffer(length))
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(out, done, Math.min(length - done, MAX_READ), position + done)
    if (bytesRead === 0) {
      throw new CheckpointError('truncated', `the file is truncated: ${what()} needs bytes ${position}–${position + length} but the file ends at ${position + done}`)
    }
    done += bytesRead
  }
  return out
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8)
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
}
function u64(b: Uint8Array, o: number): number {
  const v = u32(b, o) + u32(b, o + 4) * 0x1_0000_0000
  if (!Number.isSafeInteger(v)) throw new CheckpointError('corrupt', 'zip archive: a 64-bit size or offset is out of range')
  return v
}

const utf8 = new TextDecoder('utf-8')

/** Deflate's largest possible expansion (258-byte matches of 1-2 bits each). */
const MAX_DEFLATE_RATIO = 1032

/**
 * What one archive may inflate in all: a floor plus a multiple of the file's size. torch.save stores its records
 * uncompressed, and weights re-zipped with deflate shrink by a few percent, not sixteen times.
 */
export const INFLATE_FLOOR = 64 * 2 ** 20
export const INFLATE_PER_BYTE = 16

export class ZipArchive {
  /** Bytes inflated so far (declared sizes, counted before inflating). */
  private inflated = 0
  readonly inflateBudget: number

  private constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly entries: Map<string, ZipEntry>,
  ) {
    this.inflateBudget = INFLATE_FLOOR + INFLATE_PER_BYTE * fileSize
  }

  /** Reads the central directory. Throws a 'truncated' CheckpointError naming the cut record when it is missing. */
  static async open(fh: FileHandle, fileSize: number): Promise<ZipArchive> {
    const tailLen = Math.min(fileSize, 22 + 0xffff)
    const tailStart = fileSize - tailLen
    const tail = await readExactly(fh, tailStart, tailLen, () => 'the zip end record')
    let eocd = -1
    for (let i = tailLen - 22; i >= 0; i--) {
      if (u32(tail, i) === SIG_EOCD && i + 22 + u16(tail, i + 20) <= tailLen) {
        eocd = i
        break
      }
    }
    if (eocd < 0) throw await diagnoseTruncation(fh, fileSize)

    let count = u16(tail, eocd + 10)
    let cdSize = u32(tail, eocd + 12)
    let cdOffset = u32(tail, eocd + 16)
    const eocdAbs = tailStart + eocd
    if (eocdAbs >= 20) {
      const loc = await readExactly(fh, eocdAbs - 20, 20, () => 'the zip64 locator')
      if (u32(loc, 0) === SIG_ZIP64_LOCATOR) {
        const z64Offset = u64(loc, 8)
        const z = await readExactly(fh, z64Offset, 56, () => 'the zip64 end record')
        if (u32(z, 0) !== SIG_ZIP64_EOCD) throw new CheckpointError('corrupt', `zip archive: bad zip64 end record at offset ${z64Offset}`)
        count = u64(z, 32)
        cdSize = u64(z, 40)
        cdOffset = u64(z, 48)
      }
    }
    if (cdOffset + cdSize > fileSize) {
      throw new CheckpointError('truncated', `the file is truncated or damaged: the zip central directory (bytes ${cdOffset}–${cdOffset + cdSize}) lies past the end of the file (${fileSize} bytes)`)
    }
    const cd = await readExactly(fh, cdOffset, cdSize, () => 'the zip central directory')
    const entries = new Map<string, ZipEntry>()
    let p = 0
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || u32(cd, p) !== SIG_CENTRAL) {
        throw new CheckpointError('corrupt', `zip archive: central directory entry ${i} of ${count} is damaged (offset ${cdOffset + p})`)
      }
      const flags = u16(cd, p + 8)
      const method = u16(cd, p + 10)
      let compressedSize = u32(cd, p + 20)
      let size = u32(cd, p + 24)
      const nameLen = u16(cd, p + 28)
      const extraLen = u16(cd, p + 30)
      const commentLen = u16(cd, p + 32)
      let localHeaderOffset = u32(cd, p + 42)
      const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen))
      // zip64 extended information: the 64-bit values of the fields that are saturated, in this order.
      let e = p + 46 + nameLen
      const eEnd = e + extraLen
      while (e + 4 <= eEnd) {
        const id = u16(cd, e)
        const len = u16(cd, e + 2)
        if (id === 0x0001) {
          let q = e + 4
          if (size === 0xffffffff) (size = u64(cd, q)), (q += 8)
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8)
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q)
        }
        e += 4 + len
      }
      entries.set(name, {name, method, flags, compressedSize, size, localHeaderOffset})
      p = eEnd + commentLen
    }
    return new ZipArchive(fh, fileSize, entries)
  }

  /** Offset of the record's data, after its local header. */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const what = () => `record '${entry.name}' (local header at offset ${entry.localHeaderOffset})`
    const h = await readExactly(this.fh, entry.localHeaderOffset, 30, what)
    if (u32(h, 0) !== SIG_LOCAL) throw new CheckpointError('corrupt', `zip archive: ${what()} is damaged`)
    const start = entry.localHeaderOffset + 30 + u16(h, 26) + u16(h, 28)
    if (start + entry.compressedSize > this.fileSize) {
      throw new CheckpointError('truncated', `the file is truncated: ${what()} holds ${entry.compressedSize} bytes from offset ${start}, past the end of the file (${this.fileSize} bytes)`)
    }
    return start
  }

  /** The record's bytes, in a new buffer of exactly its size (8-byte aligned, so typed arrays can view it). */
  async read(entry: ZipEntry): Promise<Uint8Array> {
    const start = await this.dataOffset(entry)
    const what = () => `record '${entry.name}'`
    if (entry.method === 0) {
      // A stored record holds exactly its bytes: a larger "uncompressed size" is a damaged or forged header.
      if (entry.size !== entry.compressedSize) {
        throw new CheckpointError(
          'corrupt',
          `zip archive: ${what()} is stored uncompressed, so its two sizes must agree, but the central directory declares ` +
            `${entry.size} bytes uncompressed and ${entry.compressedSize} bytes stored`,
        )
      }
      return readExactly(this.fh, start, entry.size, what)
    }
    if (entry.method === 8) {
      const {size, compressedSize} = entry
      if (size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
        throw new CheckpointError(
          'corrupt',
          `zip archive: ${what()} declares ${size} bytes decompressed from ${compressedSize} bytes, which deflate cannot do ` +
            `(it expands data at most ${MAX_DEFLATE_RATIO} times)`,
        )
      }
      if (this.inflated + size > this.inflateBudget) {
        throw new CheckpointError(
          'limit',
          `zip archive: ${what()} declares ${size} bytes decompressed from ${compressedSize}: more than this reader inflates from a ` +
            `${this.fileSize}-byte file (${this.inflateBudget} bytes in all: ${INFLATE_FLOOR} + ${INFLATE_PER_BYTE} per byte of file` +
            `${this.inflated > 0 ? `, ${this.inflated} already inflated` : ''}); a zip bomb, or a checkpoint compressed far beyond what weights allow`,
        )
      }
      this.inflated += size
      const packed = await readExactly(this.fh, start, compressedSize, what)
      let out: Uint8Array
      try {
        // Stops as soon as the output passes the declared size: nothing beyond it is ever inflated.
        out = inflateRawSync(packed, {maxOutputLength: Math.max(1, size), ...(size > 1 << 20 ? {chunkSize: 1 << 20} : {})})
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new CheckpointError('corrupt', `zip archive: ${what()} decompresses to more than the ${size} bytes it declares`, {cause: err})
        }
        throw new CheckpointError('corrupt', `zip archive: ${what()} does not decompress (${(err as Error).message})`, {cause: err})
      }
      if (out.length !== size) throw new CheckpointError('corrupt', `zip archive: ${what()} decompresses to ${out.length} bytes, expected ${size}`)
      // A buffer of its own, 8-byte aligned (small zlib outputs are views of a shared pool).
      if (out.byteOffset !== 0 || out.buffer.byteLength !== out.length) out = new Uint8Array(out)
      return out
    }
    throw new CheckpointError('unsupported', `zip archive: ${what()} uses compression method ${entry.method}; only stored and deflated records are supported`)
  }
}

/**
 * The archive has no end-of-central-directory record: walk the local records from the start to say
 * how far the file is intact and which record is cut.
 */
async function diagnoseTruncation(fh: FileHandle, fileSize: number): Promise<CheckpointError> {
  const complete: string[] = []
  let pos = 0
  let cut: string | undefined
  while (pos + 4 <= fileSize) {
    const h = await readAtMost(fh, pos, 30)
    const sig = h.length >= 4 ? u32(h, 0) : 0
    if (sig !== SIG_LOCAL) {
      if (sig === SIG_CENTRAL) cut = `the central directory starting at offset ${pos} is cut short`
      break
    }
    if (h.length < 30) {
      cut = `the header of record ${complete.length + 1} at offset ${pos} is cut short`
      break
    }
    const flags = u16(h, 6)
    const compressed = u32(h, 18)
    const nameLen = u16(h, 26)
    const nameBytes = await readAtMost(fh, pos + 30, nameLen)
    const name = utf8.decode(nameBytes)
    const dataStart = pos + 30 + nameLen + u16(h, 28)
    if (dataStart > fileSize) {
      cut = `the header of record '${name}' at offset ${pos} is cut short`
      break
    }
    let next: number
    if (flags & 0x08 && compressed === 0) {
      const end = await findDescriptor(fh, dataStart, fileSize)
      if (end < 0) {
        cut = `record '${name}' (data from offset ${dataStart}) is cut short`
        break
      }
      next = end
    } else {
      next = dataStart + compressed
      if (next > fileSize) {
        cut = `record '${name}' needs ${compressed} bytes from offset ${dataStart} but only ${fileSize - dataStart} remain`
        break
      }
    }
    complete.push(name)
    pos = next
  }
  const start = `the file is truncated (${fileSize} bytes): its zip archive has no end-of-central-directory record`
  if (complete.length === 0 && cut === undefined) {
    return new CheckpointError('corrupt', `${start}, and no readable record at its start`)
  }
  const intact = complete.length
    ? `; ${complete.length} ${complete.length === 1 ? 'record is' : 'records are'} complete, the last one '${complete[complete.length - 1]}'`
    : ''
  return new CheckpointError('truncated', `${start}${intact}; ${cut ?? `the central directory at offset ${pos} is missing`}`)
}

async function readAtMost(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(out, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return out.subarray(0, done)
}

/** Finds the data descriptor that closes a record whose data starts at `dataStart`; returns the offset after it, or -1. */
async function findDescriptor(fh: FileHandle, dataStart: number, fileSize: number): Promise<number> {
  const CHUNK = 1 << 20
  for (let base = dataStart; base < fileSize; base += CHUNK) {
    const buf = await readAtMost(fh, base, Math.min(CHUNK + 24, fileSize - base))
    const limit = Math.min(buf.length - 4, CHUNK - 1)
    for (let i = 0; i <= limit; i++) {
      if (buf[i] !== 0x50 || u32(buf, i) !== SIG_DESCRIPTOR) continue
      const at = base + i
      const len = at - dataStart
      if (i + 16 <= buf.length && u32(buf, i + 8) === len) return at + 16
      if (i + 24 <= buf.length && u32(buf, i + 8) + u32(buf, i + 12) * 0x1_0000_0000 === len) return at + 24
    }
  }
  return -1
}
