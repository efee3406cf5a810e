/** File-system helpers shared by the dataset readers: listing, symlink-safe walking, cheap existence checks. */

import {promises as fs, type Dirent} from 'node:fs'
import path from 'node:path'

import type {Dataset, LoadOptions} from './types.js'

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
}

export interface WalkResult {
  files: WalkedFile[]
  /** Symlinked folders not entered because their target had already been walked (a cycle or a second link). */
  linkedDirsSkipped: number
  /** Symlinks whose target does not exist. */
  brokenLinks: number
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

/**
 * Every non-hidden file under `base` whose name passes `accept`, following symlinks with each real folder entered
 * at most once:
 * 1. the real tree is read first (plain folders, not through links), collecting symlinks as it goes;
 * 2. then the symlinks, in sorted order: a link to a file is a file; a link to a folder is walked the same way,
 *    unless its real path was walked already (a cycle, or a second way to the same folder), which is counted.
 * So a symlink cycle ends after one step, and of two paths to one folder the real one wins, deterministically.
 *
 * This is a plain `readdir` walk rather than fast-glob on purpose: fast-glob matches every entry against its pattern
 * with a regular expression in which `**` cannot cross a newline, so a file named "new\nline.jpg" one level down is
 * silently left out (fast-glob 3.3.3). Names here are never parsed as patterns, so brackets, stars, braces, commas,
 * quotes, newlines and any Unicode need no escaping. Output order is unspecified; callers sort.
 *
 * With `rawNames`, folders are read as bytes so that names which are not valid UTF-8 are found, kept distinct
 * (shown with `\xHH` escapes) and stay readable through `WalkedFile.raw`; valid names give the same result as
 * without it.
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
  const visited = new Set<string>(opts.exclude ?? [])
  const files: WalkedFile[] = []
  const links: Array<{abs: string; rel: string; raw?: Buffer}> = []
  let linkedDirsSkipped = 0
  let brokenLinks = 0
  const SLASH = Buffer.from('/')
  const rawJoin = (dir: Buffer | undefined, absDir: string, name: Buffer) =>
    Buffer.concat([dir ?? Buffer.from(absDir), SLASH, name])

  // Read one real folder's entries: names as text, plus their bytes when a name (or the folder) is not valid UTF-8.
  const readEntries = async (absDir: string, rawDir: Buffer | undefined) => {
    if (!opts.rawNames) {
      return (await fs.readdir(absDir, {withFileTypes: true})).map((e) => ({e, name: e.name, raw: undefined as Buffer | undefined}))
    }
    const entries = await fs.readdir(rawDir ?? absDir, {withFileTypes: true, encoding: 'buffer'})
    return entries.map((e) => {
      const bytes = e.name as unknown as Buffer
      const {text, valid} = fsNameToString(bytes)
      return {e, name: text, raw: valid && rawDir === undefined ? undefined : rawJoin(rawDir, absDir, bytes)}
    })
  }

  // Read one real folder tree (no links followed), collecting files and symlinks.
  const walkReal = async (absDir: string, rel: string, realDir: string, rawDir?: Buffer): Promise<void> => {
    visited.add(realDir)
    const entries = await readEntries(absDir, rawDir)
    const dirs: Array<{name: string; raw?: Buffer}> = []
    for (const {e, name, raw} of entries) {
      if (name.startsWith('.')) continue
      const childRel = rel ? `${rel}/${name}` : name
      if (e.isFile()) {
        if (opts.accept(name)) {
          const f: WalkedFile = {abs: path.join(absDir, name), rel: childRel, real: path.join(realDir, name)}
          if (raw) f.raw = raw
          files.push(f)
        }
      } else if (e.isSymbolicLink()) {
        links.push(raw ? {abs: path.join(absDir, name), rel: childRel, raw} : {abs: path.join(absDir, name), rel: childRel})
      } else if (e.isDirectory() && opts.recursive) {
        dirs.push(raw ? {name, raw} : {name})
      }
    }
    for (const d of dirs) {
      const real = path.join(realDir, d.name)
      if (visited.has(real)) continue
      await walkReal(path.join(absDir, d.name), rel ? `${rel}/${d.name}` : d.name, real, d.raw)
    }
  }

  const realOf = async (p: string, raw: Buffer | undefined): Promise<string> =>
    raw ? fsNameToString(await fs.realpath(raw, {encoding: 'buffer'})).text : fs.realpath(p)

  await walkReal(base, '', await fs.realpath(base))
  // Links found while walking linked folders are handled in the next round; every walk marks at least one new
  // real folder as visited, so this ends.
  for (let round = links.splice(0); round.length > 0; round = links.splice(0)) {
    round.sort((a, b) => codeUnitCompare(a.rel, b.rel))
    for (const {abs, rel, raw} of round) {
      const st = await statOrUndefined(raw ?? abs)
      if (!st) {
        brokenLinks++
        continue
      }
      if (st.isFile()) {
        if (opts.accept(path.basename(abs))) {
          const f: WalkedFile = {abs, rel, real: await realOf(abs, raw)}
          if (raw) f.raw = raw
          files.push(f)
        }
      } else if (st.isDirectory() && opts.recursive) {
        const real = await realOf(abs, raw)
        if (visited.has(real)) linkedDirsSkipped++
        else await walkReal(abs, rel, real, raw)
      }
    }
  }
  return {files, linkedDirsSkipped, brokenLinks}
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
