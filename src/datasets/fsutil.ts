/** File-system helpers shared by the dataset readers: listing, symlink-safe walking, cheap existence checks. */

import {promises as fs, type Dirent} from 'node:fs'
import path from 'node:path'

import {specialKind, type SpecialKind} from '../files.js'
import type {Dataset, LoadOptions} from './types.js'

export {specialKind, type SpecialKind} from '../files.js'

/**
 * Compare two strings by Unicode code point, as Python's `sorted()` does (torchvision sorts class folders and
 * files that way). JavaScript's default sort compares UTF-16 code units, which differs only for characters
 * outside the BMP, but the order of classes is part of a dataset's meaning, so it is done exactly.
 */
export function codePointCompare(a: string, b: string): number {
  if (a === b) return 0
  const ia = a[Symbol.iterator]()
  const ib = b[Symbol.iterator]()
  for (;;) {
    const ca = ia.next()
    const cb = ib.next()
    if (ca.done) return cb.done ? 0 : -1
    if (cb.done) return 1
    const x = ca.value.codePointAt(0)!
    const y = cb.value.codePointAt(0)!
    if (x !== y) return x < y ? -1 : 1
  }
}

/** Plain UTF-16 code-unit comparison (what `Array.prototype.sort()` does without a comparator). */
export function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Forward slashes, whatever the platform: relPaths appear in CSVs and reports. */
export function toPosix(p: string): string {
  return path.sep === '/' ? p : p.split(path.sep).join('/')
}

export async function statOrUndefined(p: string | Buffer): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.stat(p)
  } catch {
    return undefined
  }
}

export async function isDir(p: string): Promise<boolean> {
  return (await statOrUndefined(p))?.isDirectory() ?? false
}

export async function isFile(p: string): Promise<boolean> {
  return (await statOrUndefined(p))?.isFile() ?? false
}

/** Directory entries (names only), or [] when it cannot be read. */
export async function readdirSafe(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, {withFileTypes: true})
  } catch {
    return []
  }
}

/** Sub-folders of `dir` (following symlinks, as Python's `DirEntry.is_dir()` does), hidden ones left out. */
export async function subdirs(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdirSafe(dir)) {
    if (e.name.startsWith('.')) continue
    if (e.isDirectory() || (e.isSymbolicLink() && (await isDir(path.join(dir, e.name))))) out.push(e.name)
  }
  return out.sort(codePointCompare)
}

/**
 * Existence checks for many files in few folders: each folder is read once and kept as a set of names, so
 * checking 300k AffectNet rows costs one readdir per sub-folder instead of 300k stat calls.
 */
export class ExistsCache {
  private readonly dirs = new Map<string, Promise<Set<string> | undefined>>()

  async has(file: string): Promise<boolean> {
    const dir = path.dirname(file)
    let names = this.dirs.get(dir)
    if (!names) {
      names = fs.readdir(dir).then(
        (n) => new Set(n),
        () => undefined,
      )
      this.dirs.set(dir, names)
    }
    const set = await names
    if (!set) return false
    if (set.has(path.basename(file))) return true
    // A name listed by readdir might still be a symlink; a name not listed may still exist on a
    // case-insensitive file system. Fall back to stat only in that rarer second case.
    return isFile(file)
  }
}

export interface WalkedFile {
  /** Absolute path, through any symlinked folder it was found under. */
  abs: string
  /** Path relative to the walked folder, forward slashes. */
  rel: string
  /** Path with every symlink resolved: the identity used for de-duplication. */
  real: string
  /**
   * With `rawNames`: the absolute path's bytes, set only when a name below the walked folder is not valid UTF-8.
   * `abs`/`rel`/`real` then show each invalid byte as `\xHH` (see fsNameToString) and cannot be opened as they
   * are: read the file through these bytes.
   */
  raw?: Buffer
  /**
   * Set when the entry (after following symlinks) is not a regular file: a FIFO, a socket, a character or block
   * device (a link to /dev/zero). Such a file is never opened: reading it can block forever or never end. Callers
   * list it so that it gets its own error row instead of vanishing.
   */
  notRegular?: SpecialKind
}


export interface WalkResult {
  files: WalkedFile[]
  /** Symlinked folders not entered because their target had already been walked (a cycle or a second link). */
  linkedDirsSkipped: number
  /** Symlinks whose target does not exist. */
  brokenLinks: number
  /** Folders below the walked one that could not be read (their files are not listed), with the error code. */
  unreadable: Array<{path: string; code: string}>
}

const strictUtf8 = new TextDecoder('utf-8', {fatal: true})

/**
 * A file name's bytes as text: valid UTF-8 decoded as is, every byte that is not part of a valid UTF-8 sequence
 * written as `\xHH` (Python's "backslashreplace"). Node decodes such names lossily (U+FFFD), which makes them
 * impossible to open and lets two of them collide; this keeps them distinct and readable.
 */
export function fsNameToString(bytes: Uint8Array): {text: string; valid: boolean} {
  try {
    return {text: strictUtf8.decode(bytes), valid: true}
  } catch {
    // fall through: decode sequence by sequence
  }
  let text = ''
  let i = 0
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i)
    if (n > 0) {
      text += strictUtf8.decode(bytes.subarray(i, i + n))
      i += n
    } else {
      text += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`
      i++
    }
  }
  return {text, valid: false}
}

/** Length of the valid UTF-8 sequence starting at `i` (1..4), or 0 when the byte there does not start one. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!
  if (c < 0x80) return 1
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = b[i + 1]
    if (c1 === undefined || !cont(1) || !cont(2)) return 0
    if (c === 0xe0 && c1 < 0xa0) return 0 // overlong
    if (c === 0xed && c1 >= 0xa0) return 0 // surrogate
    return 3
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = b[i + 1]
    if (c1 === undefined || !cont(1) || !cont(2) || !cont(3)) return 0
    if (c === 0xf0 && c1 < 0x90) return 0 // overlong
    if (c === 0xf4 && c1 >= 0x90) return 0 // beyond U+10FFFF
    return 4
  }
  return 0
}

/** A directory entry as fast-glob's walker sees it, with its name made readable (see fsNameToString). */
interface ListedDirent {
  name: string
  isFile(): boolean
  isDirectory(): boolean
  isSymbolicLink(): boolean
  isFIFO(): boolean
  isSocket(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
}

/**
 * Every non-hidden file under `base` whose name passes `accept`, listed with fast-glob, following symlinks with
 * each real folder entered at most once:
 * 1. fast-glob lists the real tree (links not followed), `*` one level or `**` + `/*` all the way down; every
 *    folder it enters is marked as walked;
 * 2. then the symlinks, in sorted order: a link to a file is a file; a link to a folder is listed the same way
 *    unless its real path was walked already (a cycle, or a second way to the same folder), which is counted.
 * So a symlink cycle ends after one step, and of two paths to one folder the real one wins, deterministically.
 *
 * fast-glob reads the folders through an adapter (its `fs` option) that
 * - reads names as bytes when `rawNames` is set, so names that are not valid UTF-8 are found, kept distinct
 *   (shown with `\xHH` escapes) and stay readable through `WalkedFile.raw`;
 * - reports a sub-folder it cannot read (EACCES, EIO, ...) in `unreadable` and lists it as empty, so one bad
 *   folder never aborts a walk (an unreadable `base` itself is an error);
 * - lists a folder already walked through another path as empty.
 * Names are never parsed as patterns (fast-glob's cwd is the folder; patterns are only `*` and `** /*`), so
 * brackets, stars, braces, commas, quotes and any Unicode need no escaping. One exception is handled here:
 * fast-glob's `**` cannot cross a folder whose name holds a newline (its regular expression's `.` stops there), so
 * such a folder is listed by a walk of its own. Files that are not regular (FIFOs, sockets, devices, links to
 * them) are listed with `notRegular` set. Output order is unspecified; callers sort.
 */
export async function walkFiles(
  base: string,
  opts: {
    recursive: boolean
    accept: (name: string) => boolean
    /** Real paths of folders never to enter through a symlink (e.g. the sibling class folders of an ImageFolder). */
    exclude?: Iterable<string>
    /** Read names as bytes (see above). */
    rawNames?: boolean
  },
): Promise<WalkResult> {
  const {default: fg} = await import('fast-glob')
  const visited = new Set<string>(opts.exclude ?? [])
  const files: WalkedFile[] = []
  const links: Array<{abs: string; rel: string; raw?: Buffer}> = []
  const unreadable: WalkResult['unreadable'] = []
  let linkedDirsSkipped = 0
  let brokenLinks = 0
  /** Absolute (displayed) path → its bytes, for every entry whose path is not valid UTF-8. */
  const rawOf = new Map<string, Buffer>()

  const readEntries = async (dir: string): Promise<ListedDirent[]> => {
    const rawDir = rawOf.get(dir)
    if (!rawDir) {
      // Names are read as text first (fast); Node writes U+FFFD for bytes that are not UTF-8, and only then is the
      // folder read again as bytes.
      const plain = await fs.readdir(dir, {withFileTypes: true})
      if (!opts.rawNames || !plain.some((e) => e.name.includes('\uFFFD'))) return plain
    }
    const entries = await fs.readdir(rawDir ?? dir, {withFileTypes: true, encoding: 'buffer'})
    return entries.map((e) => {
      const bytes = Buffer.from(e.name)
      const {text, valid} = fsNameToString(bytes)
      if (!valid || rawDir) rawOf.set(path.join(dir, text), Buffer.concat([rawDir ?? Buffer.from(dir), Buffer.from('/'), bytes]))
      return {
        name: text,
        isFile: () => e.isFile(),
        isDirectory: () => e.isDirectory(),
        isSymbolicLink: () => e.isSymbolicLink(),
        isFIFO: () => e.isFIFO(),
        isSocket: () => e.isSocket(),
        isCharacterDevice: () => e.isCharacterDevice(),
        isBlockDevice: () => e.isBlockDevice(),
      }
    })
  }

  // List one real folder tree (links not followed) with fast-glob, collecting files, specials and symlinks.
  const listReal = async (absDir: string, rel: string, realDir: string): Promise<void> => {
    visited.add(realDir)
    const nested: Array<{abs: string; rel: string; real: string}> = []
    type Callback<T> = (error: NodeJS.ErrnoException | null, entries: T[]) => void
    // fast-glob's walker calls the first form (withFileTypes); the second is its stats mode, unused here.
    function readdir(dir: string, options: {withFileTypes: true}, callback: Callback<ListedDirent>): void
    function readdir(dir: string, callback: Callback<string>): void
    function readdir(dir: string, a: {withFileTypes: true} | Callback<string>, b?: Callback<ListedDirent>): void {
      const done: Callback<ListedDirent> = typeof a === 'function' ? (error, entries) => a(error, entries.map((e) => e.name)) : b!
      const rel = path.relative(absDir, dir)
      // Below a folder whose name holds a newline fast-glob matches nothing: that folder gets a walk of its own.
      if (rel.includes('\n')) return done(null, [])
      // Nor is anything in a hidden folder listed (dot: false); fast-glob would still read it.
      if (rel.split(path.sep).some((part) => part.startsWith('.'))) return done(null, [])
      const real = path.join(realDir, rel)
      if (dir !== absDir && visited.has(real)) return done(null, [])
      visited.add(real)
      readEntries(dir).then(
        (entries) => done(null, entries),
        (error: NodeJS.ErrnoException) => {
          if (dir === absDir) return done(error, [])
          unreadable.push({path: dir, code: error.code ?? 'EIO'})
          done(null, [])
        },
      )
    }
    const entries = await fg(opts.recursive ? '**/*' : '*', {
      cwd: absDir,
      dot: false,
      onlyFiles: false,
      followSymbolicLinks: false,
      objectMode: true,
      suppressErrors: false,
      fs: {readdir},
    })
    for (const entry of entries) {
      const e = entry.dirent
      const childRel = rel ? `${rel}/${entry.path}` : entry.path
      const abs = path.join(absDir, entry.path)
      const raw = rawOf.get(abs)
      const name = e.name
      if (e.isDirectory()) {
        // `**` does not cross a newline: list what is under such a folder with a walk of its own.
        if (opts.recursive && name.includes('\n')) nested.push({abs, rel: childRel, real: path.join(realDir, entry.path)})
      } else if (e.isSymbolicLink()) {
        links.push(raw ? {abs, rel: childRel, raw} : {abs, rel: childRel})
      } else if (opts.accept(name)) {
        const f: WalkedFile = {abs, rel: childRel, real: path.join(realDir, entry.path)}
        if (raw) f.raw = raw
        if (!e.isFile()) f.notRegular = specialKind(e)
        files.push(f)
      }
    }
    for (const d of nested) await listReal(d.abs, d.rel, d.real)
  }

  const realOf = async (p: string, raw: Buffer | undefined): Promise<string> =>
    raw ? fsNameToString(await fs.realpath(raw, {encoding: 'buffer'})).text : fs.realpath(p)

  await listReal(base, '', await fs.realpath(base))
  // Links found while listing linked folders are handled in the next round; every listing marks at least one new
  // real folder as walked, so this ends.
  for (let round = links.splice(0); round.length > 0; round = links.splice(0)) {
    round.sort((a, b) => codeUnitCompare(a.rel, b.rel))
    for (const {abs, rel, raw} of round) {
      const st = await statOrUndefined(raw ?? abs)
      if (!st) {
        brokenLinks++
        continue
      }
      if (st.isDirectory()) {
        if (!opts.recursive) continue
        const real = await realOf(abs, raw)
        if (visited.has(real)) linkedDirsSkipped++
        else {
          if (raw) rawOf.set(abs, raw)
          await listReal(abs, rel, real)
        }
      } else if (opts.accept(path.basename(abs))) {
        const f: WalkedFile = {abs, rel, real: await realOf(abs, raw)}
        if (raw) f.raw = raw
        if (!st.isFile()) f.notRegular = specialKind(st)
        files.push(f)
      }
    }
  }
  return {files, linkedDirsSkipped, brokenLinks, unreadable}
}

/** Lower-cased extension including the dot ('' when none). */
export function extOf(name: string): string {
  return path.extname(name).toLowerCase()
}

/** Run `fn` over `items` with at most `limit` calls in flight, results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++
      if (i >= items.length) return
      out[i] = await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

/** Validate `--limit`. */
export function checkLimit(limit: number | undefined): void {
  if (limit === undefined) return
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive integer; got ${limit}`)
}

/**
 * The last step of every loader: check `classes` against the label count when the layout fixes it, and apply
 * `limit` (the first N items in dataset order) with a note.
 */
export function finish(ds: Dataset, opts: LoadOptions, checkClasses = true): Dataset {
  if (checkClasses && opts.classes !== undefined && opts.classes !== ds.labels.length) {
    throw new Error(
      `--classes ${opts.classes} does not match the dataset: ${ds.root} has ${ds.labels.length} classes ` +
        `(${ds.labels.join(', ')})`,
    )
  }
  checkLimit(opts.limit)
  if (opts.limit !== undefined && ds.items.length > opts.limit) {
    ds.notes.push(`--limit ${opts.limit}: kept the first ${opts.limit} of ${ds.items.length} images in dataset order`)
    ds.items = ds.items.slice(0, opts.limit)
  }
  return ds
}

/** 'image' / 'images' */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`
}
