/**
 * What `poster bench` measures, as data: the settings (image counts, runs, threads) and the ordered list of jobs,
 * each one measurement of one run. Nothing here runs or times anything; run.ts hands every job to one `measure`.
 *
 * Jobs are run-major (run 1 of every measurement, then run 2, ...) so that a disturbance on the machine spreads
 * over measurements instead of spoiling one of them. Within a run the parts come in BENCH_PARTS order.
 *
 * To add a part: name it in BENCH_PARTS (types.ts), give it a function in PART_JOBS below (its jobs for one run;
 * a new child-process measurement also needs its job and measurement types and a `runJob` case in measure.ts),
 * turn its samples into a result section in entries.ts, and give the section its rows in report.ts.
 */
import {join} from 'node:path'

import type {BenchJob} from './measure.js'
import {FACES_ITERATIONS, FACES_PHOTO} from './faces.js'
import {DATASET_IMAGES} from './dataset.js'
import {VIDEO_BATCH, VIDEO_SAMPLE_FPS} from './video.js'
import {BENCH_PARTS, type BenchOptions, type BenchPart, type Plan} from './types.js'

export const BATCH_SIZES = [1, 8, 32] as const
/** On a GPU: up to batches that fill it. */
export const GPU_BATCH_SIZES = [1, 8, 32, 64, 128] as const
/** Batch size of the torch.onnx.export reference graph (exported with a fixed batch). */
export const EXPORT_BATCH = 8
/** Batch of the fp16-vs-fp32 and PyTorch-vs-ONNX logit comparisons. */
export const PARITY_BATCH = 2
/** PyTorch eager can be an order of magnitude slower: it stops after the call that passes this many seconds. */
export const TORCH_BUDGET_S = 20
/** ... or this many with --quick. */
export const TORCH_BUDGET_QUICK_S = 5

/** Sizes of the generated eval sets: RAF-DB's aligned 100×100 faces and camera-sized 640×480 frames. */
export const EVAL_SIZES = [
  {name: '100x100', width: 100, height: 100},
  {name: '640x480', width: 640, height: 480},
] as const

/** The predict folder's images: RAF-DB-sized aligned faces. */
export const PREDICT_SIZE = {name: '100x100', width: 100, height: 100} as const
/** predict's default batch size, the one the predict measurement uses. */
export const PREDICT_BATCH = 32

/**
 * On the CPU: 32 images per model-only measurement and 70-image eval sets. On a GPU a batch takes milliseconds:
 * 256 images (at least two batches) and 280-image eval sets, so that batch 128 is more than one call.
 */
export function benchPlan(opts: Pick<BenchOptions, 'runs' | 'quick' | 'threads' | 'plan' | 'device' | 'dtype' | 'batchSizes'>, defaultThreads: number): Plan {
  const quick = opts.quick === true
  const device = opts.device ?? 'cpu'
  const gpu = device !== 'cpu'
  return {
    runs: Math.max(1, opts.runs ?? (quick ? 1 : 3)),
    quick,
    threads: opts.threads ?? defaultThreads,
    device,
    dtype: opts.dtype ?? 'fp32',
    batchSizes: [...(opts.batchSizes ?? (gpu ? GPU_BATCH_SIZES : BATCH_SIZES))],
    modelImages: opts.plan?.modelImages ?? (gpu ? (quick ? 16 : 256) : quick ? 8 : 32),
    perClass: opts.plan?.perClass ?? (gpu ? (quick ? 2 : 40) : quick ? 2 : 10),
    preprocessIterations: opts.plan?.preprocessIterations ?? (quick ? 1 : 5),
    predictImages: Math.max(1, opts.plan?.predictImages ?? (quick ? 100 : 1000)),
    predictRuns: Math.max(1, opts.plan?.predictRuns ?? 1),
    datasetImages: Math.max(1, opts.plan?.datasetImages ?? (quick ? DATASET_IMAGES.quick : DATASET_IMAGES.full)),
  }
}

/** A PyTorch eager measurement, run by the Python baseline rather than a child Node process. */
export interface TorchJob {
  kind: 'torch'
  batch: number
  images: number
  budgetSeconds: number
}

/** One measurement of one run. */
export interface PlannedJob {
  part: BenchPart
  /** Which samples it adds to: one key per result entry ('model/8', 'eval/100x100/8', 'predict', ...). */
  key: string
  /** What the status line and an error say it is. */
  label: string
  /** Run number (1-based) and how many runs this measurement gets (the label says "run r/of" when of > 1). */
  run: number
  of: number
  job: BenchJob | TorchJob
}

/** What the preparation produced, as far as the jobs need it. */
export interface PlanInputs {
  plan: Plan
  parts: ReadonlySet<BenchPart>
  /** The model the speed measurements use. */
  model: string
  /** With --dtype fp16: its float16-compute copy, which model-only runs (eval makes its own from `model`). */
  fp16Model?: string
  /** Generated eval sets (preprocess and eval parts). */
  datasets: ReadonlyArray<{size: string; root: string; images: string[]}>
  /** The generated predict folder (predict part). */
  predictFolder?: string
  /** The generated set's manifest (dataset part). */
  datasetSet?: string
  /** The generated clip (video part). */
  videoClip?: string
  /** A .pth to time the conversion of; without one the deterministic build is timed. */
  checkpoint?: string
  /** Scratch folder for written models. */
  tmp: string
  /** The deterministic model in float32 and float16 (fp16 part). */
  fp32Deterministic: string
  fp16Path: string
  /** The Python baseline is ready (pytorch part). */
  python: boolean
  /** The torch.onnx.export graph, when it was exported. */
  exportedPath?: string
  /** int8 part: the deterministic float32 model, where its int8 conversion goes, and what it is calibrated on. */
  int8?: {float32: string; out: string; calibrate: string; calibrationImages: number}
}

type PartJobs = (inputs: PlanInputs, run: number) => Array<Omit<PlannedJob, 'part' | 'run' | 'of'> & {run?: number; of?: number}>

/** Each part's jobs in one run (1-based); the runs count comes from the plan unless a job says otherwise. */
const PART_JOBS: Record<BenchPart, PartJobs> = {
  model: ({plan, model, fp16Model}) =>
    plan.batchSizes.map((batch) => ({
      key: `model/${batch}`,
      label: `model-only batch ${batch}${plan.device === 'cpu' ? '' : ` on ${plan.device}${plan.dtype === 'fp16' ? ' fp16' : ''}`}`,
      job: {
        kind: 'model',
        model: fp16Model ?? model,
        batch,
        images: plan.device === 'cpu' ? plan.modelImages : Math.max(plan.modelImages, 2 * batch),
        threads: plan.threads,
        ...(plan.device === 'cpu' ? {} : {device: plan.device}),
      },
    })),
  preprocess: ({plan, datasets}) =>
    datasets.map((ds) => ({
      key: `preprocess/${ds.size}`,
      label: `decode+preprocess ${ds.size}`,
      job: {kind: 'preprocess', paths: ds.images, iterations: plan.preprocessIterations, concurrency: 4},
    })),
  eval: ({plan, datasets, model}) =>
    datasets.flatMap((ds) =>
      plan.batchSizes.map((batch) => ({
        key: `eval/${ds.size}/${batch}`,
        label: `eval ${ds.size} batch ${batch}${plan.device === 'cpu' ? '' : ` on ${plan.device}${plan.dtype === 'fp16' ? ' fp16' : ''}`}`,
        job: {
          kind: 'eval',
          dataset: ds.root,
          model,
          batch,
          threads: plan.threads,
          ...(plan.device === 'cpu' ? {} : {device: plan.device}),
          ...(plan.dtype === 'fp16' ? {dtype: 'fp16' as const} : {}),
        },
      })),
    ),
  // predict runs its own number of times (once by default), spread over the first runs, not --runs times.
  predict: ({plan, predictFolder, model}, run) => {
    if (!predictFolder) return []
    const out: ReturnType<PartJobs> = []
    for (let p = run; p <= plan.predictRuns; p += plan.runs) {
      out.push({
        key: 'predict',
        label: `predict ${plan.predictImages} × ${PREDICT_SIZE.name.replace('x', '×')} JPEG folder, batch ${PREDICT_BATCH}, --landmarks`,
        run: p,
        of: plan.predictRuns,
        job: {kind: 'predict', folder: predictFolder, model, batch: PREDICT_BATCH, threads: plan.threads, landmarks: true, expectRows: plan.predictImages},
      })
    }
    return out
  },
  video: ({plan, videoClip, model}) =>
    videoClip
      ? [{key: 'video', label: `predict video 640×480 --fps ${VIDEO_SAMPLE_FPS}, batch ${VIDEO_BATCH}`, job: {kind: 'video', clip: videoClip, model, threads: plan.threads, batch: VIDEO_BATCH, fps: VIDEO_SAMPLE_FPS}}]
      : [],
  faces: ({plan, model}) => [
    {
      key: 'faces',
      label: '--faces detect vs POSTER++ batch 1, 640×480 photo',
      job: {kind: 'faces', photo: FACES_PHOTO, model, threads: plan.threads, iterations: plan.quick ? FACES_ITERATIONS.quick : FACES_ITERATIONS.full},
    },
  ],
  // Once: 20,000 images take minutes; the measurement is of a stream, not of a short burst.
  dataset: ({plan, datasetSet}, run) =>
    datasetSet && run === 1
      ? [{key: 'dataset', label: `dataset check ${plan.datasetImages} × 100×100 JPEG`, run: 1, of: 1, job: {kind: 'dataset-check', manifest: datasetSet, images: plan.datasetImages}}]
      : [],
  convert: ({checkpoint, tmp}) =>
    (['float32', 'float16'] as const).map((dtype) => ({
      key: `convert/${dtype}`,
      label: `convert ${dtype}`,
      job: {kind: 'convert', checkpoint, out: join(tmp, `convert-${dtype}.onnx`), dtype, classes: checkpoint ? undefined : 7, remove: true},
    })),
  // Once: it compares outputs, it times nothing.
  fp16: ({plan, fp32Deterministic, fp16Path}, run) =>
    run === 1
      ? [{key: 'parity', label: 'fp16 vs fp32 logits', run: 1, of: 1, job: {kind: 'parity', fp32: fp32Deterministic, fp16: fp16Path, batch: PARITY_BATCH, threads: plan.threads}}]
      : [],
  // The conversion once (it is timed and makes the model the paired runs use), then float32 and int8 side by side.
  int8: ({plan, int8}, run) =>
    int8
      ? [
          ...(run === 1
            ? [{
                key: 'convert/int8',
                label: `convert int8 (deterministic weights, calibrated on ${int8.calibrationImages} generated faces)`,
                run: 1,
                of: 1,
                job: {kind: 'convert' as const, out: int8.out, dtype: 'int8' as const, classes: 7, calibrate: int8.calibrate, calibrationImages: int8.calibrationImages},
              }]
            : []),
          ...BATCH_SIZES.map((batch) => ({
            key: `int8/${batch}`,
            label: `int8 vs float32 model-only batch ${batch} (paired)`,
            // At least three call pairs per run, so that the median pair ratio is not one pair's.
            job: {kind: 'pair' as const, float32: int8.float32, int8: int8.out, batch, images: Math.max(plan.modelImages, 3 * batch), threads: plan.threads},
          })),
        ]
      : [],
  pytorch: ({plan, python, exportedPath}) => [
    ...(python
      ? plan.batchSizes.map((batch) => ({
          key: `torch/${batch}`,
          label: `PyTorch eager batch ${batch}`,
          job: {kind: 'torch' as const, batch, images: plan.modelImages, budgetSeconds: plan.quick ? TORCH_BUDGET_QUICK_S : TORCH_BUDGET_S},
        }))
      : []),
    ...(exportedPath
      ? [{
          key: 'exported',
          label: `torch-exported graph batch ${EXPORT_BATCH}`,
          job: {kind: 'model' as const, model: exportedPath, batch: EXPORT_BATCH, images: plan.modelImages, threads: plan.threads},
        }]
      : []),
  ],
}

/** Every job of the benchmark, in the order they run. */
export function planJobs(inputs: PlanInputs): PlannedJob[] {
  const jobs: PlannedJob[] = []
  for (let run = 1; run <= inputs.plan.runs; run++) {
    for (const part of BENCH_PARTS) {
      if (!inputs.parts.has(part)) continue
      for (const j of PART_JOBS[part](inputs, run)) jobs.push({...j, part, run: j.run ?? run, of: j.of ?? inputs.plan.runs})
    }
  }
  return jobs
}
