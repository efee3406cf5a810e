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

export async function statOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
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
}

export interface WalkResult {
  files: WalkedFile[]
  /** Symlinked folders not entered because their target had already been walked (a cycle or a second link). */
  linkedDirsSkipped: number
  /** Symlinks whose target does not exist. */
  brokenLinks: number
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
 */
export async function walkFiles(
  base: string,
  opts: {
    recursive: boolean
    accept: (name: string) => boolean
    /** Real paths of folders never to enter through a symlink (e.g. the sibling class folders of an ImageFolder). */
    exclude?: Iterable<string>
  },
): Promise<WalkResult> {
  const visited = new Set<string>(opts.exclude ?? [])
  const files: WalkedFile[] = []
  const links: Array<{abs: string; rel: string}> = []
  let linkedDirsSkipped = 0
  let brokenLinks = 0

  // Read one real folder tree (no links followed), collecting files and symlinks.
  const walkReal = async (absDir: string, rel: string, realDir: string): Promise<void> => {
    visited.add(realDir)
    const entries = await fs.readdir(absDir, {withFileTypes: true})
    const dirs: string[] = []
    for (const e of entries) {
      if (e.name.startsWith('.')) continue
      const childRel = rel ? `${rel}/${e.name}` : e.name
      if (e.isFile()) {
        if (opts.accept(e.name)) files.push({abs: path.join(absDir, e.name), rel: childRel, real: path.join(realDir, e.name)})
      } else if (e.isSymbolicLink()) {
        links.push({abs: path.join(absDir, e.name), rel: childRel})
      } else if (e.isDirectory() && opts.recursive) {
        dirs.push(e.name)
      }
    }
    for (const d of dirs) {
      const real = path.join(realDir, d)
      if (visited.has(real)) continue
      await walkReal(path.join(absDir, d), rel ? `${rel}/${d}` : d, real)
    }
  }

  await walkReal(base, '', await fs.realpath(base))
  // Links found while walking linked folders are handled in the next round; every walk marks at least one new
  // real folder as visited, so this ends.
  for (let round = links.splice(0); round.length > 0; round = links.splice(0)) {
    round.sort((a, b) => codeUnitCompare(a.rel, b.rel))
    for (const {abs, rel} of round) {
      const st = await statOrUndefined(abs)
      if (!st) {
        brokenLinks++
        continue
      }
      if (st.isFile()) {
        if (opts.accept(path.basename(abs))) files.push({abs, rel, real: await fs.realpath(abs)})
      } else if (st.isDirectory() && opts.recursive) {
        const real = await fs.realpath(abs)
        if (visited.has(real)) linkedDirsSkipped++
        else await walkReal(abs, rel, real)
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
