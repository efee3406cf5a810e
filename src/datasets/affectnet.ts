/**
 * AffectNet, in its two distributed forms.
 *
 * 'csv' (the original release):
 *   training.csv / validation.csv (at the root or in Manually_Annotated_file_lists/), header
 *   subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal
 *   images under Manually_Annotated_Images/<subDirectory_filePath> (or Manually_Annotated/Manually_Annotated_Images/).
 *   A file without the header row is read by column position (path first, expression seventh).
 *
 * 'npy' (the later release): <split>/images/N.jpg with <split>/annotations/N_exp.npy, split folders train_set and
 *   val_set (the root may also be one split folder).
 *
 * Expression codes: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt, 8 None,
 * 9 Uncertain, 10 Non-Face. `classes` 7 keeps 0-6 (label set affectnet7), 8 keeps 0-7 (affectnet8); other rows are
 * excluded and counted by reason. The test set was never released, so --split test reads the validation set,
 * which is what papers (POSTER++ included) report.
 */

import {createReadStream} from 'node:fs'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {parse} from 'csv-parse'

import {AFFECTNET7, AFFECTNET8} from './labels.js'
import {ExistsCache, finish, isDir, isFile, mapLimit, plural, readdirSafe, toPosix} from './fsutil.js'
import {npyScalar, readNpy} from './npy.js'
import {parseBox, withBox} from './box.js'
import {findDuplicates, settleDuplicates} from './duplicates.js'
import type {Dataset, DatasetItem, LoadOptions, RowProblem} from './types.js'

export const AFFECTNET_CODE_NAMES = [
  'Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger', 'Contempt', 'None', 'Uncertain', 'Non-Face',
]
/** Official validation set sizes: 500 per class. */
export const AFFECTNET_VAL_SIZES: Record<number, number> = {7: 3500, 8: 4000}

const CSV_DIRS = ['', 'Manually_Annotated_file_lists']
const IMAGE_DIRS = ['Manually_Annotated_Images', path.join('Manually_Annotated', 'Manually_Annotated_Images')]
const NPY_SPLITS: Record<'train' | 'val', string> = {train: 'train_set', val: 'val_set'}

type Split = 'train' | 'val'

function affectnetSplit(split: string | undefined, notes: string[]): Split {
  const s = (split ?? 'val').trim().toLowerCase()
  if (s === 'train' || s === 'training') return 'train'
  if (s === 'val' || s === 'valid' || s === 'validation') {
    if (split === undefined) notes.push('split: validation (the default; AffectNet\'s test set is not public)')
    return 'val'
  }
  if (s === 'test') {
    notes.push(
      "AffectNet's test set is not public; --split test reads the validation set, on which papers (POSTER++ included) report",
    )
    return 'val'
  }
  throw new Error(`AffectNet has the splits train and validation (val; test reads validation); got --split ${split}`)
}

function classCount(classes: number | undefined, notes: string[]): 7 | 8 {
  if (classes === undefined) {
    notes.push('7-class protocol (expressions 0-6) by default; pass --classes 8 to keep Contempt')
    return 7
  }
  if (classes !== 7 && classes !== 8) throw new Error(`AffectNet is evaluated with 7 or 8 classes; got --classes ${classes}`)
  return classes
}

/** Excluded-row reason for an expression code that the protocol leaves out. */
function exclusionReason(code: number, classes: 7 | 8): string | undefined {
  if (code < classes) return undefined
  if (code === 7) return 'expression 7 (Contempt) excluded in 7-class protocol'
  return `expression ${code} (${AFFECTNET_CODE_NAMES[code]}): not an emotion`
}

class Excluded {
  private readonly counts = new Map<string, number>()
  add(reason: string): void {
    this.addCount(reason, 1)
  }
  addCount(reason: string, n: number): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n)
  }
  list(): Array<{reason: string; count: number}> {
    return [...this.counts].map(([reason, count]) => ({reason, count}))
  }
}

export interface AffectnetLayout {
  variant: 'csv' | 'npy'
  /** csv: the folder holding training.csv/validation.csv. npy: the folder holding train_set/val_set, or the split folder. */
  dir: string
}

/** What AffectNet layout `root` holds, if any. */
export async function findAffectnetLayout(root: string): Promise<AffectnetLayout | undefined> {
  for (const d of CSV_DIRS) {
    const dir = path.join(root, d)
    if ((await isFile(path.join(dir, 'training.csv'))) || (await isFile(path.join(dir, 'validation.csv')))) {
      return {variant: 'csv', dir}
    }
  }
  for (const s of Object.values(NPY_SPLITS)) {
    if (await isDir(path.join(root, s, 'annotations'))) return {variant: 'npy', dir: root}
  }
  if ((await isDir(path.join(root, 'annotations'))) && (await isDir(path.join(root, 'images')))) {
    return {variant: 'npy', dir: root}
  }
  return undefined
}

export async function loadAffectnet(root: string, opts: LoadOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root)
  const layout = await findAffectnetLayout(absRoot)
  if (!layout) {
    throw new Error(
      `no AffectNet layout in ${absRoot}: looked for training.csv / validation.csv (there or in ` +
        'Manually_Annotated_file_lists/) and for train_set/annotations or val_set/annotations',
    )
  }
  const notes: string[] = []
  const split = affectnetSplit(opts.split, notes)
  const classes = classCount(opts.classes, notes)
  const ds =
    layout.variant === 'csv'
      ? await loadCsv(absRoot, layout.dir, split, classes, notes, opts)
      : await loadNpy(absRoot, split, classes, notes, opts)
  if (split === 'val' && ds.items.length !== AFFECTNET_VAL_SIZES[classes]) {
    notes.push(`the validation set here has ${ds.items.length} images; the official one has ${AFFECTNET_VAL_SIZES[classes]} for ${classes} classes`)
  }
  return finish(ds, opts)
}

function baseDataset(
  root: string,
  variant: 'csv' | 'npy',
  split: Split,
  classes: 7 | 8,
  items: DatasetItem[],
  excluded: Excluded,
  notes: string[],
): Dataset {
  const set = classes === 7 ? AFFECTNET7 : AFFECTNET8
  return {
    format: 'affectnet',
    variant,
    root,
    split: split === 'val' ? 'validation' : 'train',
    labels: [...set.names],
    items,
    excluded: excluded.list(),
    notes,
    benchmark: set.id,
  }
}

function parseCode(raw: string | undefined, where: string): number {
  const v = (raw ?? '').trim()
  if (!/^[0-9]+$/.test(v) || Number(v) > 10) {
    throw new Error(`${where}: expression "${raw ?? ''}" is not an AffectNet code 0-10`)
  }
  return Number(v)
}

async function loadCsv(root: string, csvDir: string, split: Split, classes: 7 | 8, notes: string[], opts: LoadOptions): Promise<Dataset> {
  const csvName = split === 'train' ? 'training.csv' : 'validation.csv'
  const csvPath = path.join(csvDir, csvName)
  if (!(await isFile(csvPath))) {
    throw new Error(`AffectNet ${csvName} not found: expected ${csvPath}`)
  }
  let imageDir: string | undefined
  for (const d of IMAGE_DIRS) {
    if (await isDir(path.join(root, d))) {
      imageDir = path.join(root, d)
      break
    }
  }
  if (!imageDir) {
    throw new Error(`AffectNet images not found: neither ${IMAGE_DIRS.map((d) => path.join(root, d)).join(' nor ')} is a folder`)
  }
  notes.push(`AffectNet ${csvName}, images in ${toPosix(path.relative(root, imageDir))}/`)

  const excluded = new Excluded()
  const splitName = split === 'val' ? 'validation' : 'train'
  const rowProblems: RowProblem[] = []
  const rows: Array<{rel: string; file: string; code: number; line: number; boxCells: Array<string | undefined>}> = []
  let pathCol = 0
  let exprCol = 6
  // face_x, face_y, face_width, face_height: columns 2-5 of the release (the header names them).
  let boxCols = [1, 2, 3, 4]
  let first = true
  const parser = createReadStream(csvPath).pipe(
    parse({bom: true, skip_empty_lines: true, relax_column_count: true, info: true}),
  )
  for await (const rec of parser as AsyncIterable<{record: string[]; info: {lines: number}}>) {
    const row = rec.record
    const where = `${csvPath} line ${rec.info.lines}`
    if (first) {
      first = false
      const names = row.map((c) => c.trim().toLowerCase())
      if (names.includes('subdirectory_filepath')) {
        pathCol = names.indexOf('subdirectory_filepath')
        exprCol = names.indexOf('expression')
        if (exprCol < 0) throw new Error(`${csvPath}: the header has no "expression" column`)
        boxCols = ['face_x', 'face_y', 'face_width', 'face_height'].map((c) => names.indexOf(c))
        continue
      }
      notes.push(`${csvName} has no header row; read by position (path in column 1, expression in column 7)`)
    }
    if (row.length === 1 && row[0]!.trim() === '') continue
    const rel = row[pathCol]?.trim()
    if (!rel) {
      if (!opts.collect) throw new Error(`${where}: empty image path`)
      rowProblems.push({kind: 'row', where, message: 'empty image path'})
      continue
    }
    const file = path.join(imageDir, ...rel.split(/[\\/]/))
    let code: number
    try {
      code = parseCode(row[exprCol], where)
    } catch (e) {
      if (!opts.collect) throw e
      rowProblems.push({kind: 'label', where, path: file, relPath: toPosix(path.relative(root, file)), message: `expression "${row[exprCol] ?? ''}" is not an AffectNet code 0-10`})
      continue
    }
    rows.push({rel, file, code, line: rec.info.lines, boxCells: boxCols.map((c) => (c < 0 ? undefined : row[c]))})
  }

  // The same image twice: compared by its code as written (before the class protocol excludes any) and its box.
  const {keep, report} = findDuplicates(
    rows.map((r) => ({
      key: r.file,
      relPath: toPosix(path.relative(root, r.file)),
      line: r.line,
      label: r.code,
      shown: `${r.code} (${AFFECTNET_CODE_NAMES[r.code]})`,
      box: r.boxCells.map((c) => (c ?? '').trim()).join(','),
    })),
    csvPath,
  )
  const extraExcluded: Array<{reason: string; count: number}> = []
  const duplicates = settleDuplicates(report, {notes, excluded: extraExcluded}, opts.collect)

  const items: DatasetItem[] = []
  const excludedPaths: string[] = []
  const cache = new ExistsCache()
  const checks: Array<Promise<boolean>> = []
  rows.forEach((r, i) => {
    if (!keep[i]) return
    const reason = exclusionReason(r.code, classes)
    if (reason) {
      excluded.add(reason)
      if (opts.collect) excludedPaths.push(r.file)
      return
    }
    const item: DatasetItem = {path: r.file, relPath: toPosix(path.relative(root, r.file)), label: r.code, split: splitName}
    items.push(withBox(item, parseBox(r.boxCells)))
    checks.push(cache.has(r.file))
  })
  for (const e of extraExcluded) excluded.addCount(e.reason, e.count)
  const exists = await Promise.all(checks)
  const missing = exists.filter((x) => !x).length
  if (missing > 0) {
    const firstMissing = items.find((_, i) => !exists[i])!
    notes.push(
      `${plural(missing, 'listed image')} not found (first: ${firstMissing.relPath}); they stay in the list and are reported as errors`,
    )
  }
  const ds = baseDataset(root, 'csv', split, classes, items, excluded, notes)
  ds.hasBoxes = boxCols.every((c) => c >= 0)
  if (duplicates) ds.duplicates = duplicates
  if (opts.collect) {
    ds.rowProblems = rowProblems
    ds.excludedPaths = excludedPaths
  }
  return ds
}

/** Numeric file stems in numeric order, anything else after them in code-unit order. */
function stemOrder(a: string, b: string): number {
  const na = /^[0-9]+$/.test(a)
  const nb = /^[0-9]+$/.test(b)
  if (na && nb) return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0)
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

async function loadNpy(root: string, split: Split, classes: 7 | 8, notes: string[], opts: LoadOptions): Promise<Dataset> {
  let splitDir: string
  if ((await isDir(path.join(root, 'annotations'))) && (await isDir(path.join(root, 'images')))) {
    splitDir = root
    notes.push(`${root} is one AffectNet split folder (images/ + annotations/)`)
  } else {
    splitDir = path.join(root, NPY_SPLITS[split])
    if (!(await isDir(path.join(splitDir, 'annotations')))) {
      throw new Error(`AffectNet ${split === 'train' ? 'training' : 'validation'} split not found: expected ${path.join(splitDir, 'annotations')}`)
    }
  }
  const annDir = path.join(splitDir, 'annotations')
  const imgDir = path.join(splitDir, 'images')
  notes.push(`AffectNet (images/ + annotations/*_exp.npy release), ${toPosix(path.relative(root, splitDir)) || '.'}`)

  const stems = (await fs.readdir(annDir))
    .filter((n) => n.endsWith('_exp.npy'))
    .map((n) => n.slice(0, -'_exp.npy'.length))
    .sort(stemOrder)
  if (stems.length === 0) throw new Error(`no *_exp.npy files in ${annDir}`)

  const images = new Map<string, string>()
  for (const e of await readdirSafe(imgDir)) {
    if (e.name.startsWith('.')) continue
    const stem = path.parse(e.name).name
    if (!images.has(stem) || path.extname(e.name).toLowerCase() === '.jpg') images.set(stem, e.name)
  }

  const rowProblems: RowProblem[] = []
  const codes = await mapLimit(stems, 64, async (stem): Promise<number | undefined> => {
    const file = path.join(annDir, `${stem}_exp.npy`)
    try {
      const v = npyScalar(await readNpy(file), file)
      const raw = typeof v === 'boolean' ? String(Number(v)) : String(v)
      return parseCode(raw, file)
    } catch (e) {
      if (!opts.collect) throw e
      const img = path.join(imgDir, images.get(stem) ?? `${stem}.jpg`)
      rowProblems.push({kind: 'label', where: file, path: img, relPath: toPosix(path.relative(root, img)), message: (e as Error).message.replace(`${file}: `, '')})
      return undefined
    }
  })

  const excluded = new Excluded()
  const items: DatasetItem[] = []
  let missing = 0
  let firstMissing: string | undefined
  const splitName = split === 'val' ? 'validation' : 'train'
  const excludedPaths: string[] = []
  stems.forEach((stem, i) => {
    const code = codes[i]
    if (code === undefined) return
    const name = images.get(stem)
    const reason = exclusionReason(code, classes)
    if (reason) {
      excluded.add(reason)
      if (opts.collect) excludedPaths.push(path.join(imgDir, name ?? `${stem}.jpg`))
      return
    }
    if (!name) {
      missing++
      firstMissing ??= `${stem}.jpg`
    }
    const file = path.join(imgDir, name ?? `${stem}.jpg`)
    items.push({path: file, relPath: toPosix(path.relative(root, file)), label: code, split: splitName})
  })
  if (missing > 0) {
    notes.push(`${plural(missing, 'annotated image')} not found in ${imgDir} (first: ${firstMissing}); they stay in the list and are reported as errors`)
  }
  const annotated = new Set(stems)
  const unannotated = [...images.keys()].filter((s) => !annotated.has(s)).length
  if (unannotated > 0) notes.push(`${plural(unannotated, 'image')} in ${imgDir} without an _exp.npy left out`)
  const ds = baseDataset(root, 'npy', split, classes, items, excluded, notes)
  if (opts.collect) {
    ds.rowProblems = rowProblems
    ds.excludedPaths = excludedPaths
  }
  return ds
}
