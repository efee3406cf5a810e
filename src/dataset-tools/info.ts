/**
 * `poster dataset info`: what a dataset holds, split by split, as eval's loaders read it: the layout found, images
 * per class beside the official release's counts where they are known (official.ts), listed images that are
 * missing, rows left out and why (AffectNet codes 8-10, repeated listings), and, unless `sizes` is off, every
 * image's format and pixel size from its header (the first 64 KiB read, the whole file only when the header lies
 * further in). Its files (info.json and the class-balance chart) are written by report/dataset-files.ts.
 */
import {open, stat} from 'node:fs/promises'

import type {Dataset} from '../datasets/index.js'
import {ExistsCache, mapLimit} from '../datasets/fsutil.js'
import {officialCounts} from './official.js'
import {knownLabelSet, loadSplits, type SplitsOptions} from './splits.js'

export interface ClassCount {
  name: string
  images: number
  /** The official release's count, where known. */
  official?: number
}

export interface ImageStats {
  /** Images whose header was read. */
  read: number
  /** Images whose header could not be read (missing, not an image, not a regular file): see poster dataset check. */
  unreadable: number
  /** The first few unreadable ones, with why. */
  unreadable_examples: Array<{path: string; reason: string}>
  formats: Record<string, number>
  /** The most common sizes, most common first (at most 10). */
  sizes: Array<{size: string; images: number}>
  distinct_sizes: number
  min: {width: number; height: number} | null
  max: {width: number; height: number} | null
  bytes: number
}

export interface SplitInfo {
  split: string
  images: number
  classes: ClassCount[]
  official?: {source: string; images: number; matches: boolean}
  /** Listed images whose file is not there. */
  missing: number
  excluded: Array<{reason: string; count: number}>
  notes: string[]
  stats?: ImageStats
}

export interface DatasetInfo {
  root: string
  format: string
  variant?: string
  detected: string[]
  labels: string[]
  label_set?: string
  benchmark?: string
  has_boxes: boolean
  images: number
  splits: SplitInfo[]
}

export interface InfoOptions extends SplitsOptions {
  /** Read every image's header for formats and sizes (default true). */
  sizes?: boolean
  onProgress?: (done: number, total: number) => void
}

const HEADER_BYTES = 64 * 1024

/** Format and size from an image's header; the whole file when the first 64 KiB do not hold it. */
export async function imageHeader(file: string): Promise<{format: string; width: number; height: number; bytes: number}> {
  const {readImageSize} = await import('../image/sharp.js')
  const st = await stat(file)
  if (!st.isFile()) throw new Error('not a regular file')
  const h = await open(file, 'r')
  let buf: Buffer
  try {
    buf = Buffer.alloc(Math.min(HEADER_BYTES, st.size))
    await h.read(buf, 0, buf.length, 0)
  } finally {
    await h.close()
  }
  try {
    return {...(await readImageSize(buf)), bytes: st.size}
  } catch (e) {
    if (st.size <= HEADER_BYTES) throw e
    return {...(await readImageSize(file)), bytes: st.size}
  }
}

async function imageStats(ds: Dataset, progress: (n: number) => void): Promise<ImageStats> {
  const formats: Record<string, number> = {}
  const sizes = new Map<string, number>()
  const examples: ImageStats['unreadable_examples'] = []
  let read = 0
  let unreadable = 0
  let bytes = 0
  let min: ImageStats['min'] = null
  let max: ImageStats['max'] = null
  const headers = await mapLimit(ds.items, 16, async (it) => {
    try {
      if (it.notRegular) throw new Error(`not a regular file (${it.notRegular})`)
      return await imageHeader(it.path)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return {error: code === 'ENOENT' ? 'missing' : ((e as {reason?: string}).reason ?? (e as Error).message)}
    } finally {
      progress(1)
    }
  })
  // In dataset order, so the examples are the first ones.
  headers.forEach((h, i) => {
    if ('error' in h) {
      unreadable++
      if (examples.length < 5) examples.push({path: ds.items[i]!.relPath, reason: h.error})
      return
    }
    read++
    bytes += h.bytes
    formats[h.format] = (formats[h.format] ?? 0) + 1
    const key = `${h.width}x${h.height}`
    sizes.set(key, (sizes.get(key) ?? 0) + 1)
    if (!min || h.width * h.height < min.width * min.height) min = {width: h.width, height: h.height}
    if (!max || h.width * h.height > max.width * max.height) max = {width: h.width, height: h.height}
  })
  const ranked = [...sizes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return {
    read,
    unreadable,
    unreadable_examples: examples,
    formats,
    sizes: ranked.slice(0, 10).map(([size, images]) => ({size, images})),
    distinct_sizes: sizes.size,
    min,
    max,
    bytes,
  }
}

export async function datasetInfo(input: string, opts: InfoOptions = {}): Promise<DatasetInfo> {
  const loaded = await loadSplits(input, opts)
  const first = loaded.splits[0]!
  const total = loaded.splits.reduce((a, s) => a + s.items.length, 0)
  let done = 0
  const progress = (n: number) => {
    done += n
    opts.onProgress?.(done, total)
  }
  const splits: SplitInfo[] = []
  for (const ds of loaded.splits) {
    const cache = new ExistsCache()
    const present = await mapLimit(ds.items, 64, (it) => cache.has(it.path))
    const counts = ds.labels.map(() => 0)
    for (const it of ds.items) if (it.label !== undefined) counts[it.label]!++
    const off = officialCounts(ds.format, ds.labels, ds.split)
    const info: SplitInfo = {
      split: ds.split,
      images: ds.items.length,
      classes: ds.labels.map((name, c) => ({name, images: counts[c]!, ...(off ? {official: off.perClass[c]!} : {})})),
      missing: present.filter((p) => !p).length,
      excluded: ds.excluded,
      notes: ds.notes,
    }
    if (off) {
      info.official = {source: off.source, images: off.perClass.reduce((a, b) => a + b, 0), matches: off.perClass.every((v, c) => v === counts[c])}
    }
    if (opts.sizes !== false) info.stats = await imageStats(ds, progress)
    splits.push(info)
  }
  const set = knownLabelSet(first.labels)
  return {
    root: first.root,
    format: loaded.format,
    ...(first.variant ? {variant: first.variant} : {}),
    detected: loaded.detected,
    labels: first.labels,
    ...(set ? {label_set: set.id} : {}),
    ...(first.benchmark ? {benchmark: first.benchmark} : {}),
    has_boxes: loaded.splits.some((s) => s.hasBoxes === true),
    images: total,
    splits,
  }
}

/** The terminal page: layout, then per split a class table beside the official counts, then sizes and formats. */
export function infoText(info: DatasetInfo): string {
  const lines: string[] = []
  lines.push(`${info.root}`)
  lines.push(`layout ${info.format}${info.variant ? ` (${info.variant})` : ''}, ${info.labels.length} classes${info.label_set ? ` (${info.label_set} label set)` : ''}${info.has_boxes ? ', face boxes' : ''}, ${info.images} images in ${info.splits.length} split${info.splits.length === 1 ? '' : 's'}`)
  for (const d of info.detected) lines.push(d)
  for (const s of info.splits) {
    lines.push('')
    const off = s.official
    lines.push(`${s.split}: ${s.images} images${off ? ` (official: ${off.images}, ${off.source}${off.matches ? ', every class matches' : ''})` : ''}${s.missing ? `, ${s.missing} listed but missing` : ''}`)
    const nameW = Math.max(5, ...s.classes.map((c) => c.name.length))
    lines.push(`  ${'class'.padEnd(nameW)}  ${'images'.padStart(7)}  ${'share'.padStart(6)}${off ? `  ${'official'.padStart(8)}  ${'diff'.padStart(6)}` : ''}`)
    for (const c of s.classes) {
      const share = s.images > 0 ? ((100 * c.images) / s.images).toFixed(1) + '%' : '-'
      const diff = c.official !== undefined ? c.images - c.official : undefined
      lines.push(
        `  ${c.name.padEnd(nameW)}  ${String(c.images).padStart(7)}  ${share.padStart(6)}` +
          (off ? `  ${String(c.official ?? '').padStart(8)}  ${(diff === undefined || diff === 0 ? '' : diff > 0 ? `+${diff}` : String(diff)).padStart(6)}` : ''),
      )
    }
    for (const e of s.excluded) lines.push(`  left out ${e.count}: ${e.reason}`)
    const st = s.stats
    if (st) {
      const fmts = Object.entries(st.formats).sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ')
      const common = st.sizes.slice(0, 3).map((x) => `${x.size} (${x.images})`).join(', ')
      lines.push(`  formats ${fmts || 'none read'}; ${st.distinct_sizes} distinct size${st.distinct_sizes === 1 ? '' : 's'}${common ? `, most common ${common}` : ''}` +
        (st.min && st.max ? `; smallest ${st.min.width}x${st.min.height}, largest ${st.max.width}x${st.max.height}` : '') + `; ${(st.bytes / 1e6).toFixed(1)} MB`)
      if (st.unreadable > 0) lines.push(`  ${st.unreadable} image header${st.unreadable === 1 ? '' : 's'} unreadable (first: ${st.unreadable_examples.map((x) => `${x.path}: ${x.reason}`).join('; ')}); run poster dataset check`)
    }
  }
  return lines.join('\n')
}
