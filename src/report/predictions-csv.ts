/**
 * predictions.csv: one row per image, written as batches finish (so a killed run keeps what it did) and read
 * back for --resume, `poster check` pairing and `poster merge`.
 *
 * Format: RFC 4180 (CRLF line endings; fields holding a comma, a double quote, CR or LF are quoted, quotes
 * doubled), UTF-8 without BOM, non-ASCII kept as is. Probabilities, confidences and landmarks are fixed-point
 * with 6 decimals (never an exponent); `correct` is "true"/"false"; unknown/not applicable fields are empty.
 */

import {promises as fsp} from 'node:fs'
import {parse} from 'csv-parse/sync'
import {readRegularFile} from '../files.js'
import {stringify} from 'csv-stringify/sync'
import {argmax} from '../metrics/classification.js'
import type {FaceFields, Point as PixelPoint} from '../faces/types.js'
import {fixed} from './format.js'

export type {FaceFields} from '../faces/types.js'

/** eval's leading columns, in order. `p_<class>` columns and optional landmark columns follow. */
export const EVAL_BASE_COLUMNS = [
  'path', 'split', 'label', 'label_name', 'pred', 'pred_name', 'confidence', 'correct', 'status', 'error',
] as const

/** predict's leading columns, in order. */
export const PREDICT_BASE_COLUMNS = ['path', 'status', 'error', 'pred', 'pred_name', 'confidence'] as const

/**
 * Face columns, after the leading columns and before the probabilities, when faces come from annotated boxes or
 * a detector (--faces box|detect). `face` is the 0-based index of the face within its image (left to right),
 * `faces` how many the image holds (so a resumed run can tell an image whose rows were cut short). Points are the
 * detector's alignment points, r = the subject's right (on the image's left), in pixels of the original image.
 */
export const FACE_BOX_COLUMNS = ['face_x', 'face_y', 'face_w', 'face_h'] as const
export const FACE_DETECT_COLUMNS = [
  'face_score', 'eye_r_x', 'eye_r_y', 'eye_l_x', 'eye_l_y', 'nose_x', 'nose_y', 'mouth_x', 'mouth_y',
] as const

/** Which face columns a run writes: none (whole images), the box, or the box with the detector's points. */
export type FaceColumnSet = 'none' | 'box' | 'detect'

/** The face columns of a set, in order. */
export function faceColumns(set: FaceColumnSet): string[] {
  if (set === 'none') return []
  if (set === 'box') return [...FACE_BOX_COLUMNS]
  return ['face', 'faces', ...FACE_BOX_COLUMNS, ...FACE_DETECT_COLUMNS]
}

/** Landmark points of the MobileFaceNet head (68 (x, y) pairs). */
export const LANDMARK_POINTS = 68

/** Decimals for probabilities, confidences and landmarks. */
export const PROB_DECIMALS = 6

/** Options for the column sets. */
export interface ColumnOptions {
  /** Add lm0_x, lm0_y, ..., lm67_x, lm67_y. */
  landmarks?: boolean
  /** Landmark points (default 68). */
  landmarkPoints?: number
  /** Face columns (default none). */
  faces?: FaceColumnSet
}

/**
 * The probability column for a class: "p_" + the name, kept as it is (CSV quoting takes care of commas and
 * quotes) except that line breaks and tabs become spaces and surrounding whitespace is trimmed.
 */
export function probColumn(className: string): string {
  return `p_${className.replace(/[\r\n\t]+/g, ' ').trim()}`
}

export function landmarkColumns(points = LANDMARK_POINTS): string[] {
  const cols: string[] = []
  for (let i = 0; i < points; i++) cols.push(`lm${i}_x`, `lm${i}_y`)
  return cols
}

function withClassColumns(base: readonly string[], classNames: readonly string[], opts: ColumnOptions): string[] {
  const cols = [...base, ...faceColumns(opts.faces ?? 'none'), ...classNames.map(probColumn)]
  if (opts.landmarks) cols.push(...landmarkColumns(opts.landmarkPoints))
  assertUniqueColumns(cols)
  return cols
}

/** eval's predictions.csv columns. */
export function evalColumns(classNames: readonly string[], opts: ColumnOptions = {}): string[] {
  return withClassColumns(EVAL_BASE_COLUMNS, classNames, opts)
}

/** predict's predictions.csv columns. */
export function predictColumns(classNames: readonly string[], opts: ColumnOptions = {}): string[] {
  return withClassColumns(PREDICT_BASE_COLUMNS, classNames, opts)
}

function assertUniqueColumns(cols: readonly string[]): void {
  const seen = new Set<string>()
  for (const c of cols) {
    if (c.length === 0) throw new Error('predictions.csv: empty column name')
    if (seen.has(c)) throw new Error(`predictions.csv: column "${c}" appears twice (two classes with the same name?)`)
    seen.add(c)
  }
}

/** The class names behind a header's p_<class> columns, in column order. */
export function classNamesFromColumns(columns: readonly string[]): string[] {
  return columns.filter((c) => c.startsWith('p_')).map((c) => c.slice(2))
}

/** Whether a header has landmark columns (lm0_x ...). */
export function hasLandmarkColumns(columns: readonly string[]): boolean {
  return columns.includes('lm0_x')
}

export type RowStatus = 'ok' | 'error' | 'no_face'

/** One image's outcome, before formatting. Indices (label, pred) are into the class names of the writer. */
export interface PredictionRow {
  /** The path as the user knows it (relative to the dataset root for eval). */
  path: string
  /** ok; error (with a reason); no_face (a detector found none: the image was read, there is nothing to score). */
  status: RowStatus
  /** Why the image failed (status "error"). */
  error?: string
  split?: string
  /** True class index, when labelled. */
  label?: number
  /** True class name; defaults to classNames[label]. */
  labelName?: string
  /** Predicted class index; defaults to the argmax of probs. */
  pred?: number
  /** Predicted class name; defaults to classNames[pred]. */
  predName?: string
  /** Probability of the predicted class; defaults to probs[pred]. */
  confidence?: number
  /** Class probabilities, one per class. */
  probs?: ArrayLike<number>
  /** 2 × points values: x0, y0, x1, y1, ... */
  landmarks?: ArrayLike<number>
  /** The face this row is about (--faces box|detect). */
  face?: FaceFields
  /** Values for any other columns of a custom column set. */
  extra?: Record<string, string | number | boolean | undefined>
}


/**
 * A probability as written: 6 decimals, and 6 significant digits below 0.1 (exponent form below 1e-6), so that
 * small probabilities survive the round trip: a resumed run recomputes NLL from these rows, and −ln(p) of a
 * probability rounded to 0.000000 would be off by tens of nats.
 */
export function formatProb(x: number): string {
  if (x > 0 && x < 0.1) return x.toPrecision(PROB_DECIMALS)
  return fixed(x, PROB_DECIMALS)
}

/** A landmark coordinate as written: pixels, fixed, 6 decimals. */
export function formatCoord(x: number): string {
  return fixed(x, PROB_DECIMALS)
}

/** Everything a row can say, keyed by column name (only the columns asked for are written). */
export function predictionRecord(row: PredictionRow, classNames: readonly string[]): Record<string, string> {
  const rec: Record<string, string> = {
    path: row.path,
    split: row.split ?? '',
    status: row.status,
    error: row.status === 'error' ? (row.error ?? 'unknown error') : (row.error ?? ''),
    label: row.label === undefined ? '' : String(row.label),
    label_name: row.labelName ?? (row.label === undefined ? '' : (classNames[row.label] ?? '')),
    pred: '',
    pred_name: '',
    confidence: '',
    correct: '',
  }
  if (row.status === 'ok') {
    const probs = row.probs
    if (probs !== undefined && probs.length !== classNames.length) {
      throw new Error(`predictions.csv: ${row.path} has ${probs.length} probabilities for ${classNames.length} classes`)
    }
    const pred = row.pred ?? (probs !== undefined ? argmax(probs) : undefined)
    if (pred !== undefined) {
      rec.pred = String(pred)
      rec.pred_name = row.predName ?? classNames[pred] ?? ''
      const conf = row.confidence ?? (probs !== undefined ? probs[pred] : undefined)
      rec.confidence = conf === undefined ? '' : formatProb(conf)
      if (row.label !== undefined) rec.correct = row.label === pred ? 'true' : 'false'
    }
    if (probs !== undefined) {
      classNames.forEach((name, i) => {
        rec[probColumn(name)] = formatProb(probs[i]!)
      })
    }
    if (row.landmarks !== undefined) {
      for (let i = 0; 2 * i + 1 < row.landmarks.length; i++) {
        rec[`lm${i}_x`] = formatCoord(row.landmarks[2 * i]!)
        rec[`lm${i}_y`] = formatCoord(row.landmarks[2 * i + 1]!)
      }
    }
  }
  if (row.face) Object.assign(rec, faceRecord(row.face))
  if (row.extra) {
    for (const [k, v] of Object.entries(row.extra)) {
      rec[k] = v === undefined ? '' : typeof v === 'number' ? String(v) : String(v)
    }
  }
  return rec
}

/** Face columns as written: indices as integers, box and points in pixels (6 decimals), score as a probability. */
function faceRecord(f: FaceFields): Record<string, string> {
  const rec: Record<string, string> = {
    face: String(f.index),
    faces: String(f.count),
    face_x: formatCoord(f.box.x),
    face_y: formatCoord(f.box.y),
    face_w: formatCoord(f.box.w),
    face_h: formatCoord(f.box.h),
  }
  if (f.score !== undefined) rec.face_score = formatProb(f.score)
  const points: Array<[string, PixelPoint | undefined]> = [['eye_r', f.eyeR], ['eye_l', f.eyeL], ['nose', f.nose], ['mouth', f.mouth]]
  for (const [name, p] of points) {
    if (!p) continue
    rec[`${name}_x`] = formatCoord(p.x)
    rec[`${name}_y`] = formatCoord(p.y)
  }
  return rec
}

const STRINGIFY_OPTIONS = {
  record_delimiter: '\r\n',
  quote_record_delimiter: true,
  quoted_match: /[\r\n]/,
  eof: true,
  bom: false,
} as const

/** RFC 4180 text of rows of string cells (each line ends with CRLF). Shared with the confusion CSV. */
export function csvLines(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  if (rows.length === 0) return ''
  return stringify(rows as string[][], STRINGIFY_OPTIONS)
}

/** Cells of records in column order; missing keys are empty. */
function recordsToCells(columns: readonly string[], records: ReadonlyArray<Record<string, string>>): string[][] {
  return records.map((r) => columns.map((c) => r[c] ?? ''))
}

/** A whole predictions.csv as text (header included), for writing in one go. */
export function predictionsCsv(
  columns: readonly string[],
  classNames: readonly string[],
  rows: readonly PredictionRow[],
): string {
  return csvLines([[...columns], ...recordsToCells(columns, rows.map((r) => predictionRecord(r, classNames)))])
}

/** What readPredictions returns. */
export interface PredictionsFile {
  /** Header, in file order. */
  columns: string[]
  /** Complete rows, keyed by column, values as written. */
  rows: Array<Record<string, string>>
  /** Bytes of the file up to the end of its last complete record (where a resumed run appends). */
  completeBytes: number
  /** recordEnds[i]: bytes up to the end of rows[i]; headerBytes: up to the end of the header (0 when none). */
  recordEnds: number[]
  headerBytes: number
  /** A final record without its line ending (a run killed mid-write), left out. */
  droppedPartial?: {line: number; bytes: number; text: string}
  /** Human-readable notes about what was tolerated (the dropped partial row). */
  warnings: string[]
}

/**
 * Byte offsets just past each non-empty record's line ending (line endings inside quoted fields do not end a
 * record; blank lines are not records, as the parser skips them).
 */
function recordEndOffsets(buf: Uint8Array): number[] {
  let inQuotes = false
  let start = 0
  const ends: number[] = []
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]
    if (b === 0x22) inQuotes = !inQuotes
    else if (b === 0x0a && !inQuotes) {
      const blank = i === start || (i === start + 1 && buf[start] === 0x0d)
      if (!blank) ends.push(i + 1)
      start = i + 1
    }
  }
  return ends
}

/** Byte offset just past the last line ending that is not inside a quoted field (0 when there is none). */
function lastCompleteRecordEnd(buf: Uint8Array): number {
  let inQuotes = false
  let end = 0
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]
    if (b === 0x22) inQuotes = !inQuotes
    else if (b === 0x0a && !inQuotes) end = i + 1
  }
  return end
}

function countLines(buf: Uint8Array, end: number): number {
  let n = 0
  for (let i = 0; i < end; i++) if (buf[i] === 0x0a) n++
  return n
}

/**
 * Parse predictions.csv content. A final record cut short (no line ending after it) is dropped and reported in
 * `droppedPartial`/`warnings`; any other malformation (wrong field count, bad quoting, duplicate header) throws.
 */
export function parsePredictionsCsv(data: string | Uint8Array, name = 'predictions.csv'): PredictionsFile {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const completeBytes = lastCompleteRecordEnd(buf)
  const warnings: string[] = []
  let droppedPartial: PredictionsFile['droppedPartial']
  const tail = buf.subarray(completeBytes)
  // Trailing NULs/whitespace only (a filesystem that zero-filled after a crash, or a stray blank) is not a row.
  const tailText = tail.toString('utf8')
  if (tailText.replace(/[\0\s]+/g, '').length > 0) {
    const line = countLines(buf, completeBytes) + 1
    droppedPartial = {line, bytes: tail.length, text: tailText}
    warnings.push(
      `${name}: dropped an incomplete last row (line ${line}, ${tail.length} bytes, no line ending): ` +
        'the run that wrote it was interrupted; that image will be redone',
    )
  }
  let records: string[][]
  try {
    records = parse(buf.subarray(0, completeBytes), {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as string[][]
  } catch (err) {
    throw new Error(`${name} is not valid CSV: ${(err as Error).message}`)
  }
  if (records.length === 0) {
    if (droppedPartial) warnings[0] = `${name}: its header was cut short (an interrupted run); starting it afresh`
    return {columns: [], rows: [], completeBytes: 0, recordEnds: [], headerBytes: 0, droppedPartial, warnings}
  }
  const columns = records[0]!
  const seen = new Set<string>()
  for (const c of columns) {
    if (seen.has(c)) throw new Error(`${name}: column "${c}" appears twice in the header`)
    seen.add(c)
  }
  const rows: Array<Record<string, string>> = []
  for (let r = 1; r < records.length; r++) {
    const cells = records[r]!
    if (cells.length !== columns.length) {
      throw new Error(`${name}: record ${r + 1} has ${cells.length} fields, the header has ${columns.length}`)
    }
    const rec: Record<string, string> = {}
    columns.forEach((c, i) => {
      rec[c] = cells[i]!
    })
    rows.push(rec)
  }
  const ends = recordEndOffsets(buf.subarray(0, completeBytes))
  // One end per parsed record (header first) unless a quoting oddity split them differently; then no offsets.
  const aligned = ends.length === records.length
  return {
    columns,
    rows,
    completeBytes,
    recordEnds: aligned ? ends.slice(1) : [],
    headerBytes: aligned ? ends[0]! : 0,
    droppedPartial,
    warnings,
  }
}

/** Read predictions.csv (see parsePredictionsCsv). */
export async function readPredictions(path: string): Promise<PredictionsFile> {
  return parsePredictionsCsv(await readRegularFile(path), path)
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined
  const v = Number(s)
  return Number.isNaN(v) && s.trim() !== 'NaN' ? undefined : v
}

/** A read record back as a PredictionRow (numbers parsed; probabilities in p_ column order). */
export function recordToPredictionRow(record: Record<string, string>, columns?: readonly string[]): PredictionRow {
  const cols = columns ?? Object.keys(record)
  const status: RowStatus = record.status === 'error' ? 'error' : record.status === 'no_face' ? 'no_face' : 'ok'
  const row: PredictionRow = {path: record.path ?? '', status}
  if (record.error) row.error = record.error
  if (record.split) row.split = record.split
  const label = num(record.label)
  if (label !== undefined) row.label = label
  if (record.label_name) row.labelName = record.label_name
  if (status === 'ok') {
    const pred = num(record.pred)
    if (pred !== undefined) row.pred = pred
    if (record.pred_name) row.predName = record.pred_name
    const conf = num(record.confidence)
    if (conf !== undefined) row.confidence = conf
    const pcols = cols.filter((c) => c.startsWith('p_'))
    if (pcols.length > 0 && pcols.every((c) => (record[c] ?? '') !== '')) {
      row.probs = pcols.map((c) => Number(record[c]))
    }
    if (cols.includes('lm0_x') && (record.lm0_x ?? '') !== '') {
      const lm: number[] = []
      for (let i = 0; cols.includes(`lm${i}_x`); i++) lm.push(Number(record[`lm${i}_x`]), Number(record[`lm${i}_y`]))
      row.landmarks = lm
    }
  }
  return row
}

/** A decimal number as poster writes it (fixed point), or with an exponent; nothing else (no hex, no blanks). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

/** How far the probabilities of a row may sum from 1: far above 6-decimal rounding (C × 5e-7), far below damage. */
export const PROB_SUM_TOLERANCE = 1e-3

/**
 * What is wrong with an ok row's numbers, or undefined: every p_ cell a number in [0, 1], together at most 1 and,
 * with `sumsToOne` (predict's rows: the model's full softmax), 1 (± PROB_SUM_TOLERANCE; eval's columns are the
 * dataset's classes, which may be a part of the model's), smoothed probabilities (when filled) and the confidence numbers in [0, 1], pred a class
 * index. Error and no-face rows carry no numbers and are not checked. Used where rows written elsewhere are
 * trusted (poster merge), so that a damaged or hand-edited shard is refused rather than copied.
 */
export function okRowProblem(record: Record<string, string>, columns: readonly string[], opts: {sumsToOne?: boolean} = {}): string | undefined {
  if (record.status !== 'ok') return undefined
  const probCols = columns.filter((c) => c.startsWith('p_'))
  const smoothCols = columns.filter((c) => c.startsWith('smooth_') && c !== 'smooth_pred' && c !== 'smooth_pred_name')
  const probability = (c: string, required: boolean): number | string | undefined => {
    const cell = record[c] ?? ''
    if (cell === '') return required ? `${c} is empty` : undefined
    if (!DECIMAL.test(cell)) return `${c} ${JSON.stringify(cell)} is not a number`
    const v = Number(cell)
    if (!(v >= 0 && v <= 1)) return `${c} ${cell} is not a probability (outside 0..1)`
    return v
  }
  let sum = 0
  for (const c of probCols) {
    const v = probability(c, true)
    if (typeof v === 'string') return v
    sum += v as number
  }
  if (probCols.length > 0 && (sum > 1 + PROB_SUM_TOLERANCE || (opts.sumsToOne && sum < 1 - PROB_SUM_TOLERANCE))) {
    return `the p_ columns sum to ${sum.toFixed(6)}, not 1`
  }
  for (const c of [...smoothCols, ...(columns.includes('confidence') ? ['confidence'] : [])]) {
    const v = probability(c, false)
    if (typeof v === 'string') return v
  }
  const pred = record.pred ?? ''
  if (columns.includes('pred') && pred !== '' && !(/^\d+$/.test(pred) && Number(pred) < Math.max(probCols.length, 1))) {
    return `pred ${JSON.stringify(pred)} is not a class index (0..${probCols.length - 1})`
  }
  return undefined
}

/** Rows by path; when a path appears more than once (a resumed run that redid it), the last row wins. */
export function indexByPath(rows: ReadonlyArray<Record<string, string>>): Map<string, Record<string, string>> {
  const m = new Map<string, Record<string, string>>()
  for (const r of rows) m.set(r.path ?? '', r)
  return m
}

export interface PredictionsWriterOptions {
  /** The header (evalColumns / predictColumns, or any custom set). */
  columns: readonly string[]
  /** Class names, in probability order (to name p_ columns and fill pred_name/label_name). */
  classNames: readonly string[]
  /**
   * Continue an existing file: its header must equal `columns`; its complete rows are kept (see `existing`),
   * an incomplete last row is cut off, and new rows are appended. Without it an existing file is replaced.
   */
  resume?: boolean
  /** fsync after every append (default true). */
  fsync?: boolean
  /**
   * When resuming: how many of the existing rows to keep (default all). Rows after them are cut off the file, as
   * an incomplete last row is: a unit (an image with several faces) whose rows were cut short is redone whole.
   */
  keepRows?: (existing: PredictionsFile) => number
}

/**
 * Streaming predictions.csv writer: the header is written (and synced) on open, each append() writes one batch
 * and fsyncs it, so an interrupted run leaves every finished batch on disk (at worst a partial last row, which
 * readPredictions drops). Appends are serialised even when not awaited.
 */
export class PredictionsWriter {
  readonly path: string
  readonly columns: readonly string[]
  readonly classNames: readonly string[]
  /** When resuming: what the file already held. */
  readonly existing?: PredictionsFile
  private handle: fsp.FileHandle | undefined
  private readonly doSync: boolean
  private queue: Promise<void> = Promise.resolve()
  private written = 0
  private failed: Error | undefined

  private constructor(
    path: string,
    handle: fsp.FileHandle,
    opts: PredictionsWriterOptions,
    existing: PredictionsFile | undefined,
  ) {
    this.path = path
    this.handle = handle
    this.columns = [...opts.columns]
    this.classNames = [...opts.classNames]
    this.doSync = opts.fsync ?? true
    this.existing = existing
  }

  /** Open (create, replace, or with `resume` continue) a predictions file. */
  static async open(path: string, opts: PredictionsWriterOptions): Promise<PredictionsWriter> {
    assertUniqueColumns(opts.columns)
    let existing: PredictionsFile | undefined
    if (opts.resume) {
      try {
        existing = await readPredictions(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    if (existing && existing.columns.length > 0) {
      const same =
        existing.columns.length === opts.columns.length && existing.columns.every((c, i) => c === opts.columns[i])
      if (!same) {
        throw new Error(
          `cannot resume ${path}: it has the columns [${existing.columns.join(', ')}] but this run writes ` +
            `[${opts.columns.join(', ')}] (different classes, landmarks or command?)`,
        )
      }
      let end = existing.completeBytes
      const keep = opts.keepRows ? Math.max(0, Math.min(existing.rows.length, opts.keepRows(existing))) : existing.rows.length
      if (keep < existing.rows.length) {
        if (existing.recordEnds.length !== existing.rows.length) {
          throw new Error(`cannot resume ${path}: its records could not be located in the file to cut off an incomplete image`)
        }
        end = keep === 0 ? existing.headerBytes : existing.recordEnds[keep - 1]!
        existing = {...existing, rows: existing.rows.slice(0, keep), recordEnds: existing.recordEnds.slice(0, keep), completeBytes: end}
      }
      const handle = await fsp.open(path, 'r+')
      try {
        await handle.truncate(end)
        if (opts.fsync ?? true) await handle.sync()
      } catch (err) {
        await handle.close()
        throw err
      }
      await handle.close()
      const appendHandle = await fsp.open(path, 'a')
      return new PredictionsWriter(path, appendHandle, opts, existing)
    }
    const handle = await fsp.open(path, 'w')
    const w = new PredictionsWriter(path, handle, opts, existing)
    try {
      await handle.write(csvLines([[...opts.columns]]))
      if (w.doSync) await handle.sync()
    } catch (err) {
      await handle.close()
      throw err
    }
    return w
  }

  /** Rows appended through this writer (not counting `existing`). */
  get rowsWritten(): number {
    return this.written
  }

  /** Append a batch of rows and sync it to disk. */
  append(rows: readonly PredictionRow[]): Promise<void> {
    let records: Array<Record<string, string>>
    try {
      records = rows.map((r) => predictionRecord(r, this.classNames))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.appendRecords(records)
  }

  /** Append rows given as column → value records (e.g. read from another file by `poster merge`). */
  appendRecords(records: ReadonlyArray<Record<string, string>>): Promise<void> {
    const text = csvLines(recordsToCells(this.columns, records))
    const p = this.queue.then(async () => {
      if (this.failed) throw this.failed
      const h = this.handle
      if (!h) throw new Error(`${this.path}: write after close`)
      if (text.length === 0) return
      try {
        await h.write(text)
        if (this.doSync) await h.sync()
        this.written += records.length
      } catch (err) {
        this.failed = err as Error
        throw err
      }
    })
    this.queue = p.catch(() => undefined)
    return p
  }

  /** Wait for pending appends, sync and close. Safe to call twice. */
  async close(): Promise<void> {
    await this.queue
    const h = this.handle
    this.handle = undefined
    if (!h) return
    try {
      if (this.doSync && !this.failed) await h.sync()
    } finally {
      await h.close()
    }
  }
}
