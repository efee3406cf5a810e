/**
 * A CSV manifest: a header row with a `path` and a `label` column (any case; other columns ignored), one image per
 * row. Paths are relative to the CSV's folder, or absolute. Dataset.root is the CSV file; relPath is the path as
 * written in the CSV.
 *
 * The label column is `label`, or `label_<set>` (label_rafdb, label_affectnet7, label_affectnet8, label_caers) to
 * say which label set its cells belong to. Cells are read as written inside quotes; outside quotes, spaces around a
 * cell are dropped (so a file name that begins or ends with a space must be quoted).
 *
 * How labels become class indices (the rule, in order):
 * 1. With a `labels` option (a `--labels` value: registry id or comma-separated names, or a list) or a `label_<set>`
 *    header, that is the label set. A cell that is an integer is read as labels.ts `readNumericLabels` reads a named
 *    set: RAF-DB's codes 1..7 for rafdb, AffectNet's codes for affectnet7/8, a 0-based index into any other set;
 *    any other cell is a name, matched by meaning (labels.ts `labelKey`: case and synonyms do not matter).
 * 2. Without it, when every cell is an integer: the numbers are a dataset's codes, read exactly as ImageFolder reads
 *    numbered class folders (labels.ts `readNumericLabels`): a 0 means AffectNet's codes, 1..7 all present means
 *    RAF-DB's, and a set that could be either stops with both readings named.
 * 3. Without it, when every cell is an emotion word: the known label set that holds them all, RAF-DB (7 classes)
 *    unless Contempt appears or `classes` is 8, then AffectNet-8. Labels are that set's names in its order.
 * 4. Otherwise the cells are free-form names: the label set is the distinct names (grouped by `labelKey`, spelled
 *    as first seen) in sorted order, as ImageFolder sorts folder names.
 * Mixing integers and names without `labels` is an error. Any cell outside the label set is an error naming its
 * line.
 */

import path from 'node:path'
import {parse} from 'csv-parse/sync'

import {readRegularText} from '../files.js'
import {AFFECTNET8, LABEL_SETS, RAFDB, canonicalEmotion, labelKey, readNumericLabels} from './labels.js'
import {ExistsCache, codePointCompare, finish, mapLimit, plural, toPosix} from './fsutil.js'
import {parseBox, withBox} from './box.js'
import {findDuplicates, settleDuplicates} from './duplicates.js'
import type {Dataset, DatasetItem, FaceBox, LoadOptions, RowProblem} from './types.js'

export interface ManifestOptions extends LoadOptions {
  /** A `--labels` value (registry id or comma-separated names) or the names themselves, in class-index order. */
  labels?: string | string[]
}

interface Row {
  line: number
  path: string
  label: string
  box?: FaceBox
  boxError?: string
}

/** Optional face-box columns, by the names a manifest may use (x,y,w,h or AffectNet's). */
const BOX_COLUMNS = [
  ['x', 'face_x'],
  ['y', 'face_y'],
  ['w', 'face_w', 'face_width', 'width'],
  ['h', 'face_h', 'face_height', 'height'],
] as const

const INT = /^[0-9]+$/

export async function loadManifest(csvPath: string, opts: ManifestOptions = {}): Promise<Dataset> {
  const file = path.resolve(csvPath)
  let text: string
  try {
    text = await readRegularText(file)
  } catch (e) {
    throw new Error(`cannot read manifest ${file}: ${(e as Error).message}`)
  }
  let records: Array<{record: string[]; info: {lines: number}}>
  try {
    // trim: spaces around a cell are dropped, but never inside quotes (a quoted " lead space.jpg" is kept).
    records = parse(text, {bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: true}) as unknown as Array<{
      record: string[]
      info: {lines: number}
    }>
  } catch (e) {
    throw new Error(`manifest ${file} is not valid CSV: ${(e as Error).message}`)
  }
  if (records.length === 0) throw new Error(`manifest ${file} is empty`)
  const header = records[0]!.record.map((h) => h.trim().toLowerCase())
  const pathCol = header.indexOf('path')
  const labelCol = header.findIndex((h) => h === 'label' || /^label_[a-z0-9]+$/.test(h))
  const headerSet = labelCol >= 0 && header[labelCol] !== 'label' ? header[labelCol]!.slice('label_'.length) : undefined
  if (headerSet !== undefined && !LABEL_SETS[headerSet]) {
    throw new Error(`manifest ${file}: column "${header[labelCol]}" names no label set poster knows (${Object.keys(LABEL_SETS).map((k) => `label_${k}`).join(', ')})`)
  }
  if (pathCol < 0 || labelCol < 0) {
    const hint = header.includes('subdirectory_filepath')
      ? ' (this looks like an AffectNet file list: pass its folder with --format affectnet)'
      : ''
    throw new Error(
      `manifest ${file} needs a header row with "path" and "label" columns; its first row is ` +
        `${records[0]!.record.map((h) => JSON.stringify(h)).join(',')}${hint}`,
    )
  }

  const boxCols = BOX_COLUMNS.map((names) => names.map((n) => header.indexOf(n)).find((i) => i >= 0) ?? -1)
  const boxGiven = boxCols.filter((c) => c >= 0).length
  if (boxGiven > 0 && boxGiven < 4) {
    throw new Error(`manifest ${file}: a face box needs all of x, y, w, h columns; the header has only ${BOX_COLUMNS.filter((_, i) => boxCols[i]! >= 0).map((n) => n[0]).join(', ')}`)
  }
  const rows: Row[] = []
  const rowProblems: RowProblem[] = []
  const dir = path.dirname(file)
  const absOf = (p: string) => (path.isAbsolute(p) ? path.normalize(p) : path.resolve(dir, p))
  for (const {record, info} of records.slice(1)) {
    const p = record[pathCol] ?? ''
    const l = (record[labelCol] ?? '').trim()
    if (p === '' && l === '' && record.every((c) => c.trim() === '')) continue
    if (p === '' || l === '') {
      const message = p === '' ? 'empty path' : `empty label for ${p}`
      if (!opts.collect) throw new Error(`${file} line ${info.lines}: ${message}`)
      rowProblems.push({kind: p === '' ? 'row' : 'label', where: `${file} line ${info.lines}`, message, ...(p ? {path: absOf(p), relPath: toPosix(path.normalize(p))} : {})})
      continue
    }
    const row: Row = {line: info.lines, path: p, label: l}
    rows.push(boxGiven === 4 ? withBox(row, parseBox(boxCols.map((c) => record[c]))) : row)
  }
  if (rows.length === 0 && rowProblems.length === 0) throw new Error(`manifest ${file} has a header but no rows`)

  const notes: string[] = []
  if (headerSet !== undefined && opts.labels !== undefined && (Array.isArray(opts.labels) || opts.labels.trim().toLowerCase() !== headerSet)) {
    throw new Error(`manifest ${file}: its column ${header[labelCol]} and --labels ${String(opts.labels)} name different label sets`)
  }
  const {labels, indexOf} = resolveManifestLabels(rows, headerSet !== undefined ? {...opts, labels: headerSet} : opts, file, notes, headerSet !== undefined ? `column label_${headerSet}` : '--labels')

  const split = opts.split ?? 'all'
  const labelled: Array<{row: Row; label: number}> = []
  for (const r of rows) {
    let label: number
    try {
      label = indexOf(r)
    } catch (e) {
      if (!opts.collect) throw e
      rowProblems.push({kind: 'label', where: `${file} line ${r.line}`, path: absOf(r.path), relPath: toPosix(path.normalize(r.path)), message: (e as Error).message.replace(`${file} line ${r.line}: `, '')})
      continue
    }
    labelled.push({row: r, label})
  }
  // The same file twice (however its path is written): scored once; another label or box is a conflict.
  const {keep, report} = findDuplicates(
    labelled.map(({row, label}) => ({
      key: absOf(row.path),
      relPath: toPosix(path.normalize(row.path)),
      line: row.line,
      label,
      shown: row.label === labels[label] ? row.label : `${row.label} (${labels[label]})`,
      ...(boxGiven === 4 ? {box: row.box ? `${row.box.x},${row.box.y},${row.box.w},${row.box.h}` : (row.boxError ?? '')} : {}),
    })),
    file,
  )
  const excluded: Array<{reason: string; count: number}> = []
  const duplicates = settleDuplicates(report, {notes, excluded}, opts.collect)
  const items: DatasetItem[] = labelled
    .filter((_, i) => keep[i])
    .map(({row: r, label}) => ({
      path: absOf(r.path),
      relPath: toPosix(path.normalize(r.path)),
      label,
      split,
      ...(r.box ? {box: r.box} : {}),
      ...(r.boxError ? {boxError: r.boxError} : {}),
    }))

  const cache = new ExistsCache()
  const exists = await mapLimit(items, 64, (it) => cache.has(it.path))
  const missing = exists.filter((x) => !x).length
  if (missing > 0) {
    const first = items.find((_, i) => !exists[i])!
    notes.push(
      `${plural(missing, 'listed image')} not found (first: ${first.relPath}); they stay in the list and are reported as errors`,
    )
  }

  if (boxGiven === 4) notes.push(`face boxes from the manifest's ${BOX_COLUMNS.map((n, i) => header[boxCols[i]!]).join(', ')} columns (--faces box)`)
  return finish(
    {
      format: 'csv',
      root: file,
      split,
      labels,
      items,
      excluded,
      notes,
      hasBoxes: boxGiven === 4,
      ...(duplicates ? {duplicates} : {}),
      ...(opts.collect ? {rowProblems} : {}),
    },
    opts,
  )
}

function resolveManifestLabels(
  rows: Row[],
  opts: ManifestOptions,
  file: string,
  notes: string[],
  given = '--labels',
): {labels: string[]; indexOf: (r: Row) => number} {
  const outOfSet = (r: Row, labels: string[]): never => {
    throw new Error(`${file} line ${r.line}: label "${r.label}" is not one of ${labels.length} classes [${labels.join(', ')}]`)
  }
  const ints = rows.filter((r) => INT.test(r.label))

  // 1. Given label set: numbers read as that set's codes (rafdb, affectnet) or indices (any other set).
  if (opts.labels !== undefined) {
    const reading = readNumericLabels(ints.map((r) => Number(r.label)), {set: opts.labels})
    const labels = reading.labels
    const byKey = new Map(labels.map((n, i) => [labelKey(n), i]))
    notes.push(`labels from ${given}: ${labels.join(', ')}${ints.length > 0 ? `; numbers are ${reading.note}` : ''}`)
    return {
      labels,
      indexOf: (r) => (INT.test(r.label) ? reading.indexOf(Number(r.label)) : byKey.get(labelKey(r.label))) ?? outOfSet(r, labels),
    }
  }

  if (ints.length > 0 && ints.length < rows.length) {
    const odd = rows.find((r) => !INT.test(r.label))!
    throw new Error(
      `${file} line ${odd.line}: label "${odd.label}" is a name but line ${ints[0]!.line} uses a number ("${ints[0]!.label}"); ` +
        'use one or the other, or name the label set (column label_<set>)',
    )
  }

  // 2. Numbers: a dataset's codes, read as ImageFolder reads numbered folders.
  if (ints.length === rows.length) {
    const reading = readNumericLabels(rows.map((r) => Number(r.label)), {classes: opts.classes, where: `${file}: the labels`})
    notes.push(`labels are numbers, read as ${reading.note}`)
    return {labels: reading.labels, indexOf: (r) => reading.indexOf(Number(r.label)) ?? outOfSet(r, reading.labels)}
  }

  // 3. Emotion words.
  const canon = rows.map((r) => canonicalEmotion(r.label))
  if (canon.every((c) => c !== undefined)) {
    const hasContempt = canon.includes('contempt')
    if (opts.classes === 7 && hasContempt) {
      const r = rows[canon.indexOf('contempt')]!
      throw new Error(`${file} line ${r.line}: label "${r.label}" (contempt) is not in the 7-class set; use --classes 8`)
    }
    const set = hasContempt || opts.classes === 8 ? AFFECTNET8 : RAFDB
    const labels = [...set.names]
    const byKey = new Map(labels.map((n, i) => [labelKey(n), i]))
    notes.push(`labels are emotion names; using the ${set.id} label set in its order (${labels.join(', ')})`)
    return {labels, indexOf: (r) => byKey.get(labelKey(r.label)) ?? outOfSet(r, labels)}
  }

  // 4. Free-form names.
  const firstSpelling = new Map<string, string>()
  for (const r of rows) {
    const k = labelKey(r.label)
    if (!firstSpelling.has(k)) firstSpelling.set(k, r.label)
  }
  const keys = [...firstSpelling.keys()].sort(codePointCompare)
  const labels = keys.map((k) => firstSpelling.get(k)!)
  const byKey = new Map(keys.map((k, i) => [k, i]))
  notes.push(`labels are names that are not all emotion words; classes are the ${labels.length} distinct names in sorted order (${labels.join(', ')})`)
  return {labels, indexOf: (r) => byKey.get(labelKey(r.label))!}
}
