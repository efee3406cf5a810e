/**
 * The loop eval, predict and video share: units (images or frames) → inputs (decode, faces, resize) → batches
 * through the model → rows → (side files such as overlays) → rows appended and synced. The flows differ only in
 * how an outcome becomes rows and what they write beside them; resume, batching, progress and the order of
 * writes live here once.
 */
import type {DatasetItem} from '../datasets/types.js'
import type {PredictionRow} from '../report/predictions-csv.js'
import {runBatches, type UnitOutcome} from '../runtime/batches.js'
import type {LoadedSession} from '../runtime/session.js'
import {inputPreparer, type ModelInput, type PrepareOptions, type UnitSource} from './inputs.js'
import type {RunOutput} from './run-output.js'

export interface LoopUnit<U, S extends UnitSource = UnitSource> {
  item: DatasetItem
  outcome: UnitOutcome<ModelInput, S>
  rows: PredictionRow[]
  /** What the flow attached while building rows (e.g. the overlay to draw). */
  extra?: U
}

export interface LoopOptions<U, S extends UnitSource = UnitSource> extends PrepareOptions {
  session: LoadedSession
  /** The units this run still has to do, in output order: a list, or a stream (video frames). */
  units: Iterable<S> | AsyncIterable<S>
  output: RunOutput
  batchSize: number
  landmarks?: boolean
  strict?: boolean
  timings?: {preprocessMs: number; inferenceMs: number}
  /** An outcome as rows (one per scored face, or one error / no-face row). */
  toRows: (item: DatasetItem, outcome: UnitOutcome<ModelInput, S>) => {rows: PredictionRow[]; extra?: U}
  /**
   * Write what belongs beside a batch's rows (overlays, crops) before the rows are committed: if it throws, the
   * rows are not written and the run stops, so a resumed run redoes those units and their side files.
   */
  beforeCommit?: (units: ReadonlyArray<LoopUnit<U, S>>) => Promise<void>
  /** After each batch is on disk (rows in unit order). */
  afterCommit?: (units: ReadonlyArray<LoopUnit<U, S>>) => void | Promise<void>
}

/** Run the loop; resolves when every unit's rows are on disk. */
export async function runLoop<U = undefined, S extends UnitSource = UnitSource>(opts: LoopOptions<U, S>): Promise<void> {
  const prepare = await inputPreparer(opts)
  for await (const outcomes of runBatches(opts.session, opts.units, {
    batchSize: opts.batchSize,
    prepare,
    landmarks: opts.landmarks,
    strict: opts.strict,
    describe: (u) => u.item.relPath,
    timings: opts.timings,
  })) {
    const units: Array<LoopUnit<U, S>> = outcomes.map((outcome) => {
      const item = outcome.unit.item
      const {rows, extra} = opts.toRows(item, outcome)
      return {item, outcome, rows, extra}
    })
    await opts.beforeCommit?.(units)
    await opts.output.writer.append(units.flatMap((u) => u.rows))
    await opts.output.heartbeat()
    await opts.afterCommit?.(units)
  }
}
