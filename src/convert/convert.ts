/**
 * `poster convert` as a straight line: checkpoint reader → POSTER++ graph builder → ONNX writer. The model
 * file carries what a later `eval` needs to trust it: label names in class order, the preprocessing, and
 * where it came from (checkpoint SHA-256, epoch, best_acc).
 */
import {basename, dirname} from 'node:path'

import {removeStaleTemps} from '../basics.js'

import {readCheckpoint} from '../checkpoint/index.js'
import {prepareOutputFile} from '../files.js'
import {buildPosterGraph} from '../poster/index.js'
import {HEAD_WEIGHT} from '../poster/architecture.js'
import {deterministicPosterWeights, WEIGHT_SEED} from '../poster/deterministic-weights.js'
import {modelStats, writeModel, type OnnxModel} from '../onnx/index.js'
import type {Int8Options, Int8Report} from './int8.js'
import type {TensorMap} from '../tensor.js'
import {TOOL_VERSION} from '../version.js'

export interface ConvertOptions {
  checkpoint: string
  /** Output .onnx path (default: the checkpoint's path with .onnx). */
  out?: string
  /** Expected class count; the head decides and must agree. */
  classes?: number
  /** Class names in the model's output order. */
  labels?: string[]
  /**
   * float32; float16 (weights stored as float16, computed in float32); int8 (QDQ graph computed in int8 by
   * onnxruntime, activation ranges calibrated on `int8.calibrate`).
   */
  dtype?: ConvertDtype
  /** Calibration settings, required with dtype int8. */
  int8?: Omit<Int8Options, 'onStatus'>
  onStatus?: (message: string) => void
}

export type ConvertDtype = 'float32' | 'float16' | 'int8'

export interface ConvertResult {
  out: string
  bytes: number
  numClasses: number
  labels: string[]
  /**
   * epoch and best_acc as the checkpoint holds them: numbers, an integer beyond 2^53 as its exact decimal string,
   * or the checkpoint's own string (shown escaped).
   */
  checkpoint: {path: string; sha256: string; format: string; epoch?: number | string; best_acc?: number | string; tensors: number}
  graph: {nodes: number; initializers: number; parameters: number; opset: number}
  dtype: ConvertDtype
  /** What calibration and the int8 graph came to (dtype int8). */
  int8?: Int8Report
  /** quantize: calibration, range-method choice and kernel check (dtype int8). */
  seconds: {read: number; build: number; quantize?: number; write: number; total: number}
}

/** Class names that do not match the checkpoint's classifier head (exit 1, as a --labels count that does not fit a model anywhere). */
export class LabelCountError extends Error {}

export function defaultOnnxPath(checkpoint: string): string {
  return /\.(pth|pt|tar|ckpt|bin)$/i.test(checkpoint) ? checkpoint.replace(/\.[^.]+$/, '.onnx') : `${checkpoint}.onnx`
}

export async function convertCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const t0 = performance.now()
  // Checked before minutes of reading and building: a device or /proc path is refused at once.
  await prepareOutputFile(opts.out ?? defaultOnnxPath(opts.checkpoint))
  const status = opts.onStatus ?? (() => {})
  const out = opts.out ?? defaultOnnxPath(opts.checkpoint)
  // A convert killed while writing leaves its temporary file (as big as the model) beside the output: the next one
  // to the same output removes it, whether or not it gets as far as writing.
  reportStale(await removeStaleTemps(dirname(out), {target: out}), status)
  status(`reading ${opts.checkpoint}`)
  const ckpt = await readCheckpoint(opts.checkpoint, {sha256: true})
  const t1 = performance.now()
  if (opts.labels && opts.classes === undefined) {
    const head = ckpt.stateDict.get(HEAD_WEIGHT)
    if (head && head.shape.length === 2 && head.shape[0] !== opts.labels.length) {
      throw new LabelCountError(
        `${opts.labels.length} labels given (${opts.labels.join(', ')}) but the checkpoint's classifier head has ${head.shape[0]} classes ` +
          `(${HEAD_WEIGHT} [${head.shape.join(', ')}])`,
      )
    }
  }
  const meta: Record<string, string> = {
    source_checkpoint: basename(opts.checkpoint),
    source_sha256: ckpt.sha256 ?? '',
    source_format: ckpt.format,
  }
  const epoch = jsonMeta(ckpt.meta.epoch)
  const bestAcc = jsonMeta(ckpt.meta.best_acc)
  // The model metadata keeps numbers only (exact, as decimal text): an epoch string is the file's, not a count.
  if (typeof ckpt.meta.epoch === 'number' || typeof ckpt.meta.epoch === 'bigint') meta.epoch = String(ckpt.meta.epoch)
  if (typeof ckpt.meta.best_acc === 'number') meta.best_acc = String(ckpt.meta.best_acc)
  status(`building the POSTER++ graph from ${ckpt.stateDict.size} tensors`)
  let model = buildModel(ckpt.stateDict, {...opts, dtype: opts.dtype === 'int8' ? 'float32' : opts.dtype, metadata: meta})
  const tb = performance.now()
  let int8: Int8Report | undefined
  if (opts.dtype === 'int8') {
    if (!opts.int8?.calibrate) throw new Error('an int8 conversion needs calibration images (--calibrate DATASET_OR_FOLDER)')
    const {quantizePosterModel} = await import('./int8.js')
    const q = await quantizePosterModel(model, {...opts.int8, onStatus: status})
    model = q.model
    int8 = q.report
  }
  const t2 = performance.now()
  status(`writing ${out}`)
  const {bytes, staleTemps} = await writeModel(model, out)
  reportStale(staleTemps, status)
  const t3 = performance.now()
  return {
    out,
    bytes,
    numClasses: Number(model.metadata.num_classes),
    labels: JSON.parse(model.metadata.labels) as string[],
    checkpoint: {
      path: opts.checkpoint,
      sha256: ckpt.sha256 ?? '',
      format: ckpt.format,
      ...(epoch === undefined ? {} : {epoch}),
      ...(bestAcc === undefined ? {} : {best_acc: bestAcc}),
      tensors: ckpt.stateDict.size,
    },
    graph: graphSummary(model),
    dtype: opts.dtype ?? 'float32',
    ...(int8 ? {int8} : {}),
    seconds: {
      read: s(t1 - t0),
      build: s(tb - t1),
      ...(int8 ? {quantize: s(t2 - tb)} : {}),
      write: s(t3 - t2),
      total: s(t3 - t0),
    },
  }
}

function buildModel(
  weights: TensorMap,
  opts: Pick<ConvertOptions, 'classes' | 'labels'> & {dtype?: 'float32' | 'float16'; metadata: Record<string, string>},
): OnnxModel {
  return buildPosterGraph(weights, {
    numClasses: opts.classes,
    labels: opts.labels,
    dtype: opts.dtype,
    metadata: {...opts.metadata, converted_by: `poster ${TOOL_VERSION}`},
  })
}

function graphSummary(model: OnnxModel): ConvertResult['graph'] {
  const stats = modelStats(model)
  return {nodes: stats.nodes, initializers: stats.initializers, parameters: stats.parameters, opset: model.opsetVersion}
}

/**
 * POSTER++ with the deterministic parity weights: untrained (chance-level accuracy), but the real architecture
 * and size, so the demo and the benchmark run the true graph on a machine with nothing downloaded.
 */
export async function writeDeterministicModel(
  out: string,
  numClasses = 7,
  dtype: ConvertDtype = 'float32',
  int8?: Omit<Int8Options, 'onStatus'> & {onStatus?: (message: string) => void},
): Promise<{bytes: number; int8?: Int8Report}> {
  const weights = deterministicPosterWeights(numClasses)
  let model = buildModel(weights, {
    classes: numClasses,
    dtype: dtype === 'int8' ? 'float32' : dtype,
    metadata: {source_checkpoint: `deterministic weights (${WEIGHT_SEED}): UNTRAINED, chance-level accuracy`, untrained: 'true'},
  })
  let report: Int8Report | undefined
  if (dtype === 'int8') {
    if (!int8?.calibrate) throw new Error('an int8 model needs calibration images')
    const {quantizePosterModel} = await import('./int8.js')
    const q = await quantizePosterModel(model, int8)
    model = q.model
    report = q.report
  }
  const {bytes} = await writeModel(model, out)
  return report ? {bytes, int8: report} : {bytes}
}

/** A metadata value (epoch, best_acc) as JSON can carry it: numbers, big integers as exact decimal strings, strings. */
function jsonMeta(v: unknown): number | string | undefined {
  if (typeof v === 'number' || typeof v === 'string') return v
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  return undefined
}

function reportStale(removed: {path: string; bytes: number}[], status: (message: string) => void): void {
  for (const r of removed) status(`removed ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB), left by an interrupted run`)
}

function s(ms: number): number {
  return Math.round(ms) / 1000
}
