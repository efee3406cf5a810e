/**
 * `poster eval` as a straight line: dataset → the shared loop (decode, faces, batches through the model) → rows
 * → metrics → report files. Everything is computed in the dataset's class space; the model's classes are mapped
 * onto it by name.
 */
import {join, resolve} from 'node:path'

import {describeGroup, loadDataset, type Dataset, type DatasetFormat} from '../datasets/index.js'
import {mapDatasetToModel} from '../datasets/labels.js'
import {argmax, softmax} from '../metrics/index.js'
import {PREPROCESS} from '../image/preprocess.js'
import {paperAccuracy} from '../models/registry.js'
import {createRunDir, evalColumns, recordToPredictionRow, type PredictionRow, type ReportContext} from '../report/index.js'
import {resolveBatchSize, type BatchSizeSetting} from '../runtime/batch-size.js'
import type {Device} from '../runtime/session.js'
import {TOOL_VERSION} from '../version.js'
import {runCheck, type CheckOutcome, type CheckThresholds} from './check.js'
import {buildMetricsFile, type MetricsFile} from './eval-metrics.js'
import {writeEvalReports} from './eval-report.js'
import {openFaceStage, largestFace} from '../faces/stage.js'
import type {FaceStage, FacesMode} from '../faces/types.js'
import {mapLandmarks} from './inputs.js'
import {openModel, type ComputeDtype, type OpenedModel} from './model.js'
import {runLoop} from './run-loop.js'
import {openRunOutput, type RunOutput} from './run-output.js'

export {labelOrderFinding, type LabelOrderFinding, type MetricsFile} from './eval-metrics.js'

export interface EvaluateOptions {
  dataset: string
  format?: 'auto' | DatasetFormat
  split?: string
  classes?: number
  /** --labels: the model's class order (overrides its metadata). */
  labels?: string
  limit?: number
  model: string
  /** A number, or auto (runtime/batch-size.ts); default 32. */
  batchSize?: BatchSizeSetting
  device?: Device
  /** fp16: compute in float16 (GPU devices; the command refuses it on the CPU). */
  dtype?: ComputeDtype
  threads?: number
  out?: string
  resume?: boolean
  strict?: boolean
  landmarks?: boolean
  /**
   * Which crops the model sees: whole images, the dataset's annotated boxes, or detected and aligned faces (the
   * largest per image is scored). Default: box when the dataset has boxes (AffectNet's CSV release, a manifest
   * with x,y,w,h), else whole.
   */
  faces?: FacesMode
  /** --faces detect: side of the aligned crop (default 100, as RAF-DB's aligned images). */
  faceSize?: number
  /** Write confusion.png, calibration.svg and report.html (default true). */
  pictures?: boolean
  /** Show the paper's figure for known benchmarks (default true; the untrained demo turns it off). */
  comparePaper?: boolean
  baseline?: string
  thresholds?: Partial<CheckThresholds>
  onStatus?: (message: string) => void
  onProgress?: (done: number, total: number) => void
  /** Bytes of a registry checkpoint being downloaded (total undefined when the server does not say). */
  onDownloadProgress?: (received: number, total: number | undefined) => void
}

export interface EvaluateResult {
  runDir: string
  metrics: MetricsFile
  context: ReportContext
  check?: CheckOutcome
  resumedRows: number
}

export async function evaluate(opts: EvaluateOptions): Promise<EvaluateResult> {
  const started = performance.now()
  const status = opts.onStatus ?? (() => {})
  const dataset = await loadDataset(resolve(opts.dataset), {
    format: opts.format ?? 'auto',
    split: opts.split ?? 'test',
    classes: opts.classes,
    limit: opts.limit,
  })
  if (dataset.items.length === 0) throw new Error(`the dataset at ${opts.dataset} has no images in split "${dataset.split}"`)
  for (const note of dataset.notes) status(note)

  const model = await openModel(opts.model, {
    device: opts.device,
    dtype: opts.dtype,
    threads: opts.threads,
    labels: opts.labels,
    onStatus: (_stage, message) => status(message),
    onDownloadProgress: opts.onDownloadProgress,
  })
  const batchSize = await resolveBatchSize(opts.batchSize, model.session.device, 32, status)
  const mode: FacesMode = opts.faces ?? (dataset.hasBoxes ? 'box' : 'whole')
  if (mode === 'box' && !dataset.hasBoxes) {
    await model.session.release()
    throw new Error(`--faces box needs annotated face boxes; the ${dataset.format} dataset at ${dataset.root} has none (AffectNet's CSV release and manifests with x,y,w,h columns do)`)
  }
  if (mode !== 'whole') status(`faces: ${mode === 'box' ? "the dataset's annotated boxes, cropped as PIL's Image.crop" : 'detected and aligned to the RAF-DB template; the largest face of each image is scored'}`)
  let stage: FaceStage
  try {
    stage = await openFaceStage({mode, size: opts.faceSize})
  } catch (e) {
    await model.session.release()
    throw e
  }
  try {
    return await evaluateWithModel({...opts, batchSize}, dataset, model, stage, started)
  } finally {
    await stage.release()
    await model.session.release()
  }
}

/** The model's class names, checked against the dataset's, and the dataset → model column map. */
function reconcileClasses(dataset: Dataset, model: OpenedModel, warnings: string[]): {modelLabels: string[]; datasetToModel: number[]} {
  const dsLabels = dataset.labels
  if (model.numClasses !== dsLabels.length) {
    throw new Error(
      `the model outputs ${model.numClasses} classes but the dataset has ${dsLabels.length} ` +
        `([${dsLabels.join(', ')}]); ` +
        (dataset.format === 'affectnet' ? `pass --classes ${model.numClasses} to use the matching AffectNet protocol` : 'use a model trained on this label set'),
    )
  }
  let modelLabels = model.labels
  if (!modelLabels) {
    modelLabels = [...dsLabels]
    warnings.push(
      "the model carries no class names (no 'labels' metadata, no --labels): assuming it uses the dataset's class order " +
        `[${dsLabels.join(', ')}]`,
    )
  }
  return {modelLabels, datasetToModel: mapDatasetToModel(dsLabels, modelLabels)}
}

/**
 * Rows already in a resumed predictions.csv, by path, as rows in dataset order. A row whose label differs from the
 * dataset's label for that image means the file was written on other data: refused, since its rows would be
 * scored against labels they were not predicted for.
 */
function resumedRows(output: RunOutput, dataset: Dataset, file: string): Map<string, PredictionRow> {
  const done = new Map<string, PredictionRow>()
  const byPath = new Map(dataset.items.map((i) => [i.relPath, i]))
  const columns = output.writer.columns
  let mismatched = 0
  let example = ''
  for (const [path, records] of output.done) {
    const item = byPath.get(path)
    if (!item) continue
    const row = recordToPredictionRow(records[0]!, columns)
    if (row.label !== item.label) {
      mismatched++
      example ||= `${path}: label ${row.label ?? 'none'} there, ${item.label ?? 'none'} in the dataset`
      continue
    }
    done.set(path, row)
  }
  if (mismatched > 0) {
    throw new Error(
      `cannot resume ${file}: ${mismatched} of its images have other labels than this dataset gives them (${example}); ` +
        'it was written on other data. Choose another --out.',
    )
  }
  return done
}

async function evaluateWithModel(
  opts: EvaluateOptions,
  dataset: Dataset,
  model: OpenedModel,
  stage: FaceStage,
  started: number,
): Promise<EvaluateResult> {
  const status = opts.onStatus ?? (() => {})
  const warnings: string[] = []
  if (model.metadata.untrained === 'true') {
    warnings.push('UNTRAINED model (deterministic demo weights): accuracy is chance level by design; this run shows the pipeline, not POSTER++')
  }
  const dsLabels = dataset.labels
  const dup = dataset.duplicates
  if (dup && dup.repeatedListings > 0) {
    warnings.push(
      `${dup.repeats.length} image${dup.repeats.length === 1 ? ' is' : 's are'} listed more than once with the same label in ${dup.file} ` +
        `(first: ${describeGroup(dup.repeats[0]!)}); each is scored once (${dup.repeatedListings} repeated listing${dup.repeatedListings === 1 ? '' : 's'} left out)`,
    )
  }
  const {modelLabels, datasetToModel} = reconcileClasses(dataset, model, warnings)
  const C = dsLabels.length

  const {dir: runDir, resumed} = await createRunDir(opts.out, dataset.benchmark ?? dataset.format, {resume: opts.resume})
  const predictionsPath = join(runDir, 'predictions.csv')
  const output = await openRunOutput(predictionsPath, {
    columns: evalColumns(dsLabels, {landmarks: opts.landmarks, faces: stage.mode === 'whole' ? 'none' : stage.mode}),
    classNames: dsLabels,
    resume: resumed || opts.resume,
    identity: {
      kind: 'eval',
      model: {sha256: model.sha256, labels: modelLabels, ...(model.dtype === 'fp16' ? {dtype: 'fp16'} : {})},
      dataset: {root: dataset.root, format: dataset.format, variant: dataset.variant ?? null, split: dataset.split, labels: dsLabels},
      preprocess: {size: PREPROCESS.size, resize: PREPROCESS.resize, mean: PREPROCESS.mean, std: PREPROCESS.std, formats: 'pillow'},
      ...stage.identity(),
    },
    // The same images and labels found at a new path (a moved or copied dataset) may be resumed; each resumed
    // row's label is checked against the dataset below.
    tolerate: (key, before, now) =>
      key === 'dataset.root' ? `the dataset was at ${String(before)} when this run started; it is now read from ${String(now)}` : undefined,
  })
  const rowsByIndex = new Map<number, PredictionRow>()
  const timings = {preprocessMs: 0, inferenceMs: 0}
  let done: Map<string, PredictionRow>
  try {
    done = resumedRows(output, dataset, predictionsPath)
    if (done.size > 0) status(`resuming: ${done.size} of ${dataset.items.length} images already in ${predictionsPath}`)
    warnings.push(...output.warnings)

    const todo = dataset.items.map((item, index) => ({item, index})).filter((t) => !done.has(t.item.relPath))
    let progressed = done.size
    opts.onProgress?.(progressed, dataset.items.length)
    await runLoop({
      session: model.session,
      units: todo.map((t) => ({item: t.item})),
      output,
      stage,
      decode: {formats: 'pillow'},
      select: stage.mode === 'detect' ? largestFace : undefined,
      batchSize: typeof opts.batchSize === 'number' ? opts.batchSize : 32,
      landmarks: opts.landmarks,
      strict: opts.strict,
      timings,
      toRows(item, o) {
        const base = {path: item.relPath, split: item.split, label: item.label, labelName: item.label === undefined ? undefined : dsLabels[item.label]}
        const scored = o.inputs[0]
        if (!o.ok) return {rows: [{...base, status: 'error', error: o.error ?? 'unknown error'}]}
        // eval scores every image: one without a face is an error row (left out of the metrics, counted).
        if (!scored) return {rows: [{...base, status: 'no_face', error: 'no face found', extra: {faces: 0}}]}
        const modelProbs = softmax(scored.output.logits, C)
        const probs = new Float64Array(C)
        for (let i = 0; i < C; i++) probs[i] = modelProbs[datasetToModel[i]]
        const pred = argmax(probs)
        const row: PredictionRow = {...base, status: 'ok', probs, pred, confidence: probs[pred]}
        if (scored.input.face) row.face = scored.input.face
        if (scored.output.landmarks) row.landmarks = mapLandmarks(scored.output.landmarks, scored.input.toOriginal)
        return {rows: [row]}
      },
      afterCommit(units) {
        // outcome.index counts within todo; todo[k].index is the image's place in the dataset.
        for (const u of units) rowsByIndex.set(todo[u.outcome.index]!.index, u.rows[0]!)
        progressed += units.length
        opts.onProgress?.(progressed, dataset.items.length)
      },
    })
  } finally {
    await output.close()
  }

  // Every image, in dataset order: resumed rows looked up by path, then this run's.
  const allRows: PredictionRow[] = dataset.items.map((item, index) => rowsByIndex.get(index) ?? done.get(item.relPath)!)
  const totalS = (performance.now() - started) / 1000
  const {metrics, classification, bins, scored} = buildMetricsFile(
    {
      dataset,
      model,
      modelLabels,
      datasetToModel,
      rows: allRows,
      facesMode: stage.mode,
      comparePaper: opts.comparePaper !== false,
      warnings,
      timings: {totalS, preprocessMs: timings.preprocessMs, inferenceMs: timings.inferenceMs, scoredThisRun: rowsByIndex.size},
    },
    predictionsPath,
  )

  const paper = metrics.paper ? paperAccuracy(metrics.paper.benchmark) : undefined
  const context: ReportContext = {
    model: model.spec,
    modelSha256: model.sha256,
    dataset: dataset.benchmark ?? dataset.root,
    split: dataset.split,
    nImages: allRows.length,
    nFailed: metrics.n_failed,
    paperAccuracy: metrics.paper?.accuracy,
    paperSource: paper !== undefined ? 'POSTER++ (Mao et al., 2023)' : undefined,
    classNames: dsLabels,
    warnings: metrics.warnings,
    createdAt: metrics.created_at,
    provider: model.session.providers[0],
    durationSeconds: totalS,
    toolVersion: TOOL_VERSION,
  }

  let check: CheckOutcome | undefined
  if (opts.baseline) {
    check = await runCheck({current: {metrics, rows: allRows}, baseline: opts.baseline, thresholds: opts.thresholds})
    metrics.check = check.result
  }
  await writeEvalReports({runDir, metrics, classification, bins, scored, dataset, context, pictures: opts.pictures !== false})
  return {runDir, metrics, context, check, resumedRows: done.size}
}
