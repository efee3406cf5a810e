/**
 * int8 calibration: which images, and what the float graph computes on them.
 *
 *  - calibrationImages: a dataset (any layout poster reads; its train split when it has one, so that the images
 *    a model is later evaluated on are not the ones it was calibrated on) or a plain folder of images, spread
 *    evenly over the listing;
 *  - observeRanges: the float graph with every tensor the QDQ plan quantises added as an output, run through
 *    the runtime on those images, each tensor's values fed to a RangeObserver;
 *  - runModel: logits and landmarks of a finished model on images, to compare int8 with float.
 * Images that cannot be read are skipped and counted (a corrupt file never stops a conversion).
 */
import {mkdir} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {INPUT_NUMEL, INPUT_SIZE} from '../basics.js'
import type {OnnxModel} from '../onnx/graph.js'
import {writeModel} from '../onnx/write.js'
import type {QdqPlan} from './qdq.js'
import {RangeObserver} from './ranges.js'

export interface CalibrationListing {
  /** Every usable image path, in listing order. */
  paths: string[]
  /** What the images are, for the model's metadata and the command's output. */
  from: {source: string; layout: string; split?: string; listed: number}
  notes: string[]
}

/** List the images of `source`: a dataset (train split preferred) or a folder searched recursively. */
export async function calibrationImages(source: string): Promise<CalibrationListing> {
  const {detectFormat, loadDataset, discoverImages} = await import('../datasets/index.js')
  const {isPredictVideo} = await import('../datasets/folder.js')
  const notes: string[] = []
  let detected: Awaited<ReturnType<typeof detectFormat>> | undefined
  try {
    detected = await detectFormat(source)
  } catch {
    detected = undefined
  }
  if (detected) {
    let ds: Awaited<ReturnType<typeof loadDataset>>
    try {
      ds = await loadDataset(source, {format: detected.format, split: 'train'})
    } catch (error) {
      ds = await loadDataset(source, {format: detected.format})
      notes.push(`no train split (${(error as Error).message.split('\n')[0]}); calibrating on the ${ds.split} split`)
    }
    const paths = ds.items.filter((i) => !i.notRegular && !i.rawPath).map((i) => i.path)
    if (paths.length === 0) throw new Error(`the ${ds.split} split of ${source} lists no images to calibrate on`)
    return {paths, from: {source: resolve(source), layout: ds.format, split: ds.split, listed: paths.length}, notes}
  }
  let found: Awaited<ReturnType<typeof discoverImages>>
  try {
    found = await discoverImages([source], {recursive: true})
  } catch (error) {
    throw new Error(`${source}: no images to calibrate on (${(error as Error).message}); give a dataset or a folder of face images`)
  }
  const paths = found.items.filter((i) => !i.notRegular && !i.rawPath && !isPredictVideo(i.path)).map((i) => i.path)
  if (paths.length === 0) throw new Error(`${source}: no images to calibrate on (give a dataset or a folder of face images)`)
  return {paths, from: {source: resolve(source), layout: 'folder', listed: paths.length}, notes: found.notes}
}

/** `n` items spread evenly over `items` (all of them when there are fewer), in order. */
export function spreadEvenly<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items]
  return Array.from({length: n}, (_, k) => items[Math.floor(((k + 0.5) * items.length) / n)]!)
}

/** Batches of preprocessed images; unreadable files are skipped and reported through `onSkip`. */
export async function* imageBatches(
  paths: readonly string[],
  batch: number,
  onSkip: (path: string, reason: string) => void,
): AsyncGenerator<{data: Float32Array; n: number; paths: string[]}> {
  const {preprocessInto} = await import('../image/preprocess.js')
  let data = new Float32Array(batch * INPUT_NUMEL)
  let n = 0
  let names: string[] = []
  for (const p of paths) {
    try {
      await preprocessInto(p, data, n * INPUT_NUMEL)
    } catch (error) {
      onSkip(p, (error as Error).message)
      continue
    }
    names.push(p)
    if (++n === batch) {
      yield {data, n, paths: names}
      data = new Float32Array(batch * INPUT_NUMEL)
      n = 0
      names = []
    }
  }
  if (n > 0) yield {data: data.subarray(0, n * INPUT_NUMEL), n, paths: names}
}

export interface ObserveOptions {
  tmpDir: string
  threads?: number
  batch?: number
  onProgress?: (done: number, total: number) => void
  onSkip?: (path: string, reason: string) => void
}

/**
 * Run the float graph on `paths` and observe every range source of `plan`. Returns the observers and how many
 * images were used.
 */
export async function observeRanges(
  model: OnnxModel,
  plan: QdqPlan,
  paths: readonly string[],
  opts: ObserveOptions,
): Promise<{observers: Map<string, RangeObserver>; images: number; shapes: Map<string, number[]>}> {
  const inputName = model.graph.inputs[0]!.name
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name))
  const already = new Set(model.graph.outputs.map((o) => o.name))
  const fetch = plan.sources.filter((s) => !graphInputs.has(s))
  const extra = fetch.filter((s) => !already.has(s)).map((name) => ({name, dtype: 'float32' as const, shape: [], unknownShape: true}))
  const calibrationModel: OnnxModel = {...model, graph: {...model.graph, outputs: [...model.graph.outputs, ...extra]}}
  await mkdir(opts.tmpDir, {recursive: true})
  const file = join(opts.tmpDir, 'calibration.onnx')
  await writeModel(calibrationModel, file)

  const {openGenericModel} = await import('../runtime/session.js')
  const session = await openGenericModel(file, {threads: opts.threads})
  const observers = new Map<string, RangeObserver>(plan.sources.map((s) => [s, new RangeObserver()]))
  /** Each observed tensor's dimensions after the batch (the graph leaves them to onnxruntime's shape inference). */
  const shapes = new Map<string, number[]>()
  let images = 0
  try {
    for await (const b of imageBatches(paths, opts.batch ?? 4, opts.onSkip ?? (() => {}))) {
      const out = await session.run({[inputName]: {data: b.data, dims: [b.n, 3, INPUT_SIZE, INPUT_SIZE]}}, fetch)
      for (const s of fetch) {
        observers.get(s)!.observe(out[s]!.data)
        shapes.set(s, out[s]!.dims.slice(1))
      }
      if (graphInputs.has(inputName) && observers.has(inputName)) observers.get(inputName)!.observe(b.data)
      images += b.n
      opts.onProgress?.(images, paths.length)
    }
  } finally {
    await session.release()
  }
  if (images === 0) throw new Error(`none of the ${paths.length} calibration images could be read`)
  return {observers, images, shapes}
}

export interface ModelOutputs {
  /** [n, C] row-major. */
  logits: Float32Array
  /** [n, 136] row-major (68 normalised x, y pairs). */
  landmarks: Float32Array
  n: number
  classes: number
}

/** A model's logits and landmarks on already preprocessed batches. */
export async function runModel(
  modelPath: string,
  batches: ReadonlyArray<{data: Float32Array; n: number}>,
  opts: {threads?: number} = {},
): Promise<ModelOutputs> {
  const {openSession} = await import('../runtime/session.js')
  const session = await openSession(modelPath, {threads: opts.threads})
  const logits: Float32Array[] = []
  const landmarks: Float32Array[] = []
  let n = 0
  try {
    for (const b of batches) {
      const out = await session.run(b.data, b.n, {landmarks: true})
      logits.push(Float32Array.from(out.logits))
      landmarks.push(Float32Array.from(out.landmarks ?? new Float32Array(b.n * 136)))
      n += b.n
    }
  } finally {
    await session.release()
  }
  const cat = (parts: Float32Array[]) => {
    const total = new Float32Array(parts.reduce((s, p) => s + p.length, 0))
    let o = 0
    for (const p of parts) {
      total.set(p, o)
      o += p.length
    }
    return total
  }
  const all = cat(logits)
  return {logits: all, landmarks: cat(landmarks), n, classes: n > 0 ? all.length / n : 0}
}
