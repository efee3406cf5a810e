/**
 * `poster dataset check`: every problem of a dataset, with the files named, read through eval's loaders.
 *
 *   listing    labels outside the label set, rows that cannot be used, images listed twice (with the same or
 *              another label), listed files that are missing, files present that nothing lists
 *   images     every listed image read and decoded exactly as eval decodes it (Pillow's rules): unreadable,
 *              truncated, not a regular file, too large
 *   duplicates exact copies (SHA-256 of the bytes) and near copies (JPEG re-encoded, resized, cropped by up to
 *              10% of a side: phash.ts proposes, a crop search on the two images confirms), within a split and
 *              across splits; a copy shared by a training and a held-out split is leakage, reported as pairs
 *              and counted per class of the held-out image
 *
 * Images are streamed: each is read once, hashed (SHA-256 and 49 perceptual hashes, 392 bytes kept per image) and
 * dropped, a few at a time (libvips decodes on its own threads, so both cores work), so memory grows only with
 * those hashes. Candidate near pairs are decoded again to be confirmed (a small cache of their thumbnails).
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import type {Dataset, DatasetItem} from '../datasets/index.js'
import {isDir, toPosix, walkFiles} from '../datasets/fsutil.js'
import {IMG_EXTENSIONS, splitFolders} from '../datasets/image-folder.js'
import {describeGroup} from '../datasets/duplicates.js'
import {candidatePairs} from './near.js'
import {scanImages, type ScanTask} from './scan.js'
import {CANDIDATE_BITS, HYPOTHESIS_COUNT, NCC_THRESHOLD, hypothesisCut, similarity, verifyGrid, type VerifyGrid} from './phash.js'
import {isHeldOut, loadSplits, type SplitsOptions} from './splits.js'

/**
 * Within a split larger than this, near duplicates are searched without the crop hypotheses (re-encoded and
 * resized copies only): with them the search grows as 0.6 n² comparisons, minutes at AffectNet's 290,000 training
 * images. Across splits (leakage) and within smaller splits crops are always searched.
 */
export const CROPS_WITHIN_LIMIT = 50_000
/** Candidate near pairs confirmed at most (each is two decodes and a crop search): a self-similar set stops there, noted. */
export const MAX_CANDIDATES = 50_000
/** At most this many entries of each list in the result (the counts are always complete). */
export const LIST_LIMIT = 2000

export interface ImageRef {
  split: string
  path: string
  label?: string
}

export interface CheckOptions extends SplitsOptions {
  /** Look for near duplicates (default true). */
  near?: boolean
  /** Worker threads for the scan (0: this thread; default one per CPU, at most 4, from 256 images). */
  workers?: number
  /** Within a split of more images than this, crops are not searched (default CROPS_WITHIN_LIMIT). */
  cropsWithinLimit?: number
  /** Stop confirming near pairs after this many candidates (default MAX_CANDIDATES). */
  maxCandidates?: number
  onProgress?: (done: number, total: number) => void
  onStatus?: (message: string) => void
}

export interface Problems {
  /** Labels outside the label set (the row is left out). */
  labels: Array<{split: string; where: string; path?: string; message: string}>
  /** Rows that cannot be used otherwise (no path, a line that does not parse, an unknown split). */
  rows: Array<{split: string; where: string; path?: string; message: string}>
  /** Images listed more than once; `conflict` when the listings disagree on the label or box. */
  listed_twice: Array<{split: string; file: string; path: string; lines: number[]; labels: string[]; conflict: boolean}>
  missing: ImageRef[]
  unlisted: Array<{path: string; why: string}>
  unreadable: Array<ImageRef & {reason: string}>
  truncated: ImageRef[]
  exact_duplicates: Array<{sha256: string; scope: string; images: ImageRef[]}>
  near_duplicates: Array<{scope: string; a: ImageRef; b: ImageRef; similarity: number; bits: number}>
}

export type ProblemKind = keyof Problems

export interface LeakPair {
  kind: 'exact' | 'near'
  train: ImageRef
  held_out: ImageRef
  /** Whether both have the same label. */
  same_label: boolean
  similarity?: number
}

export interface CheckResult {
  root: string
  format: string
  detected: string[]
  labels: string[]
  splits: Array<{split: string; images: number}>
  clean: boolean
  /** Problems found, per kind (complete even when a list is cut at LIST_LIMIT). */
  counts: Record<ProblemKind, number> & {leakage_pairs: number}
  problems: Problems
  leakage: {
    pairs: LeakPair[]
    /** Per class of the held-out image: held-out images with a copy in a training split. */
    per_class: Array<{name: string; held_out_images: number; of: number; label_differs: number}>
  }
  near: {checked: boolean; candidates: number; confirmed: number; truncated: boolean; comparisons: number; note?: string}
  /** Worker threads the scan used (0: the main thread). */
  workers: number
  /** Seconds reading and hashing the images, and searching and confirming near duplicates. */
  phases: {scan_s: number; near_s: number}
  images: number
  seconds: number
  images_per_second: number
  notes: string[]
}

interface Entry {
  split: number
  item: DatasetItem
  /** SHA-256 hex of the file, when read. */
  sha?: string
  /** Decoded and hashed. */
  hashed: boolean
}

function refOf(e: Entry, splits: readonly Dataset[]): ImageRef {
  const ds = splits[e.split]!
  return {split: ds.split, path: e.item.relPath, ...(e.item.label !== undefined ? {label: ds.labels[e.item.label]!} : {})}
}

function scopeOf(a: Entry, b: Entry, splits: readonly Dataset[]): string {
  return a.split === b.split ? `within ${splits[a.split]!.split}` : `across ${splits[a.split]!.split} and ${splits[b.split]!.split}`
}

/** A check's result, and where each image it names is on disk (for thumbnails). */
export interface CheckRun {
  result: CheckResult
  pathOf(ref: ImageRef): string | undefined
}

export async function checkDataset(input: string, opts: CheckOptions = {}): Promise<CheckRun> {
  const t0 = performance.now()
  const status = opts.onStatus ?? (() => {})
  const loaded = await loadSplits(input, {...opts, collect: true})
  const splits = loaded.splits
  const notes: string[] = []
  const problems: Problems = {labels: [], rows: [], listed_twice: [], missing: [], unlisted: [], unreadable: [], truncated: [], exact_duplicates: [], near_duplicates: []}
  const counts = {labels: 0, rows: 0, listed_twice: 0, missing: 0, unlisted: 0, unreadable: 0, truncated: 0, exact_duplicates: 0, near_duplicates: 0, leakage_pairs: 0}
  const add = <K extends ProblemKind>(kind: K, entry: Problems[K][number]): void => {
    counts[kind]++
    if (problems[kind].length < LIST_LIMIT) (problems[kind] as Array<Problems[K][number]>).push(entry)
  }

  // ---- the listing ----
  const seenRows = new Set<string>()
  for (const ds of splits) {
    for (const p of ds.rowProblems ?? []) {
      // A RAF-DB line with an unknown split is seen by both splits' loads: reported once.
      const key = `${p.where}\0${p.message}`
      if (seenRows.has(key)) continue
      seenRows.add(key)
      const entry = {split: ds.split, where: p.where, ...(p.relPath ? {path: p.relPath} : {}), message: p.message}
      add(p.kind === 'label' ? 'labels' : 'rows', entry)
    }
    const dup = ds.duplicates
    if (dup) {
      for (const g of [...dup.conflicts, ...dup.repeats].sort((a, b) => a.lines[0]! - b.lines[0]!)) {
        add('listed_twice', {split: ds.split, file: dup.file, path: g.relPath, lines: g.lines, labels: g.labels, conflict: g.conflict})
      }
    }
  }

  // ---- every listed image, read once ----
  const entries: Entry[] = splits.flatMap((ds, s) => ds.items.map((item) => ({split: s, item, hashed: false})))
  const n = entries.length
  const K = HYPOTHESIS_COUNT
  const hi = new Uint32Array(n * K)
  const lo = new Uint32Array(n * K)
  const {decodeRgb} = await import('../image/sharp.js')
  let done = 0
  opts.onProgress?.(0, n)
  // Outcomes by entry, reported in dataset order once all are in (reads finish in any order).
  const failures = new Array<{kind: 'missing' | 'truncated' | 'unreadable'; reason?: string} | undefined>(n)
  const tasks: ScanTask[] = entries.map((e, i) => ({
    i,
    path: e.item.path,
    relPath: e.item.relPath,
    ...(e.item.rawPath ? {rawPath: new Uint8Array(e.item.rawPath)} : {}),
    ...(e.item.notRegular ? {notRegular: e.item.notRegular} : {}),
  }))
  const scan = await scanImages(tasks, {
    ...(opts.workers !== undefined ? {workers: opts.workers} : {}),
    onResult: (r) => {
      const e = entries[r.i]!
      if (r.ok) {
        e.sha = r.sha
        hi.set(r.hi, r.i * K)
        lo.set(r.lo, r.i * K)
        e.hashed = true
      } else {
        failures[r.i] = {kind: r.kind, ...(r.reason !== undefined ? {reason: r.reason} : {})}
      }
    },
    onProgress: () => {
      done++
      opts.onProgress?.(done, n)
    },
  })
  failures.forEach((f, i) => {
    if (!f) return
    const ref = refOf(entries[i]!, splits)
    if (f.kind === 'unreadable') add('unreadable', {...ref, reason: f.reason!})
    else add(f.kind, ref)
  })

  const scanSeconds = (performance.now() - t0) / 1000

  // ---- files nothing lists ----
  const unlisted = await unlistedFiles(loaded.format, loaded.root, splits, opts.split !== undefined, notes)
  for (const u of unlisted) add('unlisted', u)

  // ---- exact duplicates ----
  const bySha = new Map<string, number[]>()
  entries.forEach((e, i) => {
    if (!e.sha) return
    let g = bySha.get(e.sha)
    if (!g) bySha.set(e.sha, (g = []))
    g.push(i)
  })
  const leaks: LeakPair[] = []
  // Held-out images with a copy in a training split, with whether a copy has another label.
  const heldImages = new Map<number, boolean>()
  const sameLabel = (a: Entry, b: Entry) => splits[a.split]!.labels[a.item.label!] === splits[b.split]!.labels[b.item.label!]
  const leakAdd = (train: Entry, held: Entry, heldIndex: number, kind: 'exact' | 'near', sim?: number): void => {
    counts.leakage_pairs++
    const same = sameLabel(train, held)
    heldImages.set(heldIndex, (heldImages.get(heldIndex) ?? false) || !same)
    if (leaks.length >= LIST_LIMIT) return
    const pair: LeakPair = {kind, train: refOf(train, splits), held_out: refOf(held, splits), same_label: same}
    if (sim !== undefined) pair.similarity = round(sim, 4)
    leaks.push(pair)
  }
  const isTrain = (e: Entry) => !isHeldOut(splits[e.split]!.split)
  for (const [sha, group] of bySha) {
    if (group.length < 2) continue
    const es = group.map((i) => entries[i]!)
    const splitsIn = new Set(es.map((e) => e.split))
    const scope = splitsIn.size === 1 ? `within ${splits[es[0]!.split]!.split}` : `across ${[...splitsIn].map((s) => splits[s]!.split).join(' and ')}`
    add('exact_duplicates', {sha256: sha, scope, images: es.slice(0, 50).map((e) => refOf(e, splits))})
    // Every training copy against every held-out copy (a cluster of m copies is m·k pairs, counted, listed up to the limit).
    const trains = group.filter((i) => isTrain(entries[i]!))
    const helds = group.filter((i) => !isTrain(entries[i]!))
    for (const h of helds) for (const t of trains) leakAdd(entries[t]!, entries[h]!, h, 'exact')
  }
  // ---- near duplicates ----
  const tNear = performance.now()
  const near: CheckResult['near'] = {checked: opts.near !== false, candidates: 0, confirmed: 0, truncated: false, comparisons: 0}
  if (opts.near !== false) {
    status(`near duplicates: comparing ${entries.filter((e) => e.hashed).length} images under ${K} crop hypotheses each`)
    const group = Int32Array.from(entries, (e) => (e.hashed ? e.split : -1))
    const cropLimit = opts.cropsWithinLimit ?? CROPS_WITHIN_LIMIT
    const big = splits.map((s) => s.items.length > cropLimit)
    for (const [s, b] of big.entries()) {
      if (b) notes.push(`near duplicates within ${splits[s]!.split} (${splits[s]!.items.length} images, more than ${cropLimit}): re-encoded and resized copies are searched, crops are not (they are across splits)`)
    }
    const found = candidatePairs(hi, lo, n, {maxBits: CANDIDATE_BITS, group, crops: (ga, gb) => ga !== gb || !big[ga], limit: opts.maxCandidates ?? MAX_CANDIDATES})
    near.comparisons = found.comparisons
    near.truncated = found.truncated
    const todo = found.pairs.filter((c) => entries[c.a]!.sha !== entries[c.b]!.sha)
    near.candidates = todo.length
    if (found.truncated) near.note = `more than ${opts.maxCandidates ?? MAX_CANDIDATES} candidate pairs: only those were confirmed (a very self-similar dataset?)`
    const grids = new GridCache(decodeRgb)
    for (const c of todo) {
      const a = entries[c.a]!
      const b = entries[c.b]!
      const ga = await grids.get(a.item)
      const gb = await grids.get(b.item)
      if (!ga || !gb) continue
      const sim = similarity(ga, gb, hypothesisCut(c.k))
      if (sim < NCC_THRESHOLD) continue
      near.confirmed++
      const [first, second] = c.a < c.b ? [a, b] : [b, a]
      add('near_duplicates', {scope: scopeOf(first, second, splits), a: refOf(first, splits), b: refOf(second, splits), similarity: round(sim, 4), bits: c.bits})
      const [ia, ib] = c.a < c.b ? [c.a, c.b] : [c.b, c.a]
      if (isTrain(first) !== isTrain(second)) {
        if (isTrain(first)) leakAdd(first, second, ib, 'near', sim)
        else leakAdd(second, first, ia, 'near', sim)
      }
    }
  }

  const nearSeconds = (performance.now() - tNear) / 1000

  // ---- leakage per class ----
  const labels = splits[0]!.labels
  const heldTotals = labels.map((_, c) => splits.filter((s) => isHeldOut(s.split)).reduce((a, s) => a + s.items.filter((it) => it.label === c).length, 0))
  const perClass = labels.map((name, c) => {
    const hs = [...heldImages].filter(([i]) => entries[i]!.item.label === c)
    return {name, held_out_images: hs.length, of: heldTotals[c]!, label_differs: hs.filter(([, differs]) => differs).length}
  })

  const clean = Object.entries(counts).every(([, v]) => v === 0)
  const seconds = (performance.now() - t0) / 1000
  for (const ds of splits) for (const note of ds.notes) if (/^--format auto/.test(note)) notes.push(note)
  const abs = new Map(entries.map((e) => [`${splits[e.split]!.split}\0${e.item.relPath}`, e.item.rawPath ? undefined : e.item.path]))
  const result: CheckResult = {
    root: loaded.root,
    format: loaded.format,
    detected: loaded.detected,
    labels,
    splits: splits.map((s) => ({split: s.split, images: s.items.length})),
    clean,
    counts,
    problems,
    leakage: {pairs: leaks.slice(0, LIST_LIMIT), per_class: perClass},
    near,
    workers: scan.workers,
    phases: {scan_s: round(scanSeconds, 2), near_s: round(nearSeconds, 2)},
    images: n,
    seconds: round(seconds, 2),
    images_per_second: round(n / Math.max(seconds, 1e-9), 1),
    notes,
  }
  return {result, pathOf: (ref) => abs.get(`${ref.split}\0${ref.path}`)}
}

/** Thumbnails for confirming near pairs, decoded again on demand; the most recent few hundred kept. */
class GridCache {
  private readonly cache = new Map<string, VerifyGrid | null>()
  constructor(private readonly decode: (input: string | Uint8Array) => Promise<import('../image/types.js').RgbImage>) {}
  async get(item: DatasetItem): Promise<VerifyGrid | null> {
    const key = item.path
    const hit = this.cache.get(key)
    if (hit !== undefined) {
      this.cache.delete(key)
      this.cache.set(key, hit)
      return hit
    }
    let g: VerifyGrid | null
    try {
      g = verifyGrid(await this.decode(await readFile(item.rawPath ?? item.path)))
    } catch {
      g = null
    }
    this.cache.set(key, g)
    if (this.cache.size > 256) this.cache.delete(this.cache.keys().next().value!)
    return g
  }
}

/**
 * Files in the dataset's image folders that no list names. Which folders: RAF-DB's image folder in use (every
 * split listed in one file), AffectNet's image folders (rows left out on purpose count as listed), each ImageFolder
 * split folder (a file ImageFolder skips: an extension it does not read, or outside a class folder). Not for a
 * manifest (a manifest often lists part of a folder), nor for RAF-DB or AffectNet when --split reads one split.
 */
async function unlistedFiles(format: string, root: string, splits: readonly Dataset[], oneSplit: boolean, notes: string[]): Promise<Array<{path: string; why: string}>> {
  const listed = new Set<string>()
  for (const ds of splits) {
    for (const it of ds.items) listed.add(it.path)
    for (const p of ds.excludedPaths ?? []) listed.add(p)
    for (const p of ds.rowProblems ?? []) if (p.path) listed.add(p.path)
  }
  const out: Array<{path: string; why: string}> = []
  const walk = async (dir: string, base: string, why: (rel: string) => string | undefined) => {
    if (!(await isDir(dir))) return
    const w = await walkFiles(dir, {recursive: true, accept: () => true})
    for (const f of w.files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))) {
      if (listed.has(f.abs)) continue
      const reason = why(f.rel)
      if (reason) out.push({path: toPosix(path.relative(base, f.abs)), why: reason})
    }
  }
  if (format === 'csv') {
    notes.push('files present but not listed: not checked for a manifest (a manifest often lists part of a folder)')
    return out
  }
  if ((format === 'rafdb' || format === 'affectnet') && oneSplit) {
    notes.push(`files present but not listed: not checked with --split (the other split lists files in the same folder)`)
    return out
  }
  if (format === 'rafdb') {
    const ds = splits[0]!
    const dir = path.join(ds.root, 'Image', ds.variant === 'original' ? 'original' : 'aligned')
    await walk(dir, ds.root, () => 'in the image folder but not in EmoLabel/list_patition_label.txt')
  } else if (format === 'affectnet') {
    const ds = splits[0]!
    if (ds.variant === 'csv') {
      for (const d of ['Manually_Annotated_Images', path.join('Manually_Annotated', 'Manually_Annotated_Images')]) {
        if (await isDir(path.join(ds.root, d))) {
          await walk(path.join(ds.root, d), ds.root, () => 'in the image folder but in neither training.csv nor validation.csv')
          break
        }
      }
    } else {
      const dirs = new Set(splits.flatMap((s) => s.items.map((it) => path.dirname(it.path))))
      for (const dir of [...dirs].sort()) await walk(dir, ds.root, () => 'in images/ without an annotations/*_exp.npy')
    }
  } else if (format === 'imagefolder') {
    const folders = await splitFolders(root)
    for (const ds of splits) {
      const folder = folders.find((f) => f.key === ds.split)
      const splitDir = folders.length === 0 ? root : folder ? path.join(root, folder.name) : undefined
      if (!splitDir) continue
      await walk(splitDir, root, (rel) => {
        if (!rel.includes('/')) return 'directly in the split folder, not in a class folder (ImageFolder skips it)'
        return IMG_EXTENSIONS.includes(path.extname(rel).toLowerCase()) ? 'not listed' : `an extension ImageFolder does not read (${path.extname(rel) || 'none'}; it reads ${IMG_EXTENSIONS.join(' ')})`
      })
    }
  }
  return out
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** The terminal page: each kind of problem with its first files, leakage per class, then the verdict. */
export function checkText(r: CheckResult, show = 10): string {
  const lines: string[] = []
  lines.push(`${r.root}: ${r.format}, ${r.splits.map((s) => `${s.split} ${s.images}`).join(', ')} images; ${r.images_per_second} images/s`)
  const section = <T>(title: string, count: number, list: readonly T[], fmt: (x: T) => string) => {
    if (count === 0) return
    lines.push('', `${title}: ${count}`)
    for (const x of list.slice(0, show)) lines.push(`  ${fmt(x)}`)
    if (count > show) lines.push(`  ... and ${count - show} more (--json or --out for all)`)
  }
  const p = r.problems
  const c = r.counts
  section('labels outside the label set', c.labels, p.labels, (x) => `${x.where}: ${x.message}`)
  section('rows that cannot be used', c.rows, p.rows, (x) => `${x.where}: ${x.message}`)
  section('images listed more than once', c.listed_twice, p.listed_twice, (x) => `${x.conflict ? 'CONFLICT ' : ''}${describeGroup({relPath: x.path, lines: x.lines, labels: x.labels, conflict: x.conflict})}`)
  section('listed but missing', c.missing, p.missing, (x) => `${x.split}: ${x.path}`)
  section('present but not listed', c.unlisted, p.unlisted, (x) => `${x.path}: ${x.why}`)
  section('unreadable', c.unreadable, p.unreadable, (x) => `${x.split}: ${x.path}: ${x.reason}`)
  section('truncated', c.truncated, p.truncated, (x) => `${x.split}: ${x.path}`)
  section('exact duplicates (same bytes)', c.exact_duplicates, p.exact_duplicates, (x) => `${x.scope}: ${x.images.map((i) => `${i.split}:${i.path}`).join(' = ')}`)
  section('near duplicates', c.near_duplicates, p.near_duplicates, (x) => `${x.scope}: ${x.a.split}:${x.a.path} ~ ${x.b.split}:${x.b.path} (similarity ${x.similarity})`)
  if (c.leakage_pairs > 0) {
    lines.push('', `train/held-out leakage: ${c.leakage_pairs} pair${c.leakage_pairs === 1 ? '' : 's'}`)
    for (const l of r.leakage.pairs.slice(0, show)) lines.push(`  ${l.kind}: ${l.train.split}:${l.train.path} (${l.train.label}) = ${l.held_out.split}:${l.held_out.path} (${l.held_out.label})${l.same_label ? '' : ' LABELS DIFFER'}`)
    lines.push('  per class (held-out images with a copy in training):')
    for (const pc of r.leakage.per_class) if (pc.held_out_images > 0) lines.push(`    ${pc.name}: ${pc.held_out_images} of ${pc.of}${pc.label_differs ? ` (${pc.label_differs} with another label)` : ''}`)
  }
  if (r.near.note) lines.push('', r.near.note)
  for (const n of r.notes) lines.push(n)
  const total = Object.values(c).reduce((a, b) => a + b, 0)
  lines.push('', r.clean ? `clean: no problems in ${r.images} images` : `${total} problem${total === 1 ? '' : 's'} found`)
  return lines.join('\n')
}
