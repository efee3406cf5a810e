/**
 * A CSV manifest: a header row with a `path` and a `label` column (any case; other columns ignored), one image per
 * row. Paths are relative to the CSV's folder, or absolute. Dataset.root is the CSV file; relPath is the path as
 * written in the CSV.
 *
 * How labels become class indices (the rule, in order):
 * 1. With a `labels` option (a `--labels` value: registry id or comma-separated names, or a list), that list is the
 *    label set. A cell that is an integer is an index into it; any other cell is a name, matched by meaning
 *    (labels.ts `labelKey`: case and synonyms do not matter).
 * 2. Without it, when every cell is an integer: the label set is the registry default for the class count
 *    (labels.ts `defaultLabelsFor`: 7 → RAF-DB order, 8 → AffectNet-8 order), the class count being `classes` when
 *    given, else 7 when the largest index is at most 6 and 8 when it is 7. Larger indices need `labels`. The note
 *    says which order was assumed, because a wrong guess scores near chance.
 * 3. Without it, when every cell is an emotion word: the known label set that holds them all, RAF-DB (7 classes)
 *    unless Contempt appears or `classes` is 8, then AffectNet-8. Labels are that set's names in its order.
 * 4. Otherwise the cells are free-form names: the label set is the distinct names (grouped by `labelKey`, spelled
 *    as first seen) in sorted order, as ImageFolder sorts folder names.
 * Mixing integers and names without `labels` is an error. Any cell outside the label set is an error naming its
 * line.
 */

import {promises as fs} from 'node:fs'
import path from 'node:path'
import {parse} from 'csv-parse/sync'

import {AFFECTNET8, RAFDB, canonicalEmotion, defaultLabelsFor, labelKey, parseLabels} from './labels.js'
import {ExistsCache, codePointCompare, finish, mapLimit, plural, toPosix} from './fsutil.js'
import {parseBox, withBox} from './box.js'
import type {Dataset, DatasetItem, FaceBox, LoadOptions} from './types.js'

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
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw new Error(`cannot read manifest ${file}: ${(e as Error).message}`)
  }
  let records: Array<{record: string[]; info: {lines: number}}>
  try {
    records = parse(text, {bom: true, skip_empty_lines: true, relax_column_count: true, info: true}) as unknown as Array<{
      record: string[]
      info: {lines: number}
    }>
  } catch (e) {
    throw new Error(`manifest ${file} is not valid CSV: ${(e as Error).message}`)
  }
  if (records.length === 0) throw new Error(`manifest ${file} is empty`)
  const header = records[0]!.record.map((h) => h.trim().toLowerCase())
  const pathCol = header.indexOf('path')
  const labelCol = header.indexOf('label')
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
  for (const {record, info} of records.slice(1)) {
    const p = (record[pathCol] ?? '').trim()
    const l = (record[labelCol] ?? '').trim()
    if (p === '' && l === '' && record.every((c) => c.trim() === '')) continue
    if (p === '') throw new Error(`${file} line ${info.lines}: empty path`)
    if (l === '') throw new Error(`${file} line ${info.lines}: empty label for ${p}`)
    const row: Row = {line: info.lines, path: p, label: l}
    rows.push(boxGiven === 4 ? withBox(row, parseBox(boxCols.map((c) => record[c]))) : row)
  }
  if (rows.length === 0) throw new Error(`manifest ${file} has a header but no rows`)

  const notes: string[] = []
  const {labels, indexOf} = resolveManifestLabels(rows, opts, file, notes)

  const dir = path.dirname(file)
  const split = opts.split ?? 'all'
  const items: DatasetItem[] = rows.map((r) => ({
    path: path.isAbsolute(r.path) ? path.normalize(r.path) : path.resolve(dir, r.path),
    relPath: toPosix(path.normalize(r.path)),
    label: indexOf(r),
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
  return finish({format: 'csv', root: file, split, labels, items, excluded: [], notes, hasBoxes: boxGiven === 4}, opts)
}

function resolveManifestLabels(
  rows: Row[],
  opts: ManifestOptions,
  file: string,
  notes: string[],
): {labels: string[]; indexOf: (r: Row) => number} {
  const outOfSet = (r: Row, labels: string[]): never => {
    throw new Error(`${file} line ${r.line}: label "${r.label}" is not one of ${labels.length} classes [${labels.join(', ')}]`)
  }

  // 1. Given label set.
  if (opts.labels !== undefined) {
    const labels = Array.isArray(opts.labels) ? [...opts.labels] : parseLabels(opts.labels)
    const byKey = new Map(labels.map((n, i) => [labelKey(n), i]))
    notes.push(`labels from --labels: ${labels.join(', ')}`)
    return {
      labels,
      indexOf: (r) => {
        if (INT.test(r.label)) {
          const i = Number(r.label)
          return i < labels.length ? i : outOfSet(r, labels)
        }
        return byKey.get(labelKey(r.label)) ?? outOfSet(r, labels)
      },
    }
  }

  const ints = rows.filter((r) => INT.test(r.label))
  if (ints.length > 0 && ints.length < rows.length) {
    const odd = rows.find((r) => !INT.test(r.label))!
    throw new Error(
      `${file} line ${odd.line}: label "${odd.label}" is a name but line ${ints[0]!.line} uses an index ("${ints[0]!.label}"); ` +
        'use one or the other, or pass --labels',
    )
  }

  // 2. Indices.
  if (ints.length === rows.length) {
    const max = Math.max(...rows.map((r) => Number(r.label)))
    const n = opts.classes ?? (max <= 6 ? 7 : max === 7 ? 8 : undefined)
    const labels = n === undefined ? undefined : defaultLabelsFor(n)
    if (!labels) {
      throw new Error(
        `${file}: labels are class indices up to ${max} and no label set is known for ` +
          `${n ?? max + 1} classes; pass --labels with the class names in index order`,
      )
    }
    notes.push(
      `labels are class indices; read as ${n === 7 ? 'RAF-DB' : 'AffectNet-8'} order (${labels.map((l, i) => `${i} ${l}`).join(', ')}) ` +
        'because --labels was not given',
    )
    return {labels, indexOf: (r) => (Number(r.label) < labels.length ? Number(r.label) : outOfSet(r, labels))}
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
