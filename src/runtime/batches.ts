/**
 * The batch runner shared by eval, predict (and video): prepare unit k+1's model inputs while unit k's run,
 * pack them into one reused tensor, turn failures into per-unit errors instead of aborting.
 *
 * A *unit* is what a row of output belongs to: an image, or a video frame. Preparing a unit (decoding it, finding
 * its faces, resizing each face) gives zero or more model inputs: one for a whole image or an annotated box, one
 * per face found by a detector, none when it holds no face. The runner knows nothing of images: preparation is
 * injected, and each prepared input writes its own normalised 3×224×224 floats.
 */
import {INPUT_NUMEL} from '../basics.js'
import type {LoadedSession} from './session.js'

export {INPUT_SIZE} from '../basics.js'
const ITEM_FLOATS = INPUT_NUMEL

/** One model input, ready to be written into the batch tensor. */
export interface PreparedInput {
  /** Write this input's CHW float32 values (3 × 224 × 224) into `out` at element `offset`. */
  fill(out: Float32Array, offset: number): void
}

/** A prepared unit: its inputs and whatever the caller needs later to build its rows. */
export type PreparedUnit<T> = {ok: true; inputs: T[]} | {ok: false; error: string}

/** What the model said about one input of a unit. */
export interface InputOutput {
  /** Length C. */
  logits: Float32Array
  /** Length 136 (68 x,y pairs normalised to the model input) when landmarks were asked for. */
  landmarks?: Float32Array
}

export interface UnitOutcome<T, S = number> {
  /** The unit's position in the order runBatches read the units (0-based). */
  index: number
  /** The unit as the source gave it. */
  unit: S
  ok: boolean
  /** Reason when !ok, as users read it in CSVs. */
  error?: string
  /** The prepared inputs (ok only), in order, each with the model's outputs. */
  inputs: Array<{input: T; output: InputOutput}>
}

export interface BatchOptions<T extends PreparedInput, S> {
  /** Units per batch (and the most inputs per model call). */
  batchSize: number
  /** Prepare a unit (decode, faces, resize); a rejection is that unit's error. */
  prepare: (unit: S, index: number) => Promise<PreparedUnit<T>>
  landmarks?: boolean
  /** Stop at the first unit that fails to prepare instead of reporting it (eval --strict). */
  strict?: boolean
  /** Names the unit in the error thrown under `strict`. */
  describe?: (unit: S) => string
  /**
   * Where the time went: `preprocessMs` is the time the model sat waiting for preparation (the part not hidden
   * behind the previous batch's inference), `inferenceMs` the time inside the model.
   */
  timings?: {preprocessMs: number; inferenceMs: number}
}

export class UnitFailure extends Error {
  constructor(readonly unit: string, readonly reason: string) {
    super(`${unit}: ${reason}`)
  }
}

export function reasonOf(error: unknown): string {
  if (error && typeof error === 'object' && 'reason' in error && typeof error.reason === 'string') return error.reason
  return error instanceof Error ? error.message : String(error)
}

interface PreparedBatch<T, S> {
  units: S[]
  first: number
  prepared: Array<PreparedUnit<T>>
  /** The tensor holding every input of the batch, in unit order, then input order. */
  buffer: Float32Array
  inputs: number
}

/** Grow-only tensor buffers, two of them so the next batch can be filled while the current one runs. */
class TensorBuffers {
  private readonly buffers: Float32Array[] = []
  constructor(private readonly initialInputs: number) {}
  get(slot: number, inputs: number): Float32Array {
    const need = Math.max(inputs, this.initialInputs) * ITEM_FLOATS
    let b = this.buffers[slot]
    if (b === undefined || b.length < need) {
      b = new Float32Array(need)
      this.buffers[slot] = b
    }
    return b
  }
}

/**
 * Run the units of `source` through the model in batches, in order. The source may be a list or a stream (video
 * frames as they are decoded): a batch takes the next `batchSize` units from it. Yields one array of outcomes per
 * batch (in unit order), so callers can stream rows to disk as batches finish. A batch whose units hold more
 * inputs than `batchSize` (a group photo) is run in several model calls of at most `batchSize` inputs.
 */
export async function* runBatches<T extends PreparedInput, S>(
  session: LoadedSession,
  source: Iterable<S> | AsyncIterable<S>,
  opts: BatchOptions<T, S>,
): AsyncGenerator<Array<UnitOutcome<T, S>>> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize))
  const buffers = new TensorBuffers(batchSize)
  const iterator: Iterator<S> | AsyncIterator<S> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<S>)[Symbol.iterator]()
  let read = 0
  let exhausted = false

  const prepare = async (b: number): Promise<PreparedBatch<T, S> | undefined> => {
    const units: S[] = []
    const first = read
    // Units are taken one after the other (a stream is read in order); their preparation runs side by side.
    const preparing: Array<Promise<PreparedUnit<T>>> = []
    while (!exhausted && units.length < batchSize) {
      const next = await iterator.next()
      if (next.done) {
        exhausted = true
        break
      }
      const unit = next.value
      const index = read++
      units.push(unit)
      preparing.push(
        opts.prepare(unit, index).catch((error: unknown): PreparedUnit<T> => ({ok: false, error: reasonOf(error)})),
      )
    }
    if (units.length === 0) return undefined
    const prepared = await Promise.all(preparing)
    if (opts.strict) {
      const k = prepared.findIndex((p) => !p.ok)
      if (k >= 0) {
        const p = prepared[k] as {ok: false; error: string}
        throw new UnitFailure(opts.describe?.(units[k]!) ?? `item ${first + k}`, p.error)
      }
    }
    let inputs = 0
    for (const p of prepared) if (p.ok) inputs += p.inputs.length
    // Filled here, while the previous batch is still in the model: the tensor is ready when its turn comes.
    const buffer = buffers.get(b % 2, inputs)
    let slot = 0
    for (const p of prepared) {
      if (!p.ok) continue
      for (const input of p.inputs) input.fill(buffer, slot++ * ITEM_FLOATS)
    }
    return {units, first, prepared, buffer, inputs}
  }

  let pending: Promise<PreparedBatch<T, S> | undefined> | undefined = prepare(0)
  for (let b = 0; pending; b++) {
    const waitStart = performance.now()
    const current = await pending
    if (opts.timings) opts.timings.preprocessMs += performance.now() - waitStart
    if (!current) break
    // Start preparing the next batch now: decoding runs on the libuv pool while the model runs.
    pending = exhausted ? undefined : prepare(b + 1)
    pending?.catch(() => {}) // surfaced when awaited; avoid an unhandled rejection meanwhile

    const outputs: InputOutput[] = []
    for (let start = 0; start < current.inputs; start += batchSize) {
      const n = Math.min(batchSize, current.inputs - start)
      const t0 = performance.now()
      const view = current.buffer.subarray(start * ITEM_FLOATS, (start + n) * ITEM_FLOATS)
      const out = await session.run(view, n, {landmarks: opts.landmarks})
      if (opts.timings) opts.timings.inferenceMs += performance.now() - t0
      const classes = out.logits.length / n
      for (let i = 0; i < n; i++) {
        const o: InputOutput = {logits: out.logits.slice(i * classes, (i + 1) * classes)}
        if (out.landmarks) o.landmarks = out.landmarks.slice(i * 136, (i + 1) * 136)
        outputs.push(o)
      }
    }

    let next = 0
    const outcomes: Array<UnitOutcome<T, S>> = current.units.map((unit, k) => {
      const index = current.first + k
      const p = current.prepared[k]!
      if (!p.ok) return {index, unit, ok: false, error: p.error, inputs: []}
      return {index, unit, ok: true, inputs: p.inputs.map((input) => ({input, output: outputs[next++]!}))}
    })
    yield outcomes
  }
}
