/**
 * RAF-DB basic, as distributed:
 *
 *   basic/EmoLabel/list_patition_label.txt    "train_00001.jpg 5" / "test_0001.jpg 7" (codes 1..7)
 *   basic/Image/aligned/train_00001_aligned.jpg
 *   basic/Image/original/train_00001.jpg
 *
 * Codes 1..7 are Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral; class index = code - 1 (label set
 * RAFDB). The split is the file-name prefix: train (12271 images) and test (3068). Aligned faces are used when
 * Image/aligned exists, because the official POSTER++ models were trained on them; otherwise Image/original.
 * The root may be the `basic/` folder or the folder that holds it.
 */

import path from 'node:path'

import {readRegularText} from '../files.js'
import {findDuplicates, settleDuplicates} from './duplicates.js'
import {RAFDB} from './labels.js'
import {ExistsCache, finish, isDir, isFile, mapLimit, plural, toPosix} from './fsutil.js'
import type {Dataset, LoadOptions, RowProblem} from './types.js'

export const RAFDB_LABEL_FILE = 'EmoLabel/list_patition_label.txt'
export const RAFDB_SPLIT_SIZES: Record<string, number> = {train: 12271, test: 3068}

/** The `basic/` folder for `root`, or undefined when neither root nor root/basic holds the label file. */
export async function findRafdbBase(root: string): Promise<string | undefined> {
  for (const base of [root, path.join(root, 'basic')]) {
    if (await isFile(path.join(base, RAFDB_LABEL_FILE))) return base
  }
  return undefined
}

/** 'train' | 'test' for a user's --split (val/valid/validation mean test: RAF-DB has no separate validation set). */
function rafdbSplit(split: string | undefined, notes: string[]): 'train' | 'test' {
  const s = (split ?? 'test').trim().toLowerCase()
  if (s === 'train') return 'train'
  if (s === 'test') return 'test'
  if (s === 'val' || s === 'valid' || s === 'validation') {
    notes.push(`RAF-DB has no validation split; --split ${split} reads the test split (what the paper reports)`)
    return 'test'
  }
  throw new Error(`RAF-DB has the splits train and test; got --split ${split}`)
}

export async function loadRafdb(root: string, opts: LoadOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root)
  const base = await findRafdbBase(absRoot)
  if (!base) {
    throw new Error(
      `RAF-DB label file not found: looked for ${path.join(absRoot, RAFDB_LABEL_FILE)} and ` +
        `${path.join(absRoot, 'basic', RAFDB_LABEL_FILE)}. Point at RAF-DB's basic/ folder (or the folder that holds it).`,
    )
  }
  if (opts.classes !== undefined && opts.classes !== 7) {
    throw new Error(`RAF-DB basic has 7 classes; got --classes ${opts.classes}`)
  }
  const notes: string[] = []
  if (base !== absRoot) notes.push(`RAF-DB basic/ folder: ${base}`)
  const split = rafdbSplit(opts.split, notes)

  const labelFile = path.join(base, RAFDB_LABEL_FILE)
  const text = await readRegularText(labelFile)

  let variant: 'aligned' | 'original'
  let imageDir: string
  const alignedDir = path.join(base, 'Image', 'aligned')
  const originalDir = path.join(base, 'Image', 'original')
  if (await isDir(alignedDir)) {
    variant = 'aligned'
    imageDir = alignedDir
    notes.push('RAF-DB basic, aligned faces (Image/aligned), as the official POSTER++ models were trained')
  } else if (await isDir(originalDir)) {
    variant = 'original'
    imageDir = originalDir
    notes.push(
      'RAF-DB basic, original images (Image/original): no Image/aligned folder. The official models were trained on ' +
        'the aligned faces; expect lower accuracy on the originals.',
    )
  } else {
    throw new Error(`RAF-DB images not found: neither ${alignedDir} nor ${originalDir} is a folder`)
  }

  const entries: Array<{name: string; label: number; line: number}> = []
  const rowProblems: RowProblem[] = []
  const fail = (kind: RowProblem['kind'], where: string, message: string, name?: string): void => {
    if (!opts.collect) throw new Error(`${where}: ${message}`)
    const file = name === undefined ? undefined : imageFile(name)
    rowProblems.push({kind, where, message, ...(file ? {path: file, relPath: toPosix(path.relative(base, file))} : {})})
  }
  const imageFile = (name: string) => path.join(imageDir, variant === 'aligned' ? `${path.parse(name).name}_aligned.jpg` : name)
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^\uFEFF/, '').trim()
    if (line === '') continue
    const where = `${labelFile} line ${i + 1}`
    const fields = line.split(/\s+/)
    if (fields.length !== 2) {
      fail('row', where, `expected "<image name> <label 1-7>", got "${line}"`)
      continue
    }
    const [name, code] = fields as [string, string]
    const fileSplit = name.startsWith('train_') ? 'train' : name.startsWith('test_') ? 'test' : undefined
    if (!/^[0-9]+$/.test(code) || Number(code) < 1 || Number(code) > 7) {
      // A bad label stops the load whichever split it is in; collected, it is reported with its own split.
      if (!opts.collect || fileSplit === split || fileSplit === undefined) fail('label', where, `label "${code}" for ${name} is outside 1..7`, name)
      continue
    }
    if (fileSplit === undefined) {
      fail('row', where, `"${name}" starts with neither train_ nor test_, so its split is unknown`, name)
      continue
    }
    if (fileSplit !== split) continue
    entries.push({name, label: Number(code) - 1, line: i + 1})
  }

  const {keep, report} = findDuplicates(
    entries.map((e) => ({key: e.name, relPath: e.name, line: e.line, label: e.label, shown: `${e.label + 1} (${RAFDB.names[e.label]})`})),
    labelFile,
  )
  const excluded: Array<{reason: string; count: number}> = []
  const duplicates = settleDuplicates(report, {notes, excluded}, opts.collect)
  const unique = entries.filter((_, i) => keep[i])

  const files = unique.map(({name}) => imageFile(name))
  const cache = new ExistsCache()
  const exists = await mapLimit(files, 64, (f) => cache.has(f))
  const items = unique.map((e, i) => ({
    path: files[i]!,
    relPath: toPosix(path.relative(base, files[i]!)),
    label: e.label,
    split,
  }))

  const missing = exists.filter((x) => !x).length
  if (missing > 0) {
    const first = items.find((_, i) => !exists[i])!
    notes.push(
      `${plural(missing, 'listed image')} not found under ${imageDir} (first: ${first.relPath}); ` +
        'they stay in the list and are reported as errors',
    )
  }
  const expected = RAFDB_SPLIT_SIZES[split]!
  if (items.length !== expected) {
    notes.push(`the ${split} split lists ${items.length} images; the official release has ${expected}`)
  }

  return finish(
    {
      format: 'rafdb',
      variant,
      root: base,
      split,
      labels: [...RAFDB.names],
      items,
      excluded,
      notes,
      benchmark: 'rafdb',
      ...(duplicates ? {duplicates} : {}),
      ...(opts.collect ? {rowProblems} : {}),
    },
    opts,
  )
}
