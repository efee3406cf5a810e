/**
 * `poster merge`: join the predictions.csv files of a sharded `poster predict` into one, in the order an unsharded
 * run writes (paths sorted by UTF-16 code units, as discovery orders them), so that merging shards 1..N gives the
 * unsharded file byte for byte.
 *
 * - Every file must have the same header (same classes, same landmark columns, same order).
 * - The rows of one path in one file form its block (one row for an image; one per face, or per frame and face for
 *   a video, which a shard holds whole). A path found in more than one file (a shard run twice, overlapping
 *   inputs) is kept once: a block with an ok row over one without, otherwise the first met (files in the order
 *   given). Duplicate rows are counted and listed.
 * - With `inputs`, the inputs are discovered again exactly as predict does and compared: inputs without a row are
 *   missing (an error unless allowMissing; the merged file is written anyway), rows for paths that are not inputs
 *   are counted as unexpected (kept).
 * - Shards must come from one run: the identity each run recorded beside its file (`<csv>.run.json`: model
 *   SHA-256 and classes, preprocessing, face stage, video sampling) must be the same for all, or the merge is
 *   refused naming both files and what differs. A file without a record is merged with a warning. The merged file
 *   gets the shards' common record (so resuming or merging it again is checked too), or none when some lacked it.
 * - The output is checked before anything is read (a regular file or a new path, see prepareOutputFile), written
 *   atomically (temporary file, fsync, rename) and is never an existing file unless `force`.
 */
import {existsSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import path from 'node:path'

import {codeUnitCompare} from '../datasets/fsutil.js'
import {csvLines, okRowProblem, readPredictions} from '../report/predictions-csv.js'
import {writeFileAtomic} from '../basics.js'
import {prepareOutputFile} from '../files.js'
import {discoverPredictInputs} from './predict.js'
import {TOOL_VERSION} from '../version.js'
import {identityDifferences, readRunIdentity, short, sidecarPath, type RunIdentity} from './run-output.js'

export interface MergeOptions {
  /** predictions CSV files written by poster predict (one per shard). */
  files: string[]
  out: string
  /** The inputs given to predict, to report the ones no shard covered. */
  inputs?: string[]
  recursive?: boolean
  /** Replace an existing output file. */
  force?: boolean
  /** With `inputs`: missing inputs are reported but are not an error. */
  allowMissing?: boolean
  onStatus?: (message: string) => void
}

export interface MergeSummary {
  output: string
  files: number
  /** Rows written. */
  rows: number
  ok: number
  errors: number
  /** Rows dropped because their path was already present; paths whose copies differed from the rows kept. */
  duplicates: number
  conflicting_duplicates: number
  duplicate_paths: string[]
  /** Inputs (from `inputs`) without a row; null when no inputs were given. */
  missing: number | null
  missing_paths: string[]
  /** Rows whose path is not among `inputs`; null when no inputs were given. */
  unexpected: number | null
  warnings: string[]
}

/** Raised when inputs are missing; the merged file has been written and `summary` describes it. */
export class MissingInputsError extends Error {
  override readonly name = 'MissingInputsError'
  constructor(message: string, readonly summary: MergeSummary) {
    super(message)
  }
}

const SHOW = 10

function listSome(paths: string[]): string {
  const shown = paths.slice(0, SHOW).map((p) => JSON.stringify(p))
  return shown.join(', ') + (paths.length > SHOW ? `, and ${paths.length - SHOW} more` : '')
}

export async function mergePredictions(opts: MergeOptions): Promise<MergeSummary> {
  const status = opts.onStatus ?? (() => {})
  if (opts.files.length === 0) throw new Error('no files to merge: give the shard CSV files')
  await prepareOutputFile(opts.out)
  if (!opts.force && existsSync(opts.out)) {
    throw new Error(`${opts.out} already exists; remove it or pass --force to replace it`)
  }
  const warnings: string[] = []
  let columns: string[] | undefined
  let columnsFrom = ''
  const kept = new Map<string, {rows: string[][]; ok: boolean}>()
  const duplicatePaths = new Set<string>()
  let duplicates = 0
  let conflicting = 0
  const seenFiles = new Set<string>()
  const identities = new RunIdentities()

  for (const file of opts.files) {
    const real = path.resolve(file)
    if (seenFiles.has(real)) {
      warnings.push(`${file} was given twice; read once`)
      continue
    }
    seenFiles.add(real)
    await identities.add(file)
    let parsed
    try {
      parsed = await readPredictions(file)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new Error(code ? `cannot read ${file}: ${code}` : (e as Error).message)
    }
    warnings.push(...parsed.warnings)
    if (parsed.columns.length === 0) {
      warnings.push(`${file} has no header (an interrupted run that wrote nothing?); skipped`)
      continue
    }
    for (const need of ['path', 'status']) {
      if (!parsed.columns.includes(need)) throw new Error(`${file} is not a predictions file: it has no "${need}" column`)
    }
    if (!columns) {
      columns = parsed.columns
      columnsFrom = file
    } else if (columns.length !== parsed.columns.length || columns.some((c, i) => c !== parsed.columns[i])) {
      const onlyA = columns.filter((c) => !parsed.columns.includes(c))
      const onlyB = parsed.columns.filter((c) => !columns!.includes(c))
      const what = onlyA.length || onlyB.length
        ? `${columnsFrom} has [${onlyA.join(', ')}] that ${file} lacks; ${file} has [${onlyB.join(', ')}] that ${columnsFrom} lacks`
        : 'same columns in another order'
      throw new Error(`headers differ between ${columnsFrom} and ${file} (different model, classes or --landmarks?): ${what}`)
    }
    // Rows written elsewhere are copied as they are: a damaged or edited shard (a probability that is not a
    // number, negative, above 1) is refused rather than passed on.
    const sumsToOne = !columns.includes('label')
    const bad: string[] = []
    for (const rec of parsed.rows) {
      const problem = okRowProblem(rec, columns, {sumsToOne})
      if (problem) bad.push(`${JSON.stringify(rec.path ?? '')}${rec.frame ? ` frame ${rec.frame}` : ''}: ${problem}`)
    }
    if (bad.length > 0) {
      throw new Error(
        `${file} has ${bad.length} ok ${bad.length === 1 ? 'row' : 'rows'} whose numbers are not valid: ` +
          `${bad.slice(0, SHOW).join('; ')}${bad.length > SHOW ? `; and ${bad.length - SHOW} more` : ''}. ` +
          'Run that shard again (poster wrote no such values), or fix the file.',
      )
    }
    const blocks = new Map<string, {rows: string[][]; ok: boolean}>()
    for (const rec of parsed.rows) {
      const p = rec.path ?? ''
      const cells = columns.map((c) => rec[c] ?? '')
      let b = blocks.get(p)
      if (!b) blocks.set(p, (b = {rows: [], ok: false}))
      b.rows.push(cells)
      if (rec.status === 'ok') b.ok = true
    }
    for (const [p, block] of blocks) {
      const prev = kept.get(p)
      if (!prev) {
        kept.set(p, block)
        continue
      }
      duplicatePaths.add(p)
      const same = prev.rows.length === block.rows.length && prev.rows.every((r, i) => r.every((c, j) => c === block.rows[i]![j]))
      if (!same) conflicting++
      if (block.ok && !prev.ok) {
        duplicates += prev.rows.length
        kept.set(p, block)
      } else {
        duplicates += block.rows.length
      }
    }
    status(`${file}: ${parsed.rows.length} rows`)
  }
  if (!columns) throw new Error(`none of the ${opts.files.length} files has a header: nothing to merge`)

  const paths = [...kept.keys()].sort(codeUnitCompare)
  const statusAt = columns.indexOf('status')
  const rows = paths.flatMap((p) => kept.get(p)!.rows)
  const ok = rows.filter((r) => r[statusAt] === 'ok').length
  const errors = rows.filter((r) => r[statusAt] === 'error').length

  let missingPaths: string[] = []
  let unexpected: number | null = null
  if (opts.inputs && opts.inputs.length > 0) {
    const discovered = await discoverPredictInputs(opts.inputs, opts.recursive)
    const inputSet = new Set(discovered.items.map((i) => i.relPath))
    missingPaths = discovered.items.map((i) => i.relPath).filter((p) => !kept.has(p))
    unexpected = paths.filter((p) => !inputSet.has(p)).length
    if (unexpected > 0) warnings.push(`${unexpected} rows are for paths that are not among --inputs (kept); were the inputs written the same way as for predict?`)
  }
  const dups = [...duplicatePaths].sort(codeUnitCompare)
  if (duplicates > 0) {
    warnings.push(
      `${duplicates} duplicate rows dropped (${dups.length} paths present more than once` +
        (conflicting > 0 ? `, ${conflicting} of them with different values; an ok row was preferred, else the first` : ', identical') +
        `): ${listSome(dups)}`,
    )
  }

  warnings.push(...identities.warnings())
  await writeFileAtomic(opts.out, csvLines([columns, ...rows]))
  // The merged file's record: the shards' common one; an older record beside a replaced output never stays.
  const common = identities.common()
  if (common) await writeFileAtomic(sidecarPath(opts.out), JSON.stringify(common.record, null, 2) + '\n')
  else await rm(sidecarPath(opts.out), {force: true})

  const summary: MergeSummary = {
    output: opts.out,
    files: seenFiles.size,
    rows: rows.length,
    ok,
    errors,
    duplicates,
    conflicting_duplicates: conflicting,
    duplicate_paths: dups,
    missing: opts.inputs && opts.inputs.length > 0 ? missingPaths.length : null,
    missing_paths: missingPaths,
    unexpected,
    warnings,
  }
  if (missingPaths.length > 0 && !opts.allowMissing) {
    throw new MissingInputsError(
      `${missingPaths.length} inputs have no row in any of the ${seenFiles.size} files (a shard not run, or not finished): ` +
        `${listSome(missingPaths)}. ${opts.out} was written without them; pass --allow-missing to accept that.`,
      summary,
    )
  }
  return summary
}

/** Fields that may differ between shards of one run: each with why (said as a warning). */
const TOLERATED: Record<string, string> = {
  'video.ffmpeg': 'the shards decoded their videos with different ffmpeg versions: frames may differ slightly in colour',
}

/**
 * The identity records of the shards, checked as they are read: every one must equal the first met, field by field
 * (model SHA-256 and classes, preprocessing, faces, video sampling), else the merge is refused.
 */
class RunIdentities {
  private first: {file: string; identity: RunIdentity; record: unknown} | undefined
  private readonly missing: string[] = []
  private readonly notes = new Set<string>()

  async add(file: string): Promise<void> {
    const identity = await readRunIdentity(file)
    if (identity === undefined) {
      this.missing.push(file)
      return
    }
    if (!this.first) {
      // Recorded as openRunOutput records a run, so that resuming or merging the merged file again is checked.
      this.first = {file, identity, record: {tool: {name: 'poster', version: TOOL_VERSION}, identity}}
      return
    }
    const refused: string[] = []
    for (const d of identityDifferences(this.first.identity, identity)) {
      const note = TOLERATED[d.key]
      if (note) this.notes.add(`${note} (${d.key}: ${short(d.before)} in ${this.first.file}, ${short(d.now)} in ${file})`)
      else refused.push(`${d.key}: ${short(d.before)} in ${this.first.file}, ${short(d.now)} in ${file}`)
    }
    if (refused.length > 0) {
      throw new Error(
        `cannot merge ${this.first.file} and ${file}: they were written by different runs (${refused.join('; ')}). ` +
          'Merge only the shards of one run (same model, classes, preprocessing and flags).',
      )
    }
  }

  warnings(): string[] {
    const out = [...this.notes]
    if (this.missing.length > 0) {
      out.push(
        `${listSome(this.missing)} ${this.missing.length === 1 ? 'has' : 'have'} no .run.json record (written by an older poster, or copied without it): ` +
          'the model and flags that wrote ' + (this.missing.length === 1 ? 'it' : 'them') + ' cannot be checked against the other shards',
      )
    }
    return out
  }

  /** The record every shard shares, when every shard has one. */
  common(): {record: unknown} | undefined {
    return this.first && this.missing.length === 0 ? {record: this.first.record} : undefined
  }
}
