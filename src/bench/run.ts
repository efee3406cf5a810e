/**
 * `poster bench` as a straight line: prepare the model, datasets and (optionally) the PyTorch baseline once, then
 * run every measurement `runs` times, each in a fresh child process, and keep medians. Nothing here times
 * anything itself; measure.ts does, in the children.
 */
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, rename, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {cacheDir} from '../models/cache.js'
import {TOOL_VERSION} from '../version.js'
import {runInChild, type ChildResult} from './child.js'
import {loadAverage, machineInfo, type MachineInfo} from './machine.js'
import type {
  BenchJob,
  ConvertMeasurement,
  EvalMeasurement,
  Measurement,
  ModelMeasurement,
  ParityMeasurement,
  PredictMeasurement,
  PreprocessMeasurement,
} from './measure.js'
import {PythonBaseline, pythonBaselineEnv, type PythonBenchResult, type PythonExportResult} from './python.js'
import {maxAbsDiff, medianOf, round, summarize, type Summary} from './stats.js'

export const BATCH_SIZES = [1, 8, 32] as const
/** Batch size of the torch.onnx.export reference graph (exported with a fixed batch). */
export const EXPORT_BATCH = 8
const PARITY_BATCH = 2
/** PyTorch eager can be an order of magnitude slower: it stops after the call that passes this many seconds. */
const TORCH_BUDGET_S = 20

export interface BenchOptions {
  /** An .onnx model; default: the deterministic (untrained) POSTER++ in the cache, built once. */
  model?: string
  /** Runs per measurement (median kept); default 3, --quick 1. */
  runs?: number
  quick?: boolean
  threads?: number
  /** Where datasets and derived models are cached; default <poster cache>/bench. */
  workDir?: string
  /** Environment for POSTER_BENCH_* (default process.env). */
  env?: Record<string, string | undefined>
  onStatus?: (message: string) => void
  /** Which measurements to run (default all); the PyTorch baseline also needs its environment variables. */
  parts?: readonly BenchPart[]
  /** Overrides of the image counts (tests), and of how many times predict runs (default once, whatever `runs`). */
  plan?: Partial<Pick<Plan, 'modelImages' | 'perClass' | 'preprocessIterations' | 'predictImages' | 'predictRuns'>>
}

export const BENCH_PARTS = ['model', 'preprocess', 'eval', 'predict', 'convert', 'fp16', 'pytorch'] as const
export type BenchPart = (typeof BENCH_PARTS)[number]

/** One run of a measurement, with the child's peak RSS and the 1-minute load average when it started. */
export type Sample<M> = M & {run: number; peakRssMb: number; wallSeconds: number; load1?: number}

export interface ModelEntry {
  graph: 'converted' | 'torch-exported'
  batch: number
  images: number
  imagesPerSecond: Summary
  msPerImage: number
  sessionMs: Summary
  warmupMs: number
  callMsMedian: number
  peakRssMb: number
  samples: Array<Sample<ModelMeasurement>>
}

export interface PreprocessEntry {
  size: string
  images: number
  imagesPerSecond: Summary
  msPerImage: number
  concurrentImagesPerSecond: Summary
  concurrency: number
  decodeMs: number
  resizeMs: number
  tensorMs: number
  peakRssMb: number
  samples: Array<Sample<PreprocessMeasurement>>
}

/** An eval measurement's fields as medians over runs, plus the comparison with model-only. */
export interface EvalEntry extends Omit<EvalMeasurement, 'kind' | 'seconds' | 'imagesPerSecond'> {
  size: string
  imagesPerSecond: Summary
  /** eval images/s over model-only images/s at the same batch size. */
  ratioToModel?: number
  /** The classify phase alone (no setup, no report files) over model-only. */
  classifyRatioToModel?: number
  peakRssMb: number
  samples: Array<Sample<EvalMeasurement>>
}

export interface PredictEntry {
  /** Image size of the generated folder. */
  size: string
  /** The folder predict ran on (generated once into the bench work dir). */
  folder: string
  batch: number
  images: number
  /** CSV rows read back (equal to images, checked in the child). */
  rows: number
  landmarks: boolean
  landmarksNote?: string
  columns: number
  csvBytes: number
  /** Whole predict() run: discovery, model open, batches, output closed. */
  imagesPerSecond: Summary
  msPerImage: number
  setupSeconds: number
  batchSeconds: number
  /** The batch phase alone (no discovery, no model open). */
  batchImagesPerSecond: number
  finishSeconds: number
  /** predict's own images/s (its summary and its CLI line). */
  pipelineImagesPerSecond: number
  /** Batch-phase images/s over model-only images/s at the same batch size. */
  batchRatioToModel?: number
  peakRssMb: number
  samples: Array<Sample<PredictMeasurement>>
}

export interface ConvertEntry {
  source: 'checkpoint' | 'deterministic'
  dtype: 'float32' | 'float16'
  /** What was timed, in words. */
  what: string
  seconds: Summary
  bytes: number
  readSeconds?: number
  buildSeconds?: number
  writeSeconds?: number
  peakRssMb: number
  samples: Array<Sample<ConvertMeasurement>>
}

export interface Fp16Entry {
  batch: number
  fp32Bytes: number
  fp16Bytes: number
  maxAbsDiff: number
  argmaxAgreement: number
  peakRssMb: number
}

export interface TorchEntry {
  batch: number
  images: number
  imagesPerSecond: Summary
  msPerImage: number
  warmupMs: number
  peakRssMb: number
  /** Converted ONNX (onnxruntime-node) images/s over PyTorch eager, same batch. */
  onnxSpeedup?: number
  samples: Array<PythonBenchResult & {run: number; load1?: number}>
}

export interface PytorchSection {
  skipped?: string
  error?: string
  torch?: string
  threads?: number
  /** BLAS libraries the Python process mapped (a reference BLAS makes eager PyTorch much slower). */
  blas?: string
  buildSeconds?: number
  /** Max |Δlogit| between PyTorch eager and the converted ONNX on the deterministic input. */
  parityMaxAbsDiff?: number
  eager: TorchEntry[]
  export?: PythonExportResult & {skipped?: undefined}
  exportSkipped?: string
  /** The torch.onnx.export graph under onnxruntime-node, model-only at EXPORT_BATCH. */
  exported?: ModelEntry
  /** Converted graph images/s over the torch-exported graph, at EXPORT_BATCH. */
  convertedOverExported?: number
}

export interface BenchResult {
  tool: {name: 'poster'; version: string}
  created_at: string
  machine: MachineInfo
  load: {start: [number, number, number]; end: [number, number, number]}
  settings: {
    runs: number
    quick: boolean
    threads: number
    modelImages: number
    evalImages: number
    preprocessIterations: number
    batchSizes: number[]
    predictImages: number
    predictRuns: number
  }
  model: {path: string; bytes: number; source: 'deterministic' | 'user'; note: string}
  seconds: number
  sessionMs?: Summary
  modelOnly: ModelEntry[]
  preprocess: PreprocessEntry[]
  eval: EvalEntry[]
  /** poster predict on a generated folder; absent when not run or failed (see errors). */
  predict?: PredictEntry
  convert: ConvertEntry[]
  fp16?: Fp16Entry
  pytorch: PytorchSection
  errors: Array<{measurement: string; message: string}>
}

interface Plan {
  runs: number
  quick: boolean
  threads: number
  modelImages: number
  perClass: number
  preprocessIterations: number
  /** Images in the generated predict folder. */
  predictImages: number
  /** predict runs (in the first runs); ~90 s each on 2 cores at 1000 images, so once by default. */
  predictRuns: number
}

/** The predict folder's images: RAF-DB-sized aligned faces. */
export const PREDICT_SIZE = {name: '100x100', width: 100, height: 100} as const
/** predict's default batch size, the one the predict measurement uses. */
export const PREDICT_BATCH = 32

export function benchPlan(opts: Pick<BenchOptions, 'runs' | 'quick' | 'threads' | 'plan'>, defaultThreads: number): Plan {
  const quick = opts.quick === true
  return {
    runs: Math.max(1, opts.runs ?? (quick ? 1 : 3)),
    quick,
    threads: opts.threads ?? defaultThreads,
    modelImages: opts.plan?.modelImages ?? (quick ? 8 : 32),
    perClass: opts.plan?.perClass ?? (quick ? 2 : 10),
    preprocessIterations: opts.plan?.preprocessIterations ?? (quick ? 1 : 5),
    predictImages: Math.max(1, opts.plan?.predictImages ?? (quick ? 100 : 1000)),
    predictRuns: Math.max(1, opts.plan?.predictRuns ?? 1),
  }
}

/** Sizes of the generated eval sets: RAF-DB's aligned 100×100 faces and camera-sized 640×480 frames. */
export const EVAL_SIZES = [
  {name: '100x100', width: 100, height: 100},
  {name: '640x480', width: 640, height: 480},
] as const

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const started = performance.now()
  const status = opts.onStatus ?? (() => {})
  const env = opts.env ?? process.env
  const loadStart = loadAverage()
  const machine = await machineInfo()
  const {defaultThreads} = await import('../runtime/session.js')
  const plan = benchPlan(opts, defaultThreads())
  const workDir = resolve(opts.workDir ?? join(cacheDir(), 'bench'))
  await mkdir(workDir, {recursive: true})
  const tmp = await mkdtemp(join(tmpdir(), 'poster-bench-'))
  const errors: BenchResult['errors'] = []
  const parts = new Set<BenchPart>(opts.parts ?? BENCH_PARTS)

  try {
    // ---- preparation (untimed) ----
    const fp32Deterministic = (await import('../pipeline/demo.js')).demoModelPath()
    const fp16Path = join(workDir, 'poster-untrained-7cls-fp16.onnx')
    const model = await prepareModel(opts.model, fp32Deterministic, status)
    const datasets = parts.has('preprocess') || parts.has('eval') ? await prepareDatasets(workDir, plan.perClass, status) : []
    const predictFolder = parts.has('predict') ? await preparePredictFolder(workDir, plan.predictImages, status) : undefined

    const pyEnv: ReturnType<typeof pythonBaselineEnv> = parts.has('pytorch') ? pythonBaselineEnv(env) : {skipped: 'not asked for'}
    let py: PythonBaseline | undefined
    const pytorch: PytorchSection = {eager: []}
    let torchLogits: number[] | undefined
    let checkpoint = env.POSTER_BENCH_CHECKPOINT?.trim() || undefined
    if (checkpoint && !existsSync(checkpoint)) {
      errors.push({measurement: 'convert', message: `POSTER_BENCH_CHECKPOINT=${checkpoint} does not exist; timing the deterministic build instead`})
      checkpoint = undefined
    }
    if ('skipped' in pyEnv) {
      pytorch.skipped = pyEnv.skipped
    } else {
      try {
        const {posterManifest} = await import('../poster/deterministic-weights.js')
        py = await PythonBaseline.create(pyEnv, {manifest: posterManifest(7), classes: 7, threads: plan.threads})
        const ckptPath = join(workDir, 'poster-deterministic-7cls.pth')
        const writeCkpt = !checkpoint && !existsSync(ckptPath)
        status(`PyTorch baseline: building the official model with the deterministic weights${writeCkpt ? ` (and writing ${ckptPath})` : ''}`)
        const partial = `${ckptPath}.partial-${process.pid}`
        const prep = await py.prepare({parityBatch: PARITY_BATCH, checkpoint: writeCkpt ? partial : undefined})
        if (writeCkpt) await rename(partial, ckptPath)
        pytorch.torch = prep.torch
        pytorch.threads = prep.threads
        pytorch.blas = prep.blas
        pytorch.buildSeconds = round(prep.build_s, 3)
        torchLogits = prep.logits
        checkpoint ??= ckptPath
      } catch (error) {
        pytorch.error = message(error)
        errors.push({measurement: 'pytorch', message: pytorch.error})
        await py?.remove()
        py = undefined
      }
    }

    // The fp16 check compares the deterministic model in both storage types, whatever --model is.
    if (parts.has('fp16')) {
      await ensureDeterministicModel(fp32Deterministic, 'float32', status)
      await ensureDeterministicModel(fp16Path, 'float16', status)
    }

    let exportedPath: string | undefined
    if (py) {
      if (plan.quick) {
        pytorch.exportSkipped = 'not in --quick'
      } else {
        try {
          exportedPath = join(tmp, `torch-export-b${EXPORT_BATCH}.onnx`)
          status(`PyTorch baseline: torch.onnx.export at batch ${EXPORT_BATCH}`)
          pytorch.export = await py.export({batch: EXPORT_BATCH, out: exportedPath})
        } catch (error) {
          exportedPath = undefined
          pytorch.exportSkipped = `failed: ${message(error)}`
          errors.push({measurement: 'torch.onnx.export', message: message(error)})
        }
      }
    }

    // ---- the measurements, run-major so that a disturbance spreads over measurements, not one of them ----
    const modelSamples = new Map<number, Array<Sample<ModelMeasurement>>>()
    const exportedSamples: Array<Sample<ModelMeasurement>> = []
    const preSamples = new Map<string, Array<Sample<PreprocessMeasurement>>>()
    const evalSamples = new Map<string, Array<Sample<EvalMeasurement>>>()
    const predictSamples: Array<Sample<PredictMeasurement>> = []
    const convSamples = new Map<string, Array<Sample<ConvertMeasurement>>>()
    const torchSamples = new Map<number, Array<PythonBenchResult & {run: number; load1?: number}>>()
    let parity: ChildResult<ParityMeasurement> | undefined

    const jobsPerRun =
      (parts.has('model') ? BATCH_SIZES.length : 0) +
      (parts.has('preprocess') ? datasets.length : 0) +
      (parts.has('eval') ? datasets.length * BATCH_SIZES.length : 0) +
      (parts.has('convert') ? 2 : 0) +
      (py ? BATCH_SIZES.length : 0) +
      (exportedPath ? 1 : 0)
    let step = 0
    const total = jobsPerRun * plan.runs + (parts.has('fp16') ? 1 : 0) + (predictFolder ? plan.predictRuns : 0)
    const measure = async <M extends Measurement>(label: string, job: BenchJob, run: number, into: Array<Sample<M>>) => {
      step++
      status(`[${step}/${total}] ${label}${plan.runs > 1 ? ` (run ${run}/${plan.runs})` : ''}`)
      try {
        const load1 = loadAverage()[0]
        const r = await runInChild<M>(job)
        into.push({...r.measurement, run, peakRssMb: r.peakRssMb, wallSeconds: r.wallSeconds, load1})
      } catch (error) {
        errors.push({measurement: `${label} run ${run}`, message: message(error)})
        status(`  failed: ${message(error)}`)
      }
    }
    const bucket = <K, V>(m: Map<K, V[]>, k: K): V[] => {
      let v = m.get(k)
      if (!v) m.set(k, (v = []))
      return v
    }

    for (let run = 1; run <= plan.runs; run++) {
      for (const batch of parts.has('model') ? BATCH_SIZES : []) {
        await measure(`model-only batch ${batch}`, {kind: 'model', model: model.path, batch, images: plan.modelImages, threads: plan.threads}, run, bucket(modelSamples, batch))
      }
      for (const ds of parts.has('preprocess') ? datasets : []) {
        await measure(`decode+preprocess ${ds.size}`, {kind: 'preprocess', paths: ds.images, iterations: plan.preprocessIterations, concurrency: 4}, run, bucket(preSamples, ds.size))
      }
      for (const ds of parts.has('eval') ? datasets : []) {
        for (const batch of BATCH_SIZES) {
          await measure(`eval ${ds.size} batch ${batch}`, {kind: 'eval', dataset: ds.root, model: model.path, batch, threads: plan.threads}, run, bucket(evalSamples, `${ds.size}/${batch}`))
        }
      }
      // predict runs its own number of times (once by default), not --runs times.
      for (let p = run; predictFolder && p <= plan.predictRuns; p += plan.runs) {
        step++
        status(
          `[${step}/${total}] predict ${plan.predictImages} × ${PREDICT_SIZE.name.replace('x', '×')} JPEG folder, batch ${PREDICT_BATCH}, --landmarks` +
            `${plan.predictRuns > 1 ? ` (run ${p}/${plan.predictRuns})` : ''}`,
        )
        try {
          const load1 = loadAverage()[0]
          const job = {kind: 'predict', folder: predictFolder, model: model.path, batch: PREDICT_BATCH, threads: plan.threads, landmarks: true, expectRows: plan.predictImages} as const
          const r = await runInChild<PredictMeasurement>(job)
          predictSamples.push({...r.measurement, run: p, peakRssMb: r.peakRssMb, wallSeconds: r.wallSeconds, load1})
        } catch (error) {
          errors.push({measurement: `predict run ${p}`, message: message(error)})
          status(`  failed: ${message(error)}`)
        }
      }
      for (const dtype of parts.has('convert') ? (['float32', 'float16'] as const) : []) {
        const out = join(tmp, `convert-${dtype}.onnx`)
        await measure(`convert ${dtype}`, {kind: 'convert', checkpoint, out, dtype, classes: checkpoint ? undefined : 7, remove: true}, run, bucket(convSamples, dtype))
      }
      if (run === 1 && parts.has('fp16')) {
        step++
        status(`[${step}/${total}] fp16 vs fp32 logits`)
        try {
          parity = await runInChild<ParityMeasurement>({kind: 'parity', fp32: fp32Deterministic, fp16: fp16Path, batch: PARITY_BATCH, threads: plan.threads})
        } catch (error) {
          errors.push({measurement: 'fp16 parity', message: message(error)})
        }
      }
      if (py) {
        for (const batch of BATCH_SIZES) {
          step++
          status(`[${step}/${total}] PyTorch eager batch ${batch}${plan.runs > 1 ? ` (run ${run}/${plan.runs})` : ''}`)
          try {
            const load1 = loadAverage()[0]
            const r = await py.bench({batch, images: plan.modelImages, budgetSeconds: plan.quick ? 5 : TORCH_BUDGET_S})
            bucket(torchSamples, batch).push({...r, run, load1})
          } catch (error) {
            errors.push({measurement: `PyTorch eager batch ${batch} run ${run}`, message: message(error)})
          }
        }
      }
      if (exportedPath) {
        await measure(`torch-exported graph batch ${EXPORT_BATCH}`, {kind: 'model', model: exportedPath, batch: EXPORT_BATCH, images: plan.modelImages, threads: plan.threads}, run, exportedSamples)
      }
    }
    await py?.remove()

    // ---- medians ----
    const modelOnly = BATCH_SIZES.flatMap((b) => {
      const e = modelEntry('converted', b, modelSamples.get(b) ?? [])
      return e ? [e] : []
    })
    const modelRate = (b: number) => modelOnly.find((m) => m.batch === b)?.imagesPerSecond.median
    const preprocess = datasets.flatMap((ds) => {
      const e = preprocessEntry(ds.size, preSamples.get(ds.size) ?? [])
      return e ? [e] : []
    })
    const evals = datasets.flatMap((ds) =>
      BATCH_SIZES.flatMap((b) => {
        const e = evalEntry(ds.size, b, evalSamples.get(`${ds.size}/${b}`) ?? [], modelRate(b))
        return e ? [e] : []
      }),
    )
    const predict = predictFolder ? predictEntry(PREDICT_SIZE.name, predictFolder, predictSamples, modelRate(PREDICT_BATCH)) : undefined
    const convert = (['float32', 'float16'] as const).flatMap((dtype) => {
      const e = convertEntry(convSamples.get(dtype) ?? [], checkpoint)
      return e ? [e] : []
    })
    let fp16: Fp16Entry | undefined
    if (parity) {
      const p = parity.measurement
      fp16 = {batch: p.batch, fp32Bytes: p.fp32Bytes, fp16Bytes: p.fp16Bytes, maxAbsDiff: p.maxAbsDiff, argmaxAgreement: p.argmaxAgreement, peakRssMb: parity.peakRssMb}
      if (torchLogits && torchLogits.length === p.logitsFp32.length) pytorch.parityMaxAbsDiff = maxAbsDiff(torchLogits, p.logitsFp32)
    }
    for (const b of BATCH_SIZES) {
      const samples = torchSamples.get(b) ?? []
      if (samples.length === 0) continue
      const rate = summarize(samples.map((s) => s.images_per_s))
      const onnx = modelRate(b)
      pytorch.eager.push({
        batch: b,
        images: medianOf(samples, (s) => s.images) ?? 0,
        imagesPerSecond: rate,
        msPerImage: 1000 / rate.median,
        warmupMs: medianOf(samples, (s) => s.warmup_ms) ?? 0,
        peakRssMb: medianOf(samples, (s) => s.peak_rss_mb) ?? 0,
        onnxSpeedup: onnx === undefined ? undefined : onnx / rate.median,
        samples,
      })
    }
    if (exportedSamples.length > 0) {
      pytorch.exported = modelEntry('torch-exported', EXPORT_BATCH, exportedSamples)
      const conv = modelRate(EXPORT_BATCH)
      if (pytorch.exported && conv !== undefined) pytorch.convertedOverExported = conv / pytorch.exported.imagesPerSecond.median
    }

    const allSession = modelOnly.flatMap((m) => m.samples.map((s) => s.sessionMs))
    return {
      tool: {name: 'poster', version: TOOL_VERSION},
      created_at: new Date().toISOString(),
      machine,
      load: {start: loadStart, end: loadAverage()},
      settings: {
        runs: plan.runs,
        quick: plan.quick,
        threads: plan.threads,
        modelImages: plan.modelImages,
        evalImages: plan.perClass * 7,
        preprocessIterations: plan.preprocessIterations,
        batchSizes: [...BATCH_SIZES],
        predictImages: plan.predictImages,
        predictRuns: plan.predictRuns,
      },
      model,
      seconds: round((performance.now() - started) / 1000, 1),
      sessionMs: allSession.length > 0 ? summarize(allSession) : undefined,
      modelOnly,
      preprocess,
      eval: evals,
      predict,
      convert,
      fp16,
      pytorch,
      errors,
    }
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Build the deterministic (untrained) POSTER++ at `path` once, in a child process; not timed. */
async function ensureDeterministicModel(path: string, dtype: 'float32' | 'float16', status: (m: string) => void): Promise<void> {
  if (existsSync(path)) return
  status(`building POSTER++ (${dtype}) with deterministic UNTRAINED weights → ${path} (once; not timed here)`)
  await mkdir(dirname(path), {recursive: true})
  const partial = `${path}.partial-${process.pid}.onnx`
  await runInChild({kind: 'convert', out: partial, dtype, classes: 7})
  await rename(partial, path)
}

/** The model the speed measurements use: --model, or the deterministic one (built on first use). */
async function prepareModel(spec: string | undefined, deterministic: string, status: (m: string) => void): Promise<BenchResult['model']> {
  if (spec) {
    const {resolveModelFile} = await import('../pipeline/model.js')
    const {onnxPath: path} = await resolveModelFile(spec, {onStatus: (_stage, message) => status(message)})
    return {path, bytes: (await stat(path)).size, source: 'user', note: `user model (${spec})`}
  }
  await ensureDeterministicModel(deterministic, 'float32', status)
  return {
    path: deterministic,
    bytes: (await stat(deterministic)).size,
    source: 'deterministic',
    note: 'POSTER++ graph (43.7M parameters) with deterministic UNTRAINED weights: real architecture and speed, chance-level accuracy',
  }
}

interface PreparedDataset {
  size: string
  root: string
  /** The test images, for the decode+preprocess measurement. */
  images: string[]
}

export async function prepareDatasets(workDir: string, perClass: number, status: (m: string) => void): Promise<PreparedDataset[]> {
  const {writeSyntheticRafdb} = await import('../datasets/synthetic.js')
  const out: PreparedDataset[] = []
  for (const s of EVAL_SIZES) {
    const root = join(workDir, 'data', `rafdb-${s.name}-${perClass * 7}`)
    const list = join(root, 'EmoLabel', 'list_patition_label.txt')
    if (!existsSync(list)) {
      status(`writing a synthetic RAF-DB set: ${perClass * 7} test images, ${s.width}×${s.height} JPEG → ${root}`)
      await rm(root, {recursive: true, force: true})
      await writeSyntheticRafdb(root, {perClass, width: s.width, height: s.height, seed: 2301})
    }
    const dir = join(root, 'Image', 'aligned')
    const images = (await readdir(dir)).filter((f) => f.startsWith('test_')).sort().map((f) => join(dir, f))
    out.push({size: s.name, root, images})
  }
  return out
}

/**
 * The flat folder of `count` generated 100×100 JPEG faces predict runs on, written once into the work dir (through
 * a temporary name, so an interrupted write is never taken for a complete folder).
 */
export async function preparePredictFolder(workDir: string, count: number, status: (m: string) => void): Promise<string> {
  const root = join(workDir, 'data', `folder-${PREDICT_SIZE.name}-${count}`)
  if (existsSync(root) && (await readdir(root)).filter((f) => f.endsWith('.jpg')).length === count) return root
  status(`writing a folder of ${count} synthetic ${PREDICT_SIZE.width}×${PREDICT_SIZE.height} JPEG faces → ${root}`)
  const {writeSyntheticFolder} = await import('../datasets/synthetic.js')
  const partial = `${root}.partial-${process.pid}`
  await rm(partial, {recursive: true, force: true})
  await writeSyntheticFolder(partial, count, {width: PREDICT_SIZE.width, height: PREDICT_SIZE.height, seed: 2302})
  await rm(root, {recursive: true, force: true})
  await rename(partial, root)
  return root
}

export function predictEntry(
  size: string,
  folder: string,
  samples: Array<Sample<PredictMeasurement>>,
  modelRate: number | undefined,
): PredictEntry | undefined {
  if (samples.length === 0) return undefined
  const first = samples[0]!
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  const batchRate = medianOf(samples, (s) => s.batchImagesPerSecond) ?? 0
  return {
    size,
    folder,
    batch: first.batch,
    images: first.images,
    rows: first.rows,
    landmarks: first.landmarks,
    ...(first.landmarksNote ? {landmarksNote: first.landmarksNote} : {}),
    columns: first.columns,
    csvBytes: first.csvBytes,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    setupSeconds: medianOf(samples, (s) => s.setupSeconds) ?? 0,
    batchSeconds: medianOf(samples, (s) => s.batchSeconds) ?? 0,
    batchImagesPerSecond: batchRate,
    finishSeconds: medianOf(samples, (s) => s.finishSeconds) ?? 0,
    pipelineImagesPerSecond: medianOf(samples, (s) => s.pipelineImagesPerSecond) ?? 0,
    batchRatioToModel: modelRate ? batchRate / modelRate : undefined,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function modelEntry(graph: ModelEntry['graph'], batch: number, samples: Array<Sample<ModelMeasurement>>): ModelEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  return {
    graph,
    batch,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    sessionMs: summarize(samples.map((s) => s.sessionMs)),
    warmupMs: medianOf(samples, (s) => s.warmupMs) ?? 0,
    callMsMedian: medianOf(samples, (s) => s.callMsMedian) ?? 0,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function preprocessEntry(size: string, samples: Array<Sample<PreprocessMeasurement>>): PreprocessEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  return {
    size,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    concurrentImagesPerSecond: summarize(samples.map((s) => s.concurrentImagesPerSecond)),
    concurrency: samples[0]!.concurrency,
    decodeMs: medianOf(samples, (s) => s.decodeMs) ?? 0,
    resizeMs: medianOf(samples, (s) => s.resizeMs) ?? 0,
    tensorMs: medianOf(samples, (s) => s.tensorMs) ?? 0,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function evalEntry(size: string, batch: number, samples: Array<Sample<EvalMeasurement>>, modelRate: number | undefined): EvalEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  const classifyRate = medianOf(samples, (s) => s.classifyImagesPerSecond) ?? 0
  return {
    size,
    batch,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    setupSeconds: medianOf(samples, (s) => s.setupSeconds) ?? 0,
    classifySeconds: medianOf(samples, (s) => s.classifySeconds) ?? 0,
    finishSeconds: medianOf(samples, (s) => s.finishSeconds) ?? 0,
    classifyImagesPerSecond: classifyRate,
    preprocessWaitSeconds: medianOf(samples, (s) => s.preprocessWaitSeconds) ?? 0,
    inferenceSeconds: medianOf(samples, (s) => s.inferenceSeconds) ?? 0,
    ratioToModel: modelRate ? rate.median / modelRate : undefined,
    classifyRatioToModel: modelRate ? classifyRate / modelRate : undefined,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function convertEntry(samples: Array<Sample<ConvertMeasurement>>, checkpoint: string | undefined): ConvertEntry | undefined {
  if (samples.length === 0) return undefined
  const first = samples[0]!
  const what =
    first.source === 'checkpoint'
      ? `convertCheckpoint ${checkpoint ?? ''} → ${first.dtype} ONNX (read + graph build + write)`.replace('  ', ' ')
      : `writeDeterministicModel → ${first.dtype} ONNX (weights generated + graph build + write; no checkpoint read)`
  return {
    source: first.source,
    dtype: first.dtype,
    what,
    seconds: summarize(samples.map((s) => s.seconds)),
    bytes: first.bytes,
    readSeconds: medianOf(samples, (s) => s.readSeconds),
    buildSeconds: medianOf(samples, (s) => s.buildSeconds),
    writeSeconds: medianOf(samples, (s) => s.writeSeconds),
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

/** Default JSON path: bench-results/bench-<UTC timestamp>.json. */
export function defaultResultPath(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return join('bench-results', `bench-${stamp}.json`)
}

export async function writeBenchResult(result: BenchResult, path: string): Promise<string> {
  const abs = resolve(path)
  await mkdir(dirname(abs), {recursive: true})
  await writeFile(abs, JSON.stringify(result, null, 2) + '\n')
  return abs
}
