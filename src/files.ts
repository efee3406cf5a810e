/**
 * Files a user names, read and written safely (no imports of poster's own):
 * - reading: only regular files are read, after links are resolved, and never past a size limit. A FIFO blocks a
 *   read forever, a link to /dev/zero never ends, a socket cannot be opened: each is refused with what it is;
 * - writing: an output path is checked before a run starts (see checkOutputFile / prepareOutputDir): it must be a
 *   regular file or a path that can be created, on a file system that holds files (not /proc or /sys), and its
 *   folders are made one by one (Node's recursive mkdir loops forever under /proc).
 */
import {promises as fsp, constants as fsc, type Stats} from 'node:fs'
import * as path from 'node:path'

/** What a path that is not a regular file is, in words. */
export type SpecialKind = 'a FIFO' | 'a socket' | 'a character device' | 'a block device' | 'a folder' | 'not a regular file'

export function specialKind(st: {
  isFIFO(): boolean
  isSocket(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
  isDirectory?(): boolean
}): SpecialKind {
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isDirectory?.()) return 'a folder'
  return 'not a regular file'
}

/** The most one read holds: Node's limit for a file read into one buffer (fs.readFile refuses more). */
export const MAX_READ_BYTES = 2 ** 31 - 1

/** A named file that is not a regular file (after following links): never opened for reading. */
export class NotRegularFileError extends Error {
  override readonly name = 'NotRegularFileError'
  readonly code = 'ENOTREG'
  constructor(readonly file: string, readonly kind: SpecialKind) {
    super(`${file} is not a regular file (${kind})`)
  }
  /** The short form for CSV cells: `not a regular file (a FIFO)`. */
  get reason(): string {
    return `not a regular file (${this.kind})`
  }
}

/** A regular file larger than the reader's limit (checked before reading, and again while reading). */
export class FileTooLargeError extends Error {
  override readonly name = 'FileTooLargeError'
  readonly code = 'EFBIG'
  constructor(readonly file: string, readonly size: number, readonly limit: number) {
    super(`${file} is too large: ${sizeText(size)} exceeds the ${sizeText(limit)} limit`)
  }
  get reason(): string {
    return `file too large: ${sizeText(this.size)} exceeds the ${sizeText(this.limit)} limit`
  }
}

function sizeText(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(n % 2 ** 30 === 0 ? 0 : 2)} GiB`
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 2)} MiB`
  return `${n} bytes`
}

const shown = (file: string | Buffer): string => (typeof file === 'string' ? file : file.toString('utf8'))

/**
 * Opened for reading without blocking: O_NONBLOCK makes opening a FIFO return at once (instead of waiting for a
 * writer forever) so that fstat can tell what it is; it changes nothing for a regular file. O_NOCTTY: a terminal
 * device never becomes the controlling terminal.
 */
const READ_FLAGS = fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOCTTY ?? 0)

export interface ReadRegularOptions {
  /** Refuse files larger than this many bytes (default MAX_READ_BYTES). */
  maxBytes?: number
}

/**
 * A regular file's bytes, links followed; anything else refused before a byte is read: NotRegularFileError for
 * FIFOs, sockets, devices (a link to /dev/zero) and folders (code EISDIR, as fs.readFile says), FileTooLargeError
 * past `maxBytes` (a file that grows while read is cut off at the limit and refused too). Open errors (ENOENT,
 * EACCES, ...) are thrown as Node gives them. The type is checked on the open descriptor, so a path swapped
 * between a check and the read cannot slip through.
 */
export async function readRegularFile(file: string | Buffer, opts: ReadRegularOptions = {}): Promise<Buffer> {
  const limit = Math.min(opts.maxBytes ?? MAX_READ_BYTES, MAX_READ_BYTES)
  let handle: fsp.FileHandle
  try {
    handle = await fsp.open(file, READ_FLAGS)
  } catch (e) {
    // A socket cannot be opened at all (ENXIO); say what it is rather than the errno.
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENXIO' || code === 'EOPNOTSUPP') {
      const st = await fsp.stat(file).catch(() => undefined)
      if (st && !st.isFile()) throw new NotRegularFileError(shown(file), specialKind(st))
    }
    throw e
  }
  try {
    const st = await handle.stat()
    if (st.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${shown(file)}'`), {code: 'EISDIR', errno: -21, syscall: 'read'})
    }
    if (!st.isFile()) throw new NotRegularFileError(shown(file), specialKind(st))
    if (st.size > limit) throw new FileTooLargeError(shown(file), st.size, limit)
    return await readAll(handle, st, limit, shown(file))
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** The whole file through `handle`, at most `limit` bytes (files in /proc say size 0 and still hold bytes). */
async function readAll(handle: fsp.FileHandle, st: Stats, limit: number, name: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  let want = st.size > 0 ? st.size : 64 * 1024
  for (;;) {
    // One byte past the limit is asked for, to tell a file of exactly `limit` bytes from a longer one.
    const room = limit + 1 - total
    if (room <= 0) throw new FileTooLargeError(name, total, limit)
    const buf = Buffer.allocUnsafe(Math.min(want, room))
    let filled = 0
    while (filled < buf.length) {
      const {bytesRead} = await handle.read(buf, filled, buf.length - filled, null)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    total += filled
    if (total > limit) throw new FileTooLargeError(name, total, limit)
    chunks.push(filled === buf.length ? buf : buf.subarray(0, filled))
    if (filled < buf.length) break
    // Read as much as the size said: one small read finds the end (or bytes added since).
    want = chunks.length === 1 ? 64 * 1024 : 1024 * 1024
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)
}

/** readRegularFile as UTF-8 text. */
export async function readRegularText(file: string | Buffer, opts: ReadRegularOptions = {}): Promise<string> {
  return (await readRegularFile(file, opts)).toString('utf8')
}
