/**
 * `poster bench` as a straight line: prepare the model, datasets and (optionally) the PyTorch baseline once
 * (prepare.ts), list the jobs (plan.ts), hand every job to one `measure` that runs it in a fresh process and keeps
 * its sample, then turn the samples into medians (entries.ts). Nothing here times anything itself: measure.ts
 * does, in the children (the PyTorch baseline times itself in Python).
 */
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {writeFileAtomic} from '../basics.js'
import {prepareOutputFile} from '../files.js'
import {cacheDir} from '../models/cache.js'
import {TOOL_VERSION} from '../version.js'
import {runInChild} from './child.js'
import {convertEntry, evalEntry, int8Entry, modelEntry, predictEntry, preprocessEntry, samplesOf, torchEntry} from './entries.js'
import {loadAverage, machineInfo} from './machine.js'
import {BATCH_SIZES, benchPlan, EXPORT_BATCH, planJobs, PREDICT_BATCH, PREDICT_SIZE, type PlannedJob} from './plan.js'
import {ensureDeterministicModel, messageOf, prepareCalibrationSet, prepareDatasets, prepareModel, preparePredictFolder, preparePytorch} from './prepare.js'
import type {PythonBaseline} from './python.js'
import {maxAbsDiff, round, summarize} from './stats.js'
import {facesEntry} from './faces.js'
import {datasetCheckEntry, prepareDatasetSet} from './dataset.js'
import {prepareVideoClip, videoEntry} from './video.js'
import {BENCH_PARTS, GPU_BENCH_PARTS, type AnyMeasurement, type BenchOptions, type BenchPart, type BenchResult, type Fp16Entry, type Sample} from './types.js'

/**
 * Run one job: in a fresh Node process (its peak RSS is that measurement's alone), or through the Python baseline
 * for PyTorch eager. Either way the sample records its run, peak RSS, wall time and the load when it started.
 */
async function execute(job: PlannedJob, py: PythonBaseline | undefined): Promise<{measurement: AnyMeasurement; peakRssMb: number; wallSeconds: number}> {
  const work = job.job
  if (work.kind === 'torch') {
    if (!py) throw new Error('the PyTorch baseline is not prepared')
    const t0 = performance.now()
    const r = await py.bench({batch: work.batch, images: work.images, budgetSeconds: work.budgetSeconds})
    return {measurement: {...r, kind: 'torch'}, peakRssMb: r.peak_rss_mb, wallSeconds: (performance.now() - t0) / 1000}
  }
  return runInChild(work)
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const started = performance.now()
  const status = opts.onStatus ?? (() => {})
  const env = opts.env ?? process.env
  const loadStart = loadAverage()
  const machine = await machineInfo()
  const {defaultThreads} = await import('../runtime/session.js')
  const plan = benchPlan(opts, defaultThreads())
  const BATCH_SIZES = plan.batchSizes
  const gpu = plan.device !== 'cpu'
  const workDir = resolve(opts.workDir ?? join(cacheDir(), 'bench'))
  await mkdir(workDir, {recursive: true})
  const tmp = await mkdtemp(join(tmpdir(), 'poster-bench-'))
  const errors: BenchResult['errors'] = []
  const parts = new Set<BenchPart>(opts.parts ?? (gpu ? GPU_BENCH_PARTS : BENCH_PARTS))
  if (gpu) {
    const cpuOnly = [...parts].filter((p) => !GPU_BENCH_PARTS.includes(p))
    if (cpuOnly.length > 0) throw new Error(`--device ${plan.device} measures ${GPU_BENCH_PARTS.join(', ')}; ${cpuOnly.join(', ')} run on the CPU (drop --device for them)`)
  }
  let py: PythonBaseline | undefined

  try {
    // ---- preparation (untimed) ----
    const fp32Deterministic = (await import('../pipeline/demo.js')).demoModelPath()
    const fp16Path = join(workDir, 'poster-untrained-7cls-fp16.onnx')
    const model = await prepareModel(opts.model, fp32Deterministic, status)
    const gpuInfo = gpu ? await prepareGpu(plan.device, status) : undefined
    if (plan.dtype === 'fp16') {
      const [{fp16ComputeCopy}, {sha256File}] = await Promise.all([import('../models/fp16-copy.js'), import('../basics.js')])
      model.fp16Path = (await fp16ComputeCopy(model.path, await sha256File(model.path), cacheDir(), status)).path
    }
    const datasets = parts.has('preprocess') || parts.has('eval') ? await prepareDatasets(workDir, plan.perClass, status) : []
    const predictFolder = parts.has('predict') ? await preparePredictFolder(workDir, plan.predictImages, status) : undefined
    const videoClip = parts.has('video') ? await prepareVideoClip(workDir, plan.quick, status) : undefined
    const datasetSet = parts.has('dataset') ? await prepareDatasetSet(workDir, plan.datasetImages, status) : undefined
    let checkpoint = env.POSTER_BENCH_CHECKPOINT?.trim() || undefined
    if (checkpoint && !existsSync(checkpoint)) {
      errors.push({measurement: 'convert', message: `POSTER_BENCH_CHECKPOINT=${checkpoint} does not exist; timing the deterministic build instead`})
      checkpoint = undefined
    }
    const pytorch = await preparePytorch({env, wanted: parts.has('pytorch'), threads: plan.threads, quick: plan.quick, workDir, tmp, checkpoint, status})
    py = pytorch.py
    errors.push(...pytorch.errors)
    checkpoint ??= pytorch.checkpoint
    // The fp16 check compares the deterministic model in both storage types, whatever --model is.
    if (parts.has('fp16')) {
      await ensureDeterministicModel(fp32Deterministic, 'float32', status)
      await ensureDeterministicModel(fp16Path, 'float16', status)
    }

    // int8 against the deterministic float32 model (whatever --model is), converted in a timed job.
    let int8: {float32: string; out: string; calibrate: string; calibrationImages: number} | undefined
    if (parts.has('int8')) {
      const {DEFAULT_CALIBRATION_IMAGES, HELDOUT_IMAGES} = await import('../convert/int8-settings.js')
      const calibrationImages = plan.quick ? 16 : DEFAULT_CALIBRATION_IMAGES
      await ensureDeterministicModel(fp32Deterministic, 'float32', status)
      const calibrate = await prepareCalibrationSet(workDir, calibrationImages + HELDOUT_IMAGES, status)
      int8 = {float32: fp32Deterministic, out: join(workDir, 'poster-untrained-7cls-int8.onnx'), calibrate, calibrationImages}
    }

    // ---- the measurements: every job through one measure ----
    const jobs = planJobs({
      plan, parts, model: model.path, fp16Model: model.fp16Path, datasets, predictFolder, videoClip, datasetSet, checkpoint, tmp, fp32Deterministic, fp16Path,
      python: py !== undefined, exportedPath: pytorch.exportedPath, int8,
    })
    const samples = new Map<string, Array<Sample<AnyMeasurement>>>()
    let step = 0
    const measure = async (job: PlannedJob): Promise<void> => {
      step++
      const ofRuns = job.of > 1 ? ` (run ${job.run}/${job.of})` : ''
      status(`[${step}/${jobs.length}] ${job.label}${ofRuns}`)
      try {
        const load1 = loadAverage()[0]
        const {measurement, peakRssMb, wallSeconds} = await execute(job, py)
        const sample: Sample<AnyMeasurement> = {...measurement, run: job.run, peakRssMb, wallSeconds, load1}
        let bucket = samples.get(job.key)
        if (!bucket) samples.set(job.key, (bucket = []))
        bucket.push(sample)
      } catch (error) {
        errors.push({measurement: `${job.label}${job.of > 1 ? ` run ${job.run}` : ''}`, message: messageOf(error)})
        status(`  failed: ${messageOf(error)}`)
      }
    }
    for (const job of jobs) await measure(job)
    await py?.remove()
    py = undefined

    // ---- medians ----
    const modelOnly = BATCH_SIZES.flatMap((b) => modelEntry('converted', b, samplesOf(samples, `model/${b}`, 'model')) ?? [])
    const modelRate = (b: number) => modelOnly.find((m) => m.batch === b)?.imagesPerSecond.median
    const preprocess = datasets.flatMap((ds) => preprocessEntry(ds.size, samplesOf(samples, `preprocess/${ds.size}`, 'preprocess')) ?? [])
    const evals = datasets.flatMap((ds) =>
      BATCH_SIZES.flatMap((b) => evalEntry(ds.size, b, samplesOf(samples, `eval/${ds.size}/${b}`, 'eval'), modelRate(b)) ?? []),
    )
    const predict = predictFolder
      ? predictEntry(PREDICT_SIZE.name, predictFolder, samplesOf(samples, 'predict', 'predict'), modelRate(PREDICT_BATCH))
      : undefined
    const convert = (['float32', 'float16'] as const).flatMap((dtype) => convertEntry(samplesOf(samples, `convert/${dtype}`, 'convert'), checkpoint) ?? [])
    let fp16: Fp16Entry | undefined
    const parity = samplesOf(samples, 'parity', 'parity')[0]
    const section = pytorch.section
    if (parity) {
      fp16 = {batch: parity.batch, fp32Bytes: parity.fp32Bytes, fp16Bytes: parity.fp16Bytes, maxAbsDiff: parity.maxAbsDiff, argmaxAgreement: parity.argmaxAgreement, peakRssMb: parity.peakRssMb}
      if (pytorch.logits && pytorch.logits.length === parity.logitsFp32.length) section.parityMaxAbsDiff = maxAbsDiff(pytorch.logits, parity.logitsFp32)
    }
    section.eager = BATCH_SIZES.flatMap((b) => torchEntry(b, samplesOf(samples, `torch/${b}`, 'torch'), modelRate(b)) ?? [])
    const exported = samplesOf(samples, 'exported', 'model')
    if (exported.length > 0) {
      section.exported = modelEntry('torch-exported', EXPORT_BATCH, exported)
      const conv = modelRate(EXPORT_BATCH)
      if (section.exported && conv !== undefined) section.convertedOverExported = conv / section.exported.imagesPerSecond.median
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
        ...(gpu ? {device: plan.device, dtype: plan.dtype} : {}),
        modelImages: plan.modelImages,
        evalImages: plan.perClass * 7,
        preprocessIterations: plan.preprocessIterations,
        batchSizes: [...BATCH_SIZES],
        predictImages: plan.predictImages,
        predictRuns: plan.predictRuns,
        datasetImages: plan.datasetImages,
      },
      model,
      ...(gpuInfo ? {gpu: gpuInfo} : {}),
      seconds: round((performance.now() - started) / 1000, 1),
      sessionMs: allSession.length > 0 ? summarize(allSession) : undefined,
      modelOnly,
      preprocess,
      eval: evals,
      predict,
      video: videoEntry(videoClip, samplesOf(samples, 'video', 'video')),
      faces: facesEntry(samplesOf(samples, 'faces', 'faces')),
      datasetCheck: datasetCheckEntry(samplesOf(samples, 'dataset', 'dataset-check')),
      convert,
      fp16,
      ...(int8 ? {int8: await int8Entry(int8.out, int8.float32, samplesOf(samples, 'convert/int8', 'convert')[0], BATCH_SIZES.map((b) => samplesOf(samples, `int8/${b}`, 'pair')))} : {}),
      pytorch: section,
      errors,
    }
  } finally {
    await py?.remove()
    await rm(tmp, {recursive: true, force: true})
  }
}

/**
 * Before a GPU run: the provider must load (else the error says what to install, and nothing is measured), and
 * the GPU's name comes from nvidia-smi or vulkaninfo.
 */
async function prepareGpu(device: BenchResult['settings']['device'] & string, status: (m: string) => void): Promise<NonNullable<BenchResult['gpu']>> {
  const [{probeDevice}, {deviceName, gpuReport}] = await Promise.all([import('../runtime/session.js'), import('../runtime/gpu-info.js')])
  const probe = await probeDevice(device)
  if (!probe.loads) throw new Error(probe.help ?? `--device ${device}: ${probe.error}`)
  const name = deviceName(device, await gpuReport())
  status(`${device}: ${probe.provider} on ${name ?? 'an unnamed GPU (no nvidia-smi / vulkaninfo)'}`)
  return {device, provider: probe.provider, ...(name ? {name} : {})}
}

/** Default JSON path: bench-results/bench-<UTC timestamp>.json. */
export function defaultResultPath(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return join('bench-results', `bench-${stamp}.json`)
}

/** The results path checked (and its folder made) before the benchmark runs: see prepareOutputFile. */
export async function checkBenchOutput(path: string): Promise<void> {
  await prepareOutputFile(path)
}

export async function writeBenchResult(result: BenchResult, path: string): Promise<string> {
  const abs = resolve(path)
  await prepareOutputFile(abs)
  await writeFileAtomic(abs, JSON.stringify(result, null, 2) + '\n')
  return abs
}
