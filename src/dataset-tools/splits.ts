/**
 * Every split of a dataset, read through the same loaders as eval (src/datasets/): the layout detected once
 * (--format auto) or given, then each split it has loaded on its own. The `poster dataset` commands work on all
 * splits unless --split names one.
 *
 *   rafdb        train, test
 *   affectnet    train (training.csv / train_set), validation (validation.csv / val_set); a single split folder
 *   imagefolder  each split folder present (train, valid, val, validation, test), or the root as one split
 *   csv          the manifest (one split)
 */
import path from 'node:path'

import {detectFormat, findAffectnetLayout, loadDataset, type Dataset, type DatasetFormat} from '../datasets/index.js'
import {isDir, isFile} from '../datasets/fsutil.js'
import {splitFolders} from '../datasets/image-folder.js'
import {AFFECTNET7, AFFECTNET8, CAERS, RAFDB, type LabelSet} from '../datasets/labels.js'

export interface SplitsOptions {
  format?: 'auto' | DatasetFormat
  /** One split only (as --split names it); default every split the layout has. */
  split?: string
  classes?: number
  labels?: string
  /** Collect row problems instead of stopping (dataset check). */
  collect?: boolean
}

export interface DatasetSplits {
  format: DatasetFormat
  /** The path handed to the loaders. */
  root: string
  /** What --format auto found (empty when --format was given). */
  detected: string[]
  splits: Dataset[]
}

/** The split names the layout at `root` has, as its loader's --split takes them (undefined: the loader's only one). */
export async function splitNames(root: string, format: DatasetFormat): Promise<Array<string | undefined>> {
  switch (format) {
    case 'rafdb':
      return ['train', 'test']
    case 'affectnet': {
      const layout = await findAffectnetLayout(root)
      if (!layout) return [undefined]
      if (layout.variant === 'csv') {
        const out: string[] = []
        if (await isFile(path.join(layout.dir, 'training.csv'))) out.push('train')
        if (await isFile(path.join(layout.dir, 'validation.csv'))) out.push('validation')
        return out
      }
      if ((await isDir(path.join(root, 'annotations'))) && (await isDir(path.join(root, 'images')))) return [undefined]
      const out: string[] = []
      if (await isDir(path.join(root, 'train_set', 'annotations'))) out.push('train')
      if (await isDir(path.join(root, 'val_set', 'annotations'))) out.push('validation')
      return out
    }
    case 'imagefolder': {
      const splits = await splitFolders(root)
      return splits.length > 0 ? splits.map((s) => s.name) : [undefined]
    }
    case 'csv':
      return [undefined]
  }
}

export async function loadSplits(input: string, opts: SplitsOptions = {}): Promise<DatasetSplits> {
  const abs = path.resolve(input)
  let format: DatasetFormat
  let root = abs
  const detected: string[] = []
  if (!opts.format || opts.format === 'auto') {
    const d = await detectFormat(abs)
    format = d.format
    root = d.root
    detected.push(`--format auto: ${format} (${d.notes.join('; ')})`)
  } else {
    format = opts.format
  }
  const names = opts.split !== undefined ? [opts.split] : await splitNames(root, format)
  if (names.length === 0) throw new Error(`no splits found in ${root} (${format})`)
  const splits: Dataset[] = []
  for (const split of names) {
    splits.push(
      await loadDataset(root, {
        format,
        ...(split !== undefined ? {split} : {}),
        ...(opts.classes !== undefined ? {classes: opts.classes} : {}),
        ...(opts.labels !== undefined ? {labels: opts.labels} : {}),
        ...(opts.collect ? {collect: true} : {}),
      }),
    )
  }
  // Two names for one folder (val and validation both present never happens; test falling back to valid does).
  const seen = new Set<string>()
  const unique = splits.filter((s) => {
    const key = `${s.split}\0${s.items[0]?.path ?? ''}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  return {format, root, detected, splits: unique}
}

/** The known label set whose names and order the dataset's labels are, if any. */
export function knownLabelSet(labels: readonly string[]): LabelSet | undefined {
  for (const set of [RAFDB, AFFECTNET7, AFFECTNET8, CAERS]) {
    if (set.names.length === labels.length && set.names.every((n, i) => n === labels[i])) return set
  }
  return undefined
}

/** Whether a split is held out (evaluated on) rather than trained on. */
export function isHeldOut(split: string): boolean {
  return !/^train(ing)?$/i.test(split)
}
