/**
 * The measurements of `poster bench`, each a plain async function that times one thing in this process. The
 * benchmark runs each of them in a fresh child process (see child.ts / worker.ts) so that the peak RSS it reports
 * belongs to that one measurement; the tests call them in process on a tiny model.
 */
import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {INPUT_NUMEL} from '../basics.js'
import type {Device} from '../runtime/provider-help.js'
import {maxAbsDiff} from './stats.js'
import type {FacesJob, FacesMeasurement} from './faces.js'
import type {DatasetCheckJob, DatasetCheckMeasurement} from './dataset.js'
import type {VideoJob, VideoMeasurement} from './video.js'

const ITEM = INPUT_NUMEL

/** Model-only throughput: random input, one untimed warm-up batch, then a fixed number of images. */
export interface ModelJob {
  kind: 'model'
  model: string
  batch: number
  /** Images in the timed part; rounded up to whole batches. */
  images: number
  threads?: number
  /** Default cpu. */
  device?: Device
}

export interface ModelMeasurement {
  kind: 'model'
  batch: number
  images: number
  /** session.run calls in the timed part. */
  calls: number
  /** openSession: load, graph optimisation, allocation. */
  sessionMs: number
  /** The untimed first batch. */
  warmupMs: number
  seconds: number
  imagesPerSecond: number
  msPerImage: number
  /** Median latency of one session.run call in the timed part. */
  callMsMedian: number
}

/** Decode + preprocess alone (sharp decode, Pillow-exact resize, normalisation), files read into memory first. */
export interface PreprocessJob {
  kind: 'preprocess'
  paths: string[]
  iterations: number
  concurrency: number
}

export interface PreprocessMeasurement {
  kind: 'preprocess'
  images: number
  imagesPerSecond: number
  msPerImage: number
  /** With `concurrency` images in flight (how eval decodes a batch). */
  concurrentImagesPerSecond: number
  concurrency: number
  decodeMs: number
  resizeMs: number
  tensorMs: number
}

/** evaluate() end to end on a dataset folder: listing, session, decode, inference, metrics, report files. */
export interface EvalJob {
  kind: 'eval'
  dataset: string
  model: string
  batch: number
  threads?: number
  /** Write confusion.png, calibration.svg and report.html too (eval's default: true). */
  pictures?: boolean
  device?: Device
  dtype?: 'fp32' | 'fp16'
}

export interface EvalMeasurement {
  kind: 'eval'
  batch: number
  images: number
  /** evaluate() wall time. */
  seconds: number
  imagesPerSecond: number
  msPerImage: number
  /** Before the first batch: dataset listing, session creation, run folder. */
  setupSeconds: number
  /** From the first batch to the last one's rows written. */
  classifySeconds: number
  /** After the last batch: metrics, metrics.json, report.md, pictures, report.html. */
  finishSeconds: number
  /** Images/s of the classify phase alone. */
  classifyImagesPerSecond: number
  /** metrics.json timings: time the model waited for decoding (not overlapped with inference), and inference. */
  preprocessWaitSeconds: number
  inferenceSeconds: number
}

/** Checkpoint → ONNX (convertCheckpoint), or the deterministic weights → graph → ONNX when no checkpoint is given. */
export interface ConvertJob {
  kind: 'convert'
  /** A .pth to convert; absent: writeDeterministicModel (weights generated, no checkpoint read). */
  checkpoint?: string
  out: string
  dtype: 'float32' | 'float16' | 'int8'
  classes?: number
  /** With dtype int8: the calibration dataset or folder, and how many images. */
  calibrate?: string
  calibrationImages?: number
  /** Delete the written file afterwards. */
  remove?: boolean
}

export interface ConvertMeasurement {
  kind: 'convert'
  source: 'checkpoint' | 'deterministic'
  dtype: 'float32' | 'float16' | 'int8'
  seconds: number
  bytes: number
  /** convertCheckpoint's own split (checkpoint source only). */
  readSeconds?: number
  buildSeconds?: number
  writeSeconds?: number
  /** dtype int8: calibration, range method, held-out agreement and the kernels onnxruntime runs. */
  int8?: import('../convert/int8.js').Int8Report
}

/**
 * float32 and int8 side by side: both sessions open in one process, calls alternating (float32, int8, float32,
 * ...) on the same input, so that a busy machine slows both alike; the ratio is the median of the per-pair ratios.
 */
export interface PairJob {
  kind: 'pair'
  float32: string
  int8: string
  batch: number
  /** Images per model in the timed part; rounded up to whole batches. */
  images: number
  threads?: number
}

export interface PairMeasurement {
  kind: 'pair'
  batch: number
  /** Timed calls per model. */
  calls: number
  float32: {imagesPerSecond: number; callMsMedian: number; sessionMs: number}
  int8: {imagesPerSecond: number; callMsMedian: number; sessionMs: number}
  /** Median over the call pairs of float32 time / int8 time. */
  speedup: number
}

/** fp16 vs fp32 logits on the same deterministic input. */
export interface ParityJob {
  kind: 'parity'
  fp32: string
  fp16: string
  batch: number
  threads?: number
}

export interface ParityMeasurement {
  kind: 'parity'
  batch: number
  fp32Bytes: number
  fp16Bytes: number
  maxAbsDiff: number
  /** Top-1 agreement between the two, over the batch. */
  argmaxAgreement: number
  /** fp32 logits, row-major [batch, C] (compared with PyTorch when the baseline runs). */
  logitsFp32: number[]
}

/**
 * `poster predict` end to end on a folder: discovery, model open, decode, inference, predictions.csv streamed to a
 * temporary file (removed afterwards), which is then read back and its rows counted.
 */
export interface PredictJob {
  kind: 'predict'
  /** A folder of images (not searched recursively). */
  folder: string
  model: string
  /** Default 32, predict's own default. */
  batch?: number
  threads?: number
  /** Write the 136 landmark columns (default true); a model without a landmarks output runs without them. */
  landmarks?: boolean
  /** Fail unless the CSV holds exactly this many rows. */
  expectRows?: number
}

export interface PredictMeasurement {
  kind: 'predict'
  batch: number
  /** Inputs predict discovered and ran. */
  images: number
  /** Data rows read back from the written CSV (checked against expectRows when given). */
  rows: number
  /** Of those, status ok. */
  ok: number
  /** Whether the landmark columns were written. */
  landmarks: boolean
  /** Why landmarks were asked for but not written. */
  landmarksNote?: string
  columns: number
  csvBytes: number
  /** predict() wall time. */
  seconds: number
  imagesPerSecond: number
  msPerImage: number
  /** Before the first batch: discovery, model open (session), output opened. */
  setupSeconds: number
  /** From the first batch to the last one's rows on disk. */
  batchSeconds: number
  batchImagesPerSecond: number
  /** After the last batch: output closed, session released. */
  finishSeconds: number
  /** predict's own images/s (its summary: batch processing, model loading not counted). */
  pipelineImagesPerSecond: number
}

export type BenchJob = ModelJob | PreprocessJob | EvalJob | ConvertJob | ParityJob | PredictJob | VideoJob | FacesJob | PairJob | DatasetCheckJob
export type Measurement =
  | ModelMeasurement
  | PreprocessMeasurement
  | EvalMeasurement
  | ConvertMeasurement
  | ParityMeasurement
  | PredictMeasurement
  | VideoMeasurement
  | FacesMeasurement
  | PairMeasurement
  | DatasetCheckMeasurement

/** Deterministic pseudo-random input in [-2, 2): roughly the range of normalised images. */
export function randomInput(n: number, seed = 12345): Float32Array {
  const out = new Float32Array(n)
  let a = seed >>> 0
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0
    out[i] = (a / 4294967296) * 4 - 2
  }
  return out
}

/** Whole batches covering at least `images` images. */
export function callsFor(images: number, batch: number): number {
  return Math.max(1, Math.ceil(images / batch))
}

export async function measureModel(job: ModelJob): Promise<ModelMeasurement> {
  const {openSession} = await import('../runtime/session.js')
  const batch = Math.max(1, Math.floor(job.batch))
  const calls = callsFor(job.images, batch)
  const input = randomInput(batch * ITEM)
  const t0 = performance.now()
  const session = await openSession(job.model, {threads: job.threads, device: job.device ?? 'cpu'})
  const sessionMs = performance.now() - t0
  try {
    const w0 = performance.now()
    await session.run(input, batch)
    const warmupMs = performance.now() - w0
    const lat: number[] = []
    const s0 = performance.now()
    for (let i = 0; i < calls; i++) {
      const c0 = performance.now()
      await session.run(input, batch)
      lat.push(performance.now() - c0)
    }
    const seconds = (performance.now() - s0) / 1000
    const images = calls * batch
    lat.sort((a, b) => a - b)
    const mid = lat.length >> 1
    return {
      kind: 'model',
      batch,
      images,
      calls,
      sessionMs,
      warmupMs,
      seconds,
      imagesPerSecond: images / seconds,
      msPerImage: (seconds * 1000) / images,
      callMsMedian: lat.length % 2 ? lat[mid]! : (lat[mid - 1]! + lat[mid]!) / 2,
    }
  } finally {
    await session.release()
  }
}

export async function measurePreprocess(job: PreprocessJob): Promise<PreprocessMeasurement> {
  const {benchPreprocess} = await import('../image/bench.js')
  const r = await benchPreprocess(job.paths, Math.max(1, job.iterations), {concurrency: job.concurrency, warmup: 1})
  return {
    kind: 'preprocess',
    images: r.images,
    imagesPerSecond: r.imagesPerSecond,
    msPerImage: 1000 / r.imagesPerSecond,
    concurrentImagesPerSecond: r.concurrentImagesPerSecond,
    concurrency: r.concurrency,
    decodeMs: r.decodeMs,
    resizeMs: r.resizeMs,
    tensorMs: r.tensorMs,
  }
}

export async function measureEval(job: EvalJob): Promise<EvalMeasurement> {
  const {evaluate} = await import('../pipeline/evaluate.js')
  const dir = await mkdtemp(join(tmpdir(), 'poster-bench-eval-'))
  try {
    let firstProgress: number | undefined
    let lastProgress: number | undefined
    const t0 = performance.now()
    const result = await evaluate({
      dataset: job.dataset,
      format: 'rafdb',
      split: 'test',
      model: job.model,
      batchSize: job.batch,
      threads: job.threads,
      ...(job.device ? {device: job.device} : {}),
      ...(job.dtype ? {dtype: job.dtype} : {}),
      out: join(dir, 'run'),
      pictures: job.pictures ?? true,
      onProgress: (done, total) => {
        const now = performance.now()
        firstProgress ??= now
        if (done >= total) lastProgress = now
      },
    })
    const t1 = performance.now()
    const images = result.metrics.n_images + result.metrics.n_failed
    if (result.metrics.n_failed > 0) throw new Error(`${result.metrics.n_failed} of ${images} images failed in eval`)
    const seconds = (t1 - t0) / 1000
    const first = firstProgress ?? t0
    const last = lastProgress ?? t1
    const classifySeconds = (last - first) / 1000
    return {
      kind: 'eval',
      batch: job.batch,
      images,
      seconds,
      imagesPerSecond: images / seconds,
      msPerImage: (seconds * 1000) / images,
      setupSeconds: (first - t0) / 1000,
      classifySeconds,
      finishSeconds: (t1 - last) / 1000,
      classifyImagesPerSecond: images / Math.max(classifySeconds, 1e-9),
      preprocessWaitSeconds: timing(result.metrics.timings, 'preprocess_wait_s', 'preprocess_s'),
      inferenceSeconds: timing(result.metrics.timings, 'inference_s'),
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

export async function measurePredict(job: PredictJob): Promise<PredictMeasurement> {
  const {predict} = await import('../pipeline/predict.js')
  const dir = await mkdtemp(join(tmpdir(), 'poster-bench-predict-'))
  const out = join(dir, 'predictions.csv')
  const batch = Math.max(1, Math.floor(job.batch ?? 32))
  try {
    let landmarks = job.landmarks ?? true
    let landmarksNote: string | undefined
    const once = async () => {
      let firstProgress: number | undefined
      let lastProgress: number | undefined
      const t0 = performance.now()
      const summary = await predict({
        inputs: [job.folder],
        model: job.model,
        out,
        landmarks,
        batchSize: batch,
        threads: job.threads,
        onProgress: (done, total) => {
          const now = performance.now()
          firstProgress ??= now
          if (done >= total) lastProgress = now
        },
      })
      const t1 = performance.now()
      return {summary, t0, t1, first: firstProgress ?? t0, last: lastProgress ?? t1}
    }
    let r: Awaited<ReturnType<typeof once>>
    try {
      r = await once()
    } catch (error) {
      // predict refuses --landmarks before opening the output; a user model without the output runs without them.
      if (!landmarks || !(error instanceof Error) || !error.message.startsWith('--landmarks:')) throw error
      landmarks = false
      landmarksNote = error.message.replace(/^--landmarks: /, '')
      await rm(out, {force: true})
      r = await once()
    }
    const {summary, t0, t1, first, last} = r
    const {readPredictions, hasLandmarkColumns} = await import('../report/predictions-csv.js')
    const file = await readPredictions(out)
    const rows = file.rows.length
    if (job.expectRows !== undefined && rows !== job.expectRows) {
      throw new Error(`predict wrote ${rows} rows to its CSV; expected ${job.expectRows} (one per image)`)
    }
    if (rows !== summary.images) throw new Error(`predict wrote ${rows} rows for ${summary.images} images`)
    if (landmarks !== hasLandmarkColumns(file.columns)) throw new Error(`landmark columns ${landmarks ? 'missing from' : 'unexpected in'} the CSV`)
    const ok = file.rows.filter((row) => row.status === 'ok').length
    if (ok !== rows) throw new Error(`${rows - ok} of ${rows} images failed in predict (status=error rows)`)
    const seconds = (t1 - t0) / 1000
    const batchSeconds = (last - first) / 1000
    return {
      kind: 'predict',
      batch,
      images: summary.images,
      rows,
      ok,
      landmarks,
      ...(landmarksNote ? {landmarksNote} : {}),
      columns: file.columns.length,
      csvBytes: (await stat(out)).size,
      seconds,
      imagesPerSecond: summary.images / seconds,
      msPerImage: (seconds * 1000) / Math.max(summary.images, 1),
      setupSeconds: (first - t0) / 1000,
      batchSeconds,
      batchImagesPerSecond: summary.images / Math.max(batchSeconds, 1e-9),
      finishSeconds: (t1 - last) / 1000,
      pipelineImagesPerSecond: summary.images_per_s,
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

/** A metrics.json timing by the first of `names` present (the field names have changed over versions). */
function timing(timings: object, ...names: string[]): number {
  const t = timings as Record<string, unknown>
  for (const n of names) if (typeof t[n] === 'number') return t[n] as number
  return 0
}

export async function measureConvert(job: ConvertJob): Promise<ConvertMeasurement> {
  const convert = await import('../convert/convert.js')
  try {
    const t0 = performance.now()
    if (job.checkpoint) {
      const int8 = job.calibrate ? {calibrate: job.calibrate, calibrationImages: job.calibrationImages} : undefined
      const r = await convert.convertCheckpoint({checkpoint: job.checkpoint, out: job.out, dtype: job.dtype, classes: job.classes, int8})
      const seconds = (performance.now() - t0) / 1000
      return {
        kind: 'convert',
        source: 'checkpoint',
        dtype: job.dtype,
        seconds,
        bytes: r.bytes,
        readSeconds: r.seconds.read,
        buildSeconds: r.seconds.build,
        writeSeconds: r.seconds.write,
        ...(r.int8 ? {int8: r.int8} : {}),
      }
    }
    if (job.dtype === 'int8' && !job.calibrate) throw new Error('an int8 conversion needs calibration images')
    const int8 = job.calibrate ? {calibrate: job.calibrate, calibrationImages: job.calibrationImages} : undefined
    const r = await convert.writeDeterministicModel(job.out, job.classes ?? 7, job.dtype, int8)
    return {
      kind: 'convert',
      source: 'deterministic',
      dtype: job.dtype,
      seconds: (performance.now() - t0) / 1000,
      bytes: r.bytes,
      ...(r.int8 ? {int8: r.int8} : {}),
    }
  } finally {
    if (job.remove) await rm(job.out, {force: true})
  }
}

export async function measureParity(job: ParityJob): Promise<ParityMeasurement> {
  const {openSession} = await import('../runtime/session.js')
  const {deterministicInput} = await import('../poster/deterministic-weights.js')
  const input = deterministicInput(job.batch).data
  const logitsOf = async (path: string) => {
    const s = await openSession(path, {threads: job.threads})
    try {
      return Float32Array.from((await s.run(input, job.batch)).logits)
    } finally {
      await s.release()
    }
  }
  const a = await logitsOf(job.fp32)
  const b = await logitsOf(job.fp16)
  const C = a.length / job.batch
  let agree = 0
  for (let i = 0; i < job.batch; i++) if (argmax(a.subarray(i * C, (i + 1) * C)) === argmax(b.subarray(i * C, (i + 1) * C))) agree++
  return {
    kind: 'parity',
    batch: job.batch,
    fp32Bytes: (await stat(job.fp32)).size,
    fp16Bytes: (await stat(job.fp16)).size,
    maxAbsDiff: maxAbsDiff(a, b),
    argmaxAgreement: agree / job.batch,
    logitsFp32: Array.from(a),
  }
}

export async function measurePair(job: PairJob): Promise<PairMeasurement> {
  const {openSession} = await import('../runtime/session.js')
  const batch = Math.max(1, Math.floor(job.batch))
  const calls = callsFor(job.images, batch)
  const input = randomInput(batch * ITEM)
  const open = async (path: string) => {
    const t0 = performance.now()
    const session = await openSession(path, {threads: job.threads})
    return {session, sessionMs: performance.now() - t0}
  }
  const a = await open(job.float32)
  try {
    const b = await open(job.int8)
    try {
      await a.session.run(input, batch)
      await b.session.run(input, batch)
      const ta: number[] = []
      const tb: number[] = []
      for (let i = 0; i < calls; i++) {
        let t = performance.now()
        await a.session.run(input, batch)
        ta.push(performance.now() - t)
        t = performance.now()
        await b.session.run(input, batch)
        tb.push(performance.now() - t)
      }
      const ratios = ta.map((v, i) => v / tb[i]!)
      const sum = (v: number[]) => v.reduce((x, y) => x + y, 0)
      return {
        kind: 'pair',
        batch,
        calls,
        float32: {imagesPerSecond: (calls * batch * 1000) / sum(ta), callMsMedian: median(ta), sessionMs: a.sessionMs},
        int8: {imagesPerSecond: (calls * batch * 1000) / sum(tb), callMsMedian: median(tb), sessionMs: b.sessionMs},
        speedup: median(ratios),
      }
    } finally {
      await b.session.release()
    }
  } finally {
    await a.session.release()
  }
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function argmax(v: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i
  return best
}

/** Run one job in this process. */
export async function runJob(job: BenchJob): Promise<Measurement> {
  switch (job.kind) {
    case 'model':
      return measureModel(job)
    case 'preprocess':
      return measurePreprocess(job)
    case 'eval':
      return measureEval(job)
    case 'convert':
      return measureConvert(job)
    case 'parity':
      return measureParity(job)
    case 'predict':
      return measurePredict(job)
    case 'video':
      return (await import('./video.js')).measureVideo(job)
    case 'faces':
      return (await import('./faces.js')).measureFaces(job)
    case 'pair':
      return measurePair(job)
    case 'dataset-check':
      return (await import('./dataset.js')).measureDatasetCheck(job)
  }
}
