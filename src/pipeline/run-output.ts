/**
 * Opening a run's predictions file, for eval, predict and video alike:
 * - one run at a time per output (`<csv>.lock`, see run-lock.ts);
 * - the run's identity (model SHA-256 and class names, dataset, split, preprocessing, face stage) recorded beside
 *   it in `<csv>.run.json`, and a resume that differs refused with both sides named, so rows of two models or two
 *   datasets never end up in one file;
 * - on resume, the rows already there grouped by unit (an image, or a video frame), and a last unit whose rows
 *   were cut short by a kill (an image with three faces, two rows on disk) cut off and redone whole.
 */
import {prepareOutputFile, readRegularText} from '../files.js'
import {
  PredictionsWriter,
  classNamesFromColumns,
  hasLandmarkColumns,
  readPredictions,
  type PredictionsFile,
} from '../report/predictions-csv.js'
import {acquireRunLock, type RunLock} from '../report/run-lock.js'
import {writeFileAtomic} from '../basics.js'
import {TOOL_VERSION} from '../version.js'

/** What must be the same for two runs to share one output. Values are compared as JSON. */
export type RunIdentity = Record<string, unknown>

export interface RunOutputOptions {
  columns: readonly string[]
  classNames: readonly string[]
  resume?: boolean
  identity: RunIdentity
  /** The unit a record belongs to (default its path). */
  unitKey?: (record: Record<string, string>) => string
  /**
   * Identity fields that may differ on resume with a warning instead of a refusal, each with the sentence to say
   * (e.g. a dataset found at a new path whose list of images and labels is unchanged).
   */
  tolerate?: (key: string, before: unknown, now: unknown, recorded: RunIdentity) => string | undefined
}

export interface RunOutput {
  writer: PredictionsWriter
  /** Complete units already in the file, by unit key, their records in file order. */
  done: Map<string, Array<Record<string, string>>>
  warnings: string[]
  /** After each batch: keep the lock fresh. */
  heartbeat(): Promise<void>
  /** Close the writer and give the lock back. */
  close(): Promise<void>
}

export const sidecarPath = (csv: string): string => `${csv}.run.json`

const defaultKey = (r: Record<string, string>) => r.path ?? ''

/** Read a run's identity record, if it has one. */
export async function readRunIdentity(csv: string): Promise<RunIdentity | undefined> {
  let text: string
  try {
    text = await readRegularText(sidecarPath(csv), {maxBytes: 16 * 2 ** 20})
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`cannot read ${sidecarPath(csv)}, which records which model and data wrote ${csv}: ${(e as Error).message}`)
  }
  try {
    const parsed = JSON.parse(text) as {identity?: RunIdentity}
    return parsed.identity
  } catch {
    throw new Error(`${sidecarPath(csv)} is not valid JSON; it records which model and data wrote ${csv}`)
  }
}

/** A recorded value as a short text for messages. */
export function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return s === undefined ? 'nothing' : s.length > 120 ? `${s.slice(0, 117)}...` : s
}

/** The identity fields that differ, as "key: recorded X, this run Y" sentences (nested objects flattened). */
export function identityDifferences(recorded: RunIdentity, now: RunIdentity): Array<{key: string; before: unknown; now: unknown}> {
  const diffs: Array<{key: string; before: unknown; now: unknown}> = []
  const walk = (a: unknown, b: unknown, prefix: string) => {
    const isObj = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x)
    if (isObj(a) && isObj(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)])
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k)
      return
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push({key: prefix, before: a, now: b})
  }
  walk(recorded, now, '')
  return diffs
}

/** The header mismatch of a resume, said as what differs rather than as two lists of 146 columns. */
function explainHeaderMismatch(output: string, had: readonly string[], want: readonly string[]): Error {
  if (!had.includes('path') || !had.includes('status')) {
    return new Error(`cannot resume ${output}: it is not a predictions file (its header is [${had.slice(0, 8).join(', ')}]); choose another --out`)
  }
  const diffs: string[] = []
  const lmHad = hasLandmarkColumns(had)
  const lmWant = hasLandmarkColumns(want)
  if (lmHad !== lmWant) diffs.push(lmHad ? 'it has landmark columns (pass --landmarks)' : 'it has no landmark columns (drop --landmarks)')
  const faceHad = had.includes('face_x') ? (had.includes('face_score') ? 'detect' : 'box') : 'whole'
  const faceWant = want.includes('face_x') ? (want.includes('face_score') ? 'detect' : 'box') : 'whole'
  if (faceHad !== faceWant) diffs.push(`it was written with --faces ${faceHad}, this run uses --faces ${faceWant}`)
  const cHad = classNamesFromColumns(had)
  const cWant = classNamesFromColumns(want)
  if (cHad.join('\n') !== cWant.join('\n')) diffs.push(`its classes are [${cHad.join(', ')}], this model's are [${cWant.join(', ')}]`)
  if (diffs.length === 0) diffs.push(`its header is [${had.slice(0, 8).join(', ')}${had.length > 8 ? ', ...' : ''}]`)
  return new Error(`cannot resume ${output}: it was written by another kind of run: ${diffs.join('; ')}. Use the same model and flags, or another --out.`)
}

/**
 * How many leading records belong to complete units. Units are appended whole and in order, so only the last
 * one can be cut short: it is complete when it is an error/no-face row, or when it has as many rows as its
 * `faces` column says (files without that column have one row per unit).
 */
export function completeRecordCount(file: PredictionsFile, unitKey = defaultKey): number {
  const rows = file.rows
  if (rows.length === 0 || !file.columns.includes('faces')) return rows.length
  const lastKey = unitKey(rows[rows.length - 1]!)
  let first = rows.length - 1
  while (first > 0 && unitKey(rows[first - 1]!) === lastKey) first--
  const unit = rows.slice(first)
  const head = unit[0]!
  if (head.status !== 'ok') return rows.length
  const expected = Number(head.faces)
  if (!Number.isInteger(expected) || expected < 1) return rows.length
  return unit.length >= expected ? rows.length : first
}

export async function openRunOutput(output: string, opts: RunOutputOptions): Promise<RunOutput> {
  // A device, FIFO or /proc path is refused before a lock is taken beside it or a byte of it is read.
  await prepareOutputFile(output)
  const lock: RunLock = await acquireRunLock(output)
  try {
    return await openLocked(output, opts, lock)
  } catch (e) {
    await lock.release()
    throw e
  }
}

async function openLocked(output: string, opts: RunOutputOptions, lock: RunLock): Promise<RunOutput> {
  const warnings: string[] = []
  const unitKey = opts.unitKey ?? defaultKey
  let hadFile = false
  if (opts.resume) {
    const recorded = await readRunIdentity(output)
    let existing: PredictionsFile | undefined
    try {
      existing = await readPredictions(output)
      hadFile = existing.columns.length > 0
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    if (hadFile && existing) {
      const same = existing.columns.length === opts.columns.length && existing.columns.every((c, i) => c === opts.columns[i])
      if (!same) throw explainHeaderMismatch(output, existing.columns, opts.columns)
    }
    if (recorded) {
      const refused: string[] = []
      for (const d of identityDifferences(recorded, opts.identity)) {
        const note = opts.tolerate?.(d.key, d.before, d.now, recorded)
        if (note) warnings.push(note)
        else refused.push(`${d.key}: ${short(d.before)} there, ${short(d.now)} now`)
      }
      if (refused.length > 0) {
        throw new Error(
          `cannot resume ${output}: it was written by a different run (${refused.join('; ')}). ` +
            'Resume with the same model, data and flags, or choose another --out.',
        )
      }
    } else if (hadFile && (existing?.rows.length ?? 0) > 0) {
      warnings.push(`${output} has no ${sidecarPath(output)} (written by an older poster): the model and data that wrote its rows cannot be checked`)
    }
  }
  const writer = await PredictionsWriter.open(output, {
    columns: opts.columns,
    classNames: opts.classNames,
    resume: opts.resume,
    keepRows: (file) => completeRecordCount(file, unitKey),
  })
  const existing = writer.existing
  for (const w of existing?.warnings ?? []) warnings.push(w)
  const done = new Map<string, Array<Record<string, string>>>()
  for (const rec of existing?.rows ?? []) {
    const k = unitKey(rec)
    const list = done.get(k)
    if (list) list.push(rec)
    else done.set(k, [rec])
  }
  try {
    await writeFileAtomic(
      sidecarPath(output),
      JSON.stringify({tool: {name: 'poster', version: TOOL_VERSION}, identity: opts.identity}, null, 2) + '\n',
    )
  } catch (e) {
    await writer.close()
    throw e
  }
  return {
    writer,
    done,
    warnings,
    heartbeat: () => lock.refresh(),
    async close() {
      try {
        await writer.close()
      } finally {
        await lock.release()
      }
    },
  }
}
