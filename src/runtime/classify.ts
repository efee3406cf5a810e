/**
 * The batch pipeline: preprocess batch k+1 while batch k runs, reuse two input buffers, turn failures into
 * per-item errors instead of aborting. Knows nothing of sharp: the preprocessing function is injected.
 */
import type {LoadedSession} from './session.js'

export const INPUT_SIZE = 224
const ITEM_FLOATS = 3 * INPUT_SIZE * INPUT_SIZE

/** Decode + resize + normalise one image into `out` at `offset` (CHW float32); resolves to its original size. */
export type PreprocessFn = (path: string, out: Float32Array, offset: number) => Promise<{width: number; height: number}>

export interface ItemOutcome {
  /** Index of the item in the input list. */
  index: number
  ok: boolean
  /** Reason when !ok, as users read it in CSVs. */
  error?: string
  /** Length C when ok. */
  logits?: Float32Array
  /** Length 136 (68 x,y pairs normalised to the face crop) when landmarks were asked for and ok. */
  landmarks?: Float32Array
  width?: number
  height?: number
}

export interface ClassifyOptions {
  batchSize: number
  preprocess: PreprocessFn
  landmarks?: boolean
  /** Stop at the first unreadable image instead of reporting it (eval --strict). */
  strict?: boolean
  /**
   * Where the time went, for metrics.json: `preprocessMs` is the time the model sat waiting for decoding (the part
   * of preprocessing not hidden behind the previous batch's inference), `inferenceMs` the time inside the model.
   */
  timings?: {preprocessMs: number; inferenceMs: number}
}

interface PreparedBatch {
  buffer: Float32Array
  /** Item indices packed in buffer order (failed items are left out of the tensor). */
  packed: number[]
  sizes: Array<{width: number; height: number}>
  failed: ItemOutcome[]
}

export class ImageFailure extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`)
  }
}

function reasonOf(error: unknown): string {
  if (error && typeof error === 'object' && 'reason' in error && typeof error.reason === 'string') return error.reason
  return error instanceof Error ? error.message : String(error)
}

/**
 * Run `paths` through the model in batches, in order. Yields one array of outcomes per batch (in input order
 * within the batch), so callers can stream rows to disk as batches finish.
 */
export async function* classifyBatches(
  session: LoadedSession,
  paths: ReadonlyArray<{index: number; path: string}>,
  opts: ClassifyOptions,
): AsyncGenerator<ItemOutcome[]> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize))
  const buffers = [new Float32Array(batchSize * ITEM_FLOATS), new Float32Array(batchSize * ITEM_FLOATS)]
  const batches = Math.ceil(paths.length / batchSize)

  const prepare = async (b: number): Promise<PreparedBatch> => {
    const buffer = buffers[b % 2]
    const slice = paths.slice(b * batchSize, (b + 1) * batchSize)
    const results = await Promise.all(
      slice.map(async (item, slot) => {
        try {
          const size = await opts.preprocess(item.path, buffer, slot * ITEM_FLOATS)
          return {ok: true as const, item, slot, size}
        } catch (error) {
          if (opts.strict) throw new ImageFailure(item.path, reasonOf(error))
          return {ok: false as const, item, slot, reason: reasonOf(error)}
        }
      }),
    )
    const packed: number[] = []
    const sizes: Array<{width: number; height: number}> = []
    const failed: ItemOutcome[] = []
    for (const r of results) {
      if (!r.ok) {
        failed.push({index: r.item.index, ok: false, error: r.reason})
        continue
      }
      // Pack successful items contiguously so the tensor holds no holes.
      if (r.slot !== packed.length) {
        buffer.copyWithin(packed.length * ITEM_FLOATS, r.slot * ITEM_FLOATS, (r.slot + 1) * ITEM_FLOATS)
      }
      packed.push(r.item.index)
      sizes.push(r.size)
    }
    return {buffer, packed, sizes, failed}
  }

  let pending: Promise<PreparedBatch> | undefined = batches > 0 ? prepare(0) : undefined
  for (let b = 0; b < batches; b++) {
    const waitStart = performance.now()
    const current = await pending!
    if (opts.timings) opts.timings.preprocessMs += performance.now() - waitStart
    // Start decoding the next batch now: sharp decodes on the libuv pool while the model runs.
    pending = b + 1 < batches ? prepare(b + 1) : undefined
    pending?.catch(() => {}) // surfaced when awaited; avoid an unhandled rejection meanwhile
    const outcomes: ItemOutcome[] = [...current.failed]
    const n = current.packed.length
    if (n > 0) {
      const t0 = performance.now()
      const out = await session.run(current.buffer, n, {landmarks: opts.landmarks})
      if (opts.timings) opts.timings.inferenceMs += performance.now() - t0
      const classes = out.logits.length / n
      for (let i = 0; i < n; i++) {
        const outcome: ItemOutcome = {
          index: current.packed[i],
          ok: true,
          logits: out.logits.slice(i * classes, (i + 1) * classes),
          width: current.sizes[i].width,
          height: current.sizes[i].height,
        }
        if (out.landmarks) outcome.landmarks = out.landmarks.slice(i * 136, (i + 1) * 136)
        outcomes.push(outcome)
      }
    }
    outcomes.sort((a, b2) => a.index - b2.index)
    yield outcomes
  }
}
