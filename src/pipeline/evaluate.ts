/**
 * `poster eval` as a straight line: dataset → preprocessing → batches through the model → metrics → report
 * files. Everything is computed in the dataset's class space; the model's classes are mapped onto it by name.
 */
import {join, resolve} from 'node:path'
import {mkdir} from 'node:fs/promises'

import {loadDataset, type Dataset, type DatasetFormat} from '../datasets/index.js'
import {mapDatasetToModel} from '../datasets/labels.js'
import {
  argmax,
  bestLabelPermutation,
  calibrationBins,
  computeClassificationMetrics,
  softmax,
  type CalibrationBin,
  type ClassificationMetrics,
} from '../metrics/index.js'
import {paperAccuracy} from '../models/registry.js'
import {
  PredictionsWriter,
  calibrationSvg,
  confusionCsv,
  confusionSvg,
  createRunDir,
  evalColumns,
  mostConfidentMistakes,
  recordToPredictionRow,
  renderHtmlReport,
  reportMarkdown,
  writeFileAtomic,
  type MistakeExample,
  type PredictionRow,
  type ReportContext,
} from '../report/index.js'
import {classifyBatches} from '../runtime/classify.js'
import type {Device} from '../runtime/session.js'
import {TOOL_VERSION} from '../version.js'
import {openModel, type OpenedModel} from './model.js'
import {runCheck, type CheckOutcome, type CheckThresholds} from './check.js'

export interface EvaluateOptions {
  dataset: string
  format?: 'auto' | DatasetFormat
  split?: string
  classes?: number
  /** --labels: the model's class order (overrides its metadata). */
  labels?: string
  limit?: number
  model: string
  batchSize?: number
  device?: Device
  threads?: number
  out?: string
  resume?: boolean
  strict?: boolean
  landmarks?: boolean
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

export interface LabelOrderFinding {
  identity_accuracy: number
  best_accuracy: number
  /** permutation[p] = the dataset class that predicted class p most plausibly stands for. */
  permutation: number[]
  suspicious: boolean
  /** The --labels value that would make the model's names match what it predicts. */
  suggested_labels?: string
}

export interface MetricsFile extends ClassificationMetrics {
  n_failed: number
  labels: string[]
  paper: {accuracy: number; benchmark: string} | null
  calibration: CalibrationBin[]
  label_order: LabelOrderFinding
  model: {spec: string; path: string; sha256: string; source: string; labels: string[]; labels_source: string; providers: string[]}
  dataset: {
    root: string
    format: string
    variant?: string
    split: string
    benchmark?: string
    excluded: Array<{reason: string; count: number}>
    notes: string[]
  }
  split: string
  /** preprocess_wait_s: time the model waited for decoding (preprocessing not overlapped with inference). */
  timings: {total_s: number; preprocess_wait_s: number; inference_s: number; images_per_s: number}
  tool: {name: 'poster'; version: string}
  created_at: string
  warnings: string[]
}

export interface EvaluateResult {
  runDir: string
  metrics: MetricsFile
  context: ReportContext
  check?: CheckOutcome
  resumedRows: number
}

/** Landmark-order warning: the best relabelling must beat the identity by this much (fraction) ... */
const LABEL_ORDER_MARGIN = 0.15
/** ... on at least this many scored images. */
const LABEL_ORDER_MIN_IMAGES = 20

export function labelOrderFinding(
  counts: number[][],
  datasetLabels: string[],
  modelLabels: string[],
  datasetToModel: number[],
  nImages: number,
): LabelOrderFinding {
  const best = bestLabelPermutation(counts)
  const suspicious =
    nImages >= LABEL_ORDER_MIN_IMAGES && !best.isIdentity && best.accuracy - best.identityAccuracy >= LABEL_ORDER_MARGIN
  const finding: LabelOrderFinding = {
    identity_accuracy: best.identityAccuracy,
    best_accuracy: best.accuracy,
    permutation: best.permutation,
    suspicious,
  }
  if (suspicious) {
    // Predicted dataset-class p is model output datasetToModel[p]; it most plausibly means dataset class permutation[p].
    const names = [...modelLabels]
    for (let p = 0; p < datasetLabels.length; p++) names[datasetToModel[p]] = datasetLabels[best.permutation[p]]
    finding.suggested_labels = names.join(',')
  }
  return finding
}

function describeLabelOrder(f: LabelOrderFinding, datasetLabels: string[]): string {
  const moves = f.permutation
    .map((t, p) => (t === p ? undefined : `predicted ${datasetLabels[p]} → ${datasetLabels[t]}`))
    .filter(Boolean)
    .join(', ')
  return (
    `label order looks wrong: accuracy is ${(f.identity_accuracy * 100).toFixed(2)}% as labelled but ` +
    `${(f.best_accuracy * 100).toFixed(2)}% if the model's classes are relabelled (${moves}). ` +
    `If the model was trained with another class order, pass --labels "${f.suggested_labels}".`
  )
}

/** Rows already in a resumed predictions.csv, by path, turned back into probabilities in dataset order. */
function resumedOutcomes(writer: PredictionsWriter, ds: Dataset): Map<string, PredictionRow> {
  const done = new Map<string, PredictionRow>()
  const known = new Set(ds.items.map((i) => i.relPath))
  for (const record of writer.existing?.rows ?? []) {
    const row = recordToPredictionRow(record, writer.columns)
    if (known.has(row.path)) done.set(row.path, row)
  }
  return done
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
    threads: opts.threads,
    labels: opts.labels,
    onStatus: (_stage, message) => status(message),
    onDownloadProgress: opts.onDownloadProgress,
  })
  try {
    return await evaluateWithModel(opts, dataset, model, started)
  } finally {
    await model.session.release()
  }
}

async function evaluateWithModel(
  opts: EvaluateOptions,
  dataset: Dataset,
  model: OpenedModel,
  started: number,
): Promise<EvaluateResult> {
  const status = opts.onStatus ?? (() => {})
  const warnings: string[] = []
  if (model.metadata.untrained === 'true') {
    warnings.push('UNTRAINED model (deterministic demo weights): accuracy is chance level by design; this run shows the pipeline, not POSTER++')
  }
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
  const datasetToModel = mapDatasetToModel(dsLabels, modelLabels)
  const C = dsLabels.length

  const {dir: runDir, resumed} = await createRunDir(opts.out, dataset.benchmark ?? dataset.format, {resume: opts.resume})
  await mkdir(runDir, {recursive: true})
  const predictionsPath = join(runDir, 'predictions.csv')
  const writer = await PredictionsWriter.open(predictionsPath, {
    columns: evalColumns(dsLabels, {landmarks: opts.landmarks}),
    classNames: dsLabels,
    resume: resumed || opts.resume,
  })
  const done = resumedOutcomes(writer, dataset)
  if (done.size > 0) status(`resuming: ${done.size} of ${dataset.items.length} images already in ${predictionsPath}`)
  for (const w of writer.existing?.warnings ?? []) warnings.push(w)

  const todo = dataset.items.map((item, index) => ({index, path: item.path})).filter((t) => !done.has(dataset.items[t.index].relPath))
  const timings = {preprocessMs: 0, inferenceMs: 0}
  const {preprocessInto} = await import('../image/preprocess.js')
  const rowsByIndex = new Map<number, PredictionRow>()
  let progressed = done.size
  opts.onProgress?.(progressed, dataset.items.length)
  try {
    for await (const outcomes of classifyBatches(model.session, todo, {
      batchSize: opts.batchSize ?? 32,
      preprocess: (path, out, offset) => preprocessInto(path, out, offset),
      landmarks: opts.landmarks,
      strict: opts.strict,
      timings,
    })) {
      const rows: PredictionRow[] = []
      for (const o of outcomes) {
        const item = dataset.items[o.index]
        const base = {path: item.relPath, split: item.split, label: item.label, labelName: item.label === undefined ? undefined : dsLabels[item.label]}
        if (!o.ok || !o.logits) {
          rows.push({...base, status: 'error', error: o.error ?? 'unknown error'})
          continue
        }
        const modelProbs = softmax(o.logits, C)
        const probs = new Float64Array(C)
        for (let i = 0; i < C; i++) probs[i] = modelProbs[datasetToModel[i]]
        const pred = argmax(probs)
        const row: PredictionRow = {...base, status: 'ok', probs, pred, confidence: probs[pred]}
        if (o.landmarks) row.landmarks = landmarksToPixels(o.landmarks, o.width!, o.height!)
        rows.push(row)
      }
      await writer.append(rows)
      for (let k = 0; k < outcomes.length; k++) rowsByIndex.set(outcomes[k].index, rows[k])
      progressed += outcomes.length
      opts.onProgress?.(progressed, dataset.items.length)
    }
  } finally {
    await writer.close()
  }

  // Every image, in dataset order: resumed rows first looked up by path, then this run's.
  const allRows: PredictionRow[] = dataset.items.map((item, index) => rowsByIndex.get(index) ?? done.get(item.relPath)!)
  const scored = allRows.filter((r) => r.status === 'ok' && r.probs && r.label !== undefined)
  const nFailed = allRows.length - scored.length
  if (scored.length === 0) throw new Error(`none of the ${allRows.length} images could be scored; see ${predictionsPath}`)
  const labelsArr = scored.map((r) => r.label!)
  const probsFlat = new Float64Array(scored.length * C)
  scored.forEach((r, i) => probsFlat.set(Array.from(r.probs!), i * C))
  const metrics = computeClassificationMetrics({labels: labelsArr, probs: probsFlat, classNames: dsLabels})
  const confidences = new Float64Array(scored.length)
  const correct = new Uint8Array(scored.length)
  for (let i = 0; i < scored.length; i++) {
    const best = argmax(probsFlat, i * C, (i + 1) * C)
    confidences[i] = probsFlat[i * C + best]
    correct[i] = best === labelsArr[i] ? 1 : 0
  }
  const bins = calibrationBins(confidences, correct, 15)
  const labelOrder = labelOrderFinding(metrics.confusion.counts, dsLabels, modelLabels, datasetToModel, scored.length)
  if (labelOrder.suspicious) warnings.push(describeLabelOrder(labelOrder, dsLabels))
  if (nFailed > 0) warnings.push(`${nFailed} of ${allRows.length} images could not be read and are left out of the metrics (status=error in predictions.csv)`)

  const benchmark = dataset.benchmark
  const paper = benchmark && opts.comparePaper !== false ? paperAccuracy(benchmark) : undefined
  const totalS = (performance.now() - started) / 1000
  const scoredThisRun = rowsByIndex.size
  const metricsFile: MetricsFile = {
    ...metrics,
    n_images: scored.length,
    n_failed: nFailed,
    labels: dsLabels,
    paper: paper !== undefined && benchmark ? {accuracy: round(paper / 100, 6), benchmark} : null,
    calibration: bins,
    label_order: labelOrder,
    model: {
      spec: model.spec,
      path: model.resolved.onnxPath,
      sha256: model.sha256,
      source: model.resolved.source,
      labels: modelLabels,
      labels_source: model.labels ? model.labelsSource : 'dataset',
      providers: model.session.providers,
    },
    dataset: {
      root: dataset.root,
      format: dataset.format,
      variant: dataset.variant,
      split: dataset.split,
      benchmark,
      excluded: dataset.excluded,
      notes: dataset.notes,
    },
    split: dataset.split,
    timings: {
      total_s: round(totalS, 3),
      preprocess_wait_s: round(timings.preprocessMs / 1000, 3),
      inference_s: round(timings.inferenceMs / 1000, 3),
      images_per_s: round(scoredThisRun / Math.max(totalS, 1e-9), 2),
    },
    tool: {name: 'poster', version: TOOL_VERSION},
    created_at: new Date().toISOString(),
    warnings,
  }

  const context: ReportContext = {
    model: model.spec,
    modelSha256: model.sha256,
    dataset: benchmark ?? dataset.root,
    split: dataset.split,
    nImages: allRows.length,
    nFailed,
    paperAccuracy: metricsFile.paper?.accuracy,
    paperSource: paper !== undefined ? 'POSTER++ (Mao et al., 2023)' : undefined,
    classNames: dsLabels,
    warnings,
    createdAt: metricsFile.created_at,
    provider: model.session.providers[0],
    durationSeconds: totalS,
    toolVersion: TOOL_VERSION,
  }

  let check: CheckOutcome | undefined
  if (opts.baseline) {
    check = await runCheck({
      current: {metrics: metricsFile, rows: allRows},
      baseline: opts.baseline,
      thresholds: opts.thresholds,
    })
    ;(metricsFile as MetricsFile & {check?: unknown}).check = check.result
  }

  await writeFileAtomic(join(runDir, 'metrics.json'), JSON.stringify(metricsFile, null, 2) + '\n')
  await writeFileAtomic(join(runDir, 'confusion.csv'), confusionCsv(dsLabels, metrics.confusion.counts))
  await writeFileAtomic(join(runDir, 'report.md'), reportMarkdown(context, metrics))
  if (opts.pictures !== false) await writePictures(runDir, context, metrics, bins, scored, dataset)
  return {runDir, metrics: metricsFile, context, check, resumedRows: done.size}
}

async function writePictures(
  runDir: string,
  context: ReportContext,
  metrics: ClassificationMetrics,
  bins: CalibrationBin[],
  scored: PredictionRow[],
  dataset: Dataset,
): Promise<void> {
  const {svgToPng, thumbnailJpegDataUri} = await import('../image/sharp.js')
  const names = metrics.per_class.map((c) => c.name)
  const confusion = confusionSvg(names, metrics.confusion.counts, metrics.confusion.normalized)
  const calibration = calibrationSvg(bins, metrics.ece)
  await writeFileAtomic(join(runDir, 'confusion.svg'), confusion)
  await writeFileAtomic(join(runDir, 'confusion.png'), await svgToPng(confusion, {density: 144}))
  await writeFileAtomic(join(runDir, 'calibration.svg'), calibration)
  const byRel = new Map(dataset.items.map((i) => [i.relPath, i.path]))
  const mistakes: MistakeExample[] = []
  for (const row of mostConfidentMistakes(scored, 24)) {
    const abs = byRel.get(row.path)
    let thumbnail: string | undefined
    try {
      if (abs) thumbnail = await thumbnailJpegDataUri(abs, 112)
    } catch {
      // A thumbnail is decoration: an image that scored but will not thumbnail still gets its gallery entry.
    }
    const pred = row.pred!
    mistakes.push({
      path: row.path,
      trueName: names[row.label!],
      predName: names[pred],
      confidence: row.probs![pred],
      trueProb: row.probs![row.label!],
      thumbnail,
    })
  }
  await writeFileAtomic(join(runDir, 'report.html'), renderHtmlReport({context, metrics, calibration: bins, mistakes}))
}

/** Landmarks are normalised to the model's input (the face crop); scale them to the original image's pixels. */
export function landmarksToPixels(normalized: Float32Array, width: number, height: number): Float64Array {
  const out = new Float64Array(normalized.length)
  for (let i = 0; i < normalized.length; i += 2) {
    out[i] = normalized[i] * width
    out[i + 1] = normalized[i + 1] * height
  }
  return out
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
