/**
 * `poster dataset subset`: a stratified, reproducible subset of one split as a CSV manifest that eval reads like
 * any other (for CI gates: `eval --limit N` takes the first N images, which is neither stratified nor stable when
 * the dataset changes).
 *
 * Which images: per class, the N whose SHA-256 of `<seed>:<relPath>` is smallest (all of them when a class has
 * fewer, noted). The choice depends only on the seed and each image's own path, not on listing order or on the
 * other images: the same seed gives the same subset on every machine, and adding images to a class changes its
 * subset only where a new image ranks among the first N. Images whose file is missing are left out (noted).
 *
 * The manifest: `path` (relative to the CSV's folder, or absolute with `absolute`), the label column named after
 * the label set when it is a known one (`label_rafdb` ...: its class order is kept) else `label`, with class
 * names; `x,y,w,h` when the dataset has face boxes (AffectNet's CSV release), so `--faces box` works on the subset.
 * Rows are in dataset order. The file is written atomically and read back with the manifest loader, which must
 * give the same images and labels.
 */
import {mkdir} from 'node:fs/promises'
import path from 'node:path'
import {stringify} from 'csv-stringify/sync'

import {writeFileAtomic, sha256Of} from '../basics.js'
import type {Dataset, DatasetItem} from '../datasets/index.js'
import {ExistsCache, mapLimit, plural, statOrUndefined, toPosix} from '../datasets/fsutil.js'
import {labelKey} from '../datasets/labels.js'
import {loadManifest} from '../datasets/manifest.js'
import {knownLabelSet} from './splits.js'

export interface SubsetOptions {
  perClass: number
  seed: number
  out: string
  /** Write absolute paths instead of paths relative to the CSV's folder. */
  absolute?: boolean
  /** Replace an existing file. */
  force?: boolean
}

export interface SubsetResult {
  out: string
  dataset: {root: string; format: string; split: string}
  seed: number
  per_class: number
  label_column: string
  images: number
  classes: Array<{name: string; available: number; taken: number}>
  missing_left_out: number
  notes: string[]
}

/** An image's rank for a seed: the first 48 bits of SHA-256("<seed>:<relPath>"). */
export function subsetRank(seed: number, relPath: string): number {
  return sha256Of(`${seed}:${relPath}`, 'bytes').readUIntBE(0, 6)
}

/** The chosen items, in dataset order. */
export function chooseSubset(items: readonly DatasetItem[], numClasses: number, perClass: number, seed: number): DatasetItem[] {
  const byClass: Array<Array<{i: number; rank: number; rel: string}>> = Array.from({length: numClasses}, () => [])
  items.forEach((it, i) => {
    if (it.label !== undefined) byClass[it.label]!.push({i, rank: subsetRank(seed, it.relPath), rel: it.relPath})
  })
  const chosen: number[] = []
  for (const list of byClass) {
    list.sort((a, b) => a.rank - b.rank || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
    for (const x of list.slice(0, perClass)) chosen.push(x.i)
  }
  return chosen.sort((a, b) => a - b).map((i) => items[i]!)
}

export async function writeSubset(ds: Dataset, opts: SubsetOptions): Promise<SubsetResult> {
  if (!Number.isInteger(opts.perClass) || opts.perClass < 1) throw new Error(`--per-class must be a positive integer; got ${opts.perClass}`)
  const out = path.resolve(opts.out)
  const st = await statOrUndefined(out)
  if (st && !opts.force) throw new Error(`${out} already exists; pass --force to replace it`)
  if (st && !st.isFile()) throw new Error(`${out} exists and is not a regular file`)
  const notes: string[] = []

  const cache = new ExistsCache()
  const present = await mapLimit(ds.items, 64, (it) => (it.notRegular ? Promise.resolve(false) : cache.has(it.path)))
  const usable = ds.items.filter((_, i) => present[i])
  const missing = ds.items.length - usable.length
  if (missing > 0) notes.push(`${plural(missing, 'listed image')} not found (or not a regular file) left out`)

  const chosen = chooseSubset(usable, ds.labels.length, opts.perClass, opts.seed)
  const classes = ds.labels.map((name, c) => ({
    name,
    available: usable.filter((it) => it.label === c).length,
    taken: chosen.filter((it) => it.label === c).length,
  }))
  const short = classes.filter((c) => c.taken < opts.perClass)
  if (short.length > 0) {
    notes.push(`fewer than ${opts.perClass} images in ${short.map((c) => `${c.name} (${c.available})`).join(', ')}: all of them taken`)
  }
  if (chosen.length === 0) throw new Error(`the ${ds.split} split of ${ds.root} has no labelled images to choose from`)

  const set = knownLabelSet(ds.labels)
  const labelColumn = set ? `label_${set.id}` : 'label'
  const boxes = ds.hasBoxes === true
  const dir = path.dirname(out)
  const header = ['path', labelColumn, ...(boxes ? ['x', 'y', 'w', 'h'] : [])]
  const rows = chosen.map((it) => {
    const p = opts.absolute ? it.path : toPosix(path.relative(dir, it.path))
    const b = it.box
    return [p, ds.labels[it.label!]!, ...(boxes ? (b ? [b.x, b.y, b.w, b.h].map(String) : ['', '', '', '']) : [])]
  })
  // A path with a space at either end is quoted: the manifest reader trims unquoted cells.
  const text = stringify([header, ...rows], {quoted_match: /^\s|\s$/, record_delimiter: '\n'})
  await mkdir(dir, {recursive: true})
  await writeFileAtomic(out, text)

  // Read back: the manifest loader must give these images with these labels.
  const back = await loadManifest(out, {split: ds.split})
  const same =
    back.items.length === chosen.length &&
    back.items.every((b, i) => b.path === chosen[i]!.path && labelKey(back.labels[b.label!]!) === labelKey(ds.labels[chosen[i]!.label!]!))
  if (!same) throw new Error(`${out} was written but does not read back as the chosen images and labels (a bug: please report it)`)

  return {
    out,
    dataset: {root: ds.root, format: ds.format, split: ds.split},
    seed: opts.seed,
    per_class: opts.perClass,
    label_column: labelColumn,
    images: chosen.length,
    classes,
    missing_left_out: missing,
    notes,
  }
}
