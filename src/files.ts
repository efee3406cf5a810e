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
 * Opens a file for reading only if it is a regular file (links followed): opened without blocking (a FIFO with no
 * writer would block the open itself forever), then checked on the handle, so nothing can swap the file between
 * the check and the read. A folder gives EISDIR, anything else NotRegularFileError.
 */
export async function openRegularFile(file: string | Buffer): Promise<{handle: fsp.FileHandle; stats: Stats}> {
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
    const stats = await handle.stat()
    if (stats.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${shown(file)}'`), {code: 'EISDIR', errno: -21, syscall: 'read'})
    }
    if (!stats.isFile()) throw new NotRegularFileError(shown(file), specialKind(stats))
    return {handle, stats}
  } catch (e) {
    await handle.close().catch(() => undefined)
    throw e
  }
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
  const {handle, stats: st} = await openRegularFile(file)
  try {
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

/**
 * Kernel file systems that hold no files of a user's (statfs f_type): writing there fails in odd ways, and Node's
 * recursive mkdir loops forever under /proc (mkdir says ENOENT, the parent exists, and it tries again).
 */
const PSEUDO_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs (/proc)'],
  [0x62656572, 'sysfs (/sys)'],
  [0x63677270, 'cgroup2'],
  [0x0027e0eb, 'cgroup'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0x6165676c, 'pstore'],
  [0x42494e4d, 'binfmt_misc'],
])

/** An output that cannot be written: said before the run starts, with the path and why. */
export class OutputPathError extends Error {
  override readonly name = 'OutputPathError'
}

/** The kernel file system `p` (which exists) is on, when it is one that holds no files; else undefined. */
async function pseudoFilesystem(p: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined
  try {
    const st = await fsp.statfs(p)
    return PSEUDO_FILESYSTEMS.get(Number(st.type))
  } catch {
    return undefined
  }
}

async function statOrCode(p: string): Promise<Stats | string> {
  try {
    return await fsp.stat(p)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO'
  }
}

/** The nearest ancestor of `abs` (itself excluded) that exists, with what it is, and the missing names below it. */
async function existingAncestor(abs: string): Promise<{dir: string; st: Stats | string; missing: string[]}> {
  const missing: string[] = []
  let dir = abs
  for (;;) {
    const parent = path.dirname(dir)
    missing.unshift(path.basename(dir))
    if (parent === dir) return {dir, st: 'ENOENT', missing}
    const st = await statOrCode(parent)
    if (st !== 'ENOENT') return {dir: parent, st, missing}
    dir = parent
  }
}

/**
 * Make `dir` and its missing parents one at a time (what `mkdir -p` does, without Node's recursive mkdir, which
 * loops forever where mkdir says ENOENT under an existing parent, as in /proc).
 */
async function makeDirs(what: string, shownPath: string, base: string, names: string[]): Promise<void> {
  let dir = base
  for (const name of names) {
    dir = path.join(dir, name)
    try {
      await fsp.mkdir(dir)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EEXIST') {
        const st = await statOrCode(dir)
        if (typeof st !== 'string' && st.isDirectory()) continue
      }
      throw new OutputPathError(`${what} ${shownPath}: cannot create the folder ${dir} (${code ?? (e as Error).message})`)
    }
  }
}

async function refusePseudo(what: string, shownPath: string, at: string): Promise<void> {
  const fsName = await pseudoFilesystem(at)
  if (fsName) {
    throw new OutputPathError(`${what} ${shownPath} is on ${fsName}, a kernel file system that holds no files: choose a path on a disk`)
  }
}

/**
 * Check an output file before a run writes it, and make its folder: it must be a regular file (links followed) or
 * a path that can be created, on a file system that holds files. A device (/dev/full), FIFO, socket or folder is
 * refused, as is anything under /proc or /sys, with the path and what it is. Every command that writes a file a
 * user names calls this first, so no run starts (or reads an existing output to resume) on such a path.
 */
export async function prepareOutputFile(file: string, what = '--out'): Promise<void> {
  if (file.trim() === '') throw new OutputPathError(`${what} is empty: give a file path`)
  const abs = path.resolve(file)
  const st = await statOrCode(abs)
  if (typeof st !== 'string') {
    if (!st.isFile()) {
      throw new OutputPathError(`${what} ${file} is ${specialKind(st)}, not a regular file: poster writes only to regular files or new paths`)
    }
    await refusePseudo(what, file, abs)
    return
  }
  if (st !== 'ENOENT') throw new OutputPathError(`${what} ${file} cannot be used (${st})`)
  const {dir, st: anc, missing} = await existingAncestor(abs)
  if (typeof anc === 'string') throw new OutputPathError(`${what} ${file} cannot be created: ${dir} cannot be used (${anc})`)
  if (!anc.isDirectory()) throw new OutputPathError(`${what} ${file} cannot be created: ${dir} is ${anc.isFile() ? 'a file' : specialKind(anc)}, not a folder`)
  await refusePseudo(what, file, dir)
  await makeDirs(what, file, dir, missing.slice(0, -1))
}

/**
 * Check an output folder (a run folder, --overlay, --save-crops, timelines) and make it with its parents: an
 * existing path must be a folder, and no folder is made on a kernel file system such as /proc.
 */
export async function prepareOutputDir(dir: string, what = '--out'): Promise<void> {
  if (dir.trim() === '') throw new OutputPathError(`${what} is empty: give a folder path`)
  const abs = path.resolve(dir)
  const st = await statOrCode(abs)
  if (typeof st !== 'string') {
    if (!st.isDirectory()) throw new OutputPathError(`${what} ${dir} exists and is not a folder (${st.isFile() ? 'a file' : specialKind(st)})`)
    await refusePseudo(what, dir, abs)
    return
  }
  if (st !== 'ENOENT') throw new OutputPathError(`${what} ${dir} cannot be used (${st})`)
  const {dir: base, st: anc, missing} = await existingAncestor(abs)
  if (typeof anc === 'string') throw new OutputPathError(`${what} ${dir} cannot be created: ${base} cannot be used (${anc})`)
  if (!anc.isDirectory()) throw new OutputPathError(`${what} ${dir} cannot be created: ${base} is ${anc.isFile() ? 'a file' : specialKind(anc)}, not a folder`)
  await refusePseudo(what, dir, base)
  await makeDirs(what, dir, base, missing)
}
