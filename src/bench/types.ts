/**
 * The shapes of `poster bench`: its options, what one run of a measurement records (Sample), and the result's
 * sections (medians over runs), as the JSON file and the table see them.
 */
import type {MachineInfo} from './machine.js'
import type {
  ConvertMeasurement,
  EvalMeasurement,
  Measurement,
  ModelMeasurement,
  PairMeasurement,
  PredictMeasurement,
  PreprocessMeasurement,
} from './measure.js'
import type {PythonBenchResult, PythonExportResult} from './python.js'
import type {Summary} from './stats.js'
import type {FacesEntry} from './faces.js'
import type {DatasetCheckEntry} from './dataset.js'
import type {VideoEntry} from './video.js'
import type {Device} from '../runtime/provider-help.js'

/** The parts of the benchmark, in the order each run measures them. */
export const BENCH_PARTS = ['model', 'preprocess', 'eval', 'predict', 'video', 'faces', 'dataset', 'convert', 'fp16', 'int8', 'pytorch'] as const
export type BenchPart = (typeof BENCH_PARTS)[number]
/** What a GPU run measures: the model, the CPU side feeding it, and eval end to end (the rest is CPU work). */
export const GPU_BENCH_PARTS: readonly BenchPart[] = ['model', 'preprocess', 'eval']

/** One PyTorch eager run (the Python baseline's result), tagged like the child measurements. */
export type TorchMeasurement = PythonBenchResult & {kind: 'torch'}

/** Anything one job measures: a child process's measurement or a PyTorch eager run. */
export type AnyMeasurement = Measurement | TorchMeasurement

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
  /** Execution provider of the model-only and eval measurements (default cpu). */
  device?: Device
  /** fp16: the model's float16-compute copy (GPU devices). */
  dtype?: 'fp32' | 'fp16'
  /** Batch sizes of model-only and eval (default 1, 8, 32 on the CPU; 1, 8, 32, 64, 128 on a GPU). */
  batchSizes?: readonly number[]
  /** Overrides of the image counts (tests), and of how many times predict runs (default once, whatever `runs`). */
  plan?: Partial<Pick<Plan, 'modelImages' | 'perClass' | 'preprocessIterations' | 'predictImages' | 'predictRuns' | 'datasetImages'>>
}

/** The benchmark's settings: runs, image counts, threads (plan.ts's benchPlan fills them in). */
export interface Plan {
  runs: number
  quick: boolean
  threads: number
  device: Device
  dtype: 'fp32' | 'fp16'
  batchSizes: number[]
  modelImages: number
  perClass: number
  preprocessIterations: number
  /** Images in the generated predict folder. */
  predictImages: number
  /** predict runs (in the first runs); ~90 s each on 2 cores at 1000 images, so once by default. */
  predictRuns: number
  /** Images in the set `poster dataset check` is timed on (20,000; 1,000 with --quick). */
  datasetImages: number
}

import type {Sample} from './stats.js'
export type {Sample}

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
  dtype: 'float32' | 'float16' | 'int8'
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

/** int8 against float32 at one batch size, paired in one process (see PairJob), medians over runs. */
export interface Int8BatchEntry {
  batch: number
  calls: number
  float32ImagesPerSecond: Summary
  int8ImagesPerSecond: Summary
  /** Per run: the median of float32/int8 call-time ratios; summarised over runs. */
  speedup: Summary
  peakRssMb: number
  samples: Array<Sample<PairMeasurement>>
}

/** The int8 part: the deterministic POSTER++ converted to int8 (timed once), then paired with float32. */
export interface Int8Entry {
  model: string
  conversion?: {
    seconds: number
    bytes: number
    float32Bytes?: number
    peakRssMb: number
    report?: import('../convert/int8.js').Int8Report
  }
  batches: Int8BatchEntry[]
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
  samples: Array<Sample<TorchMeasurement>>
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
    /** Absent in results from before GPU support: cpu. */
    device?: Device
    dtype?: 'fp32' | 'fp16'
    modelImages: number
    evalImages: number
    preprocessIterations: number
    batchSizes: number[]
    predictImages: number
    predictRuns: number
    datasetImages: number
  }
  model: {path: string; bytes: number; source: 'deterministic' | 'user'; note: string; fp16Path?: string}
  /** The GPU the measurements ran on (nvidia-smi for CUDA, vulkaninfo for WebGPU), with --device cuda/webgpu. */
  gpu?: {device: Device; name?: string; provider: string}
  seconds: number
  sessionMs?: Summary
  modelOnly: ModelEntry[]
  preprocess: PreprocessEntry[]
  eval: EvalEntry[]
  /** poster predict on a generated folder; absent when not run or failed (see errors). */
  predict?: PredictEntry
  /** poster predict on a generated clip at --fps 5 (video.ts). */
  video?: VideoEntry
  /** --faces detect on a 640×480 one-face photo against POSTER++ at batch 1 (faces.ts). */
  faces?: FacesEntry
  /** poster dataset check on a generated set of distinct 100×100 JPEGs (dataset.ts). */
  datasetCheck?: DatasetCheckEntry
  convert: ConvertEntry[]
  fp16?: Fp16Entry
  /** int8 vs float32, model-only, paired; conversion time and size (int8 part). */
  int8?: Int8Entry
  pytorch: PytorchSection
  errors: Array<{measurement: string; message: string}>
}
