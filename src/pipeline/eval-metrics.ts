/**
 * From eval's rows to metrics.json: the scored rows become the classification metrics, calibration, the
 * label-order check and the warnings a reader must see next to the numbers. Pure: no files, no model.
 */
import {
  argmax,
  bestLabelPermutation,
  calibrationBins,
  computeClassificationMetrics,
  type CalibrationBin,
  type ClassificationMetrics,
  type ComparisonResult,
} from '../metrics/index.js'
import {paperAccuracy} from '../models/registry.js'
import type {Dataset} from '../datasets/types.js'
import type {PredictionRow} from '../report/predictions-csv.js'
import {TOOL_VERSION} from '../version.js'
import type {OpenedModel} from './model.js'

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
  model: {
    spec: string
    path: string
    sha256: string
    source: string
    labels: string[]
    labels_source: string
    providers: string[]
    /** The model's weights_dtype metadata (float32, float16, int8) when it has one: which run was the int8 one. */
    weights_dtype?: string
    /** fp16 when the run computed in float16 (--dtype fp16 on a GPU). */
    dtype?: 'fp16'
  }
  dataset: {
    root: string
    format: string
    variant?: string
    split: string
    benchmark?: string
    excluded: Array<{reason: string; count: number}>
    notes: string[]
    /** Images the dataset's list names more than once with the same label, each scored once. */
    duplicates?: {file: string; repeated_listings: number; images: number; first: Array<{path: string; lines: number[]}>}
  }
  split: string
  /** Which crops the model saw (--faces) and how many images had none. */
  faces: {mode: string; no_face: number}
  /** preprocess_wait_s: time the model waited for decoding (preprocessing not overlapped with inference). */
  timings: {total_s: number; preprocess_wait_s: number; inference_s: number; images_per_s: number}
  tool: {name: 'poster'; version: string}
  created_at: string
  warnings: string[]
  /** The comparison with --baseline, when one was given. */
  check?: ComparisonResult
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

export interface MetricsInputs {
  dataset: Dataset
  model: OpenedModel
  /** The model's class names as used (its own, or the dataset's when it has none). */
  modelLabels: string[]
  datasetToModel: number[]
  /** Every image's row, in dataset order. */
  rows: readonly PredictionRow[]
  facesMode: string
  comparePaper: boolean
  /** Warnings gathered before scoring (untrained model, assumed class order, resume notes). */
  warnings: string[]
  timings: {totalS: number; preprocessMs: number; inferenceMs: number; scoredThisRun: number}
}

export interface ScoredRun {
  metrics: MetricsFile
  classification: ClassificationMetrics
  bins: CalibrationBin[]
  scored: PredictionRow[]
}

/** Score the rows: everything metrics.json says. Throws when no image could be scored. */
export function buildMetricsFile(inp: MetricsInputs, where: string): ScoredRun {
  const {dataset, model} = inp
  const dsLabels = dataset.labels
  const C = dsLabels.length
  const warnings = [...inp.warnings]
  const scored = inp.rows.filter((r) => r.status === 'ok' && r.probs && r.label !== undefined)
  const nFailed = inp.rows.length - scored.length
  const noFace = inp.rows.filter((r) => r.status === 'no_face').length
  if (scored.length === 0) throw new Error(`none of the ${inp.rows.length} images could be scored; see ${where}`)
  const labelsArr = scored.map((r) => r.label!)
  const probsFlat = new Float64Array(scored.length * C)
  scored.forEach((r, i) => probsFlat.set(Array.from(r.probs!), i * C))
  const classification = computeClassificationMetrics({labels: labelsArr, probs: probsFlat, classNames: dsLabels})
  const confidences = new Float64Array(scored.length)
  const correct = new Uint8Array(scored.length)
  for (let i = 0; i < scored.length; i++) {
    const best = argmax(probsFlat, i * C, (i + 1) * C)
    confidences[i] = probsFlat[i * C + best]
    correct[i] = best === labelsArr[i] ? 1 : 0
  }
  const bins = calibrationBins(confidences, correct, 15)
  const labelOrder = labelOrderFinding(classification.confusion.counts, dsLabels, inp.modelLabels, inp.datasetToModel, scored.length)
  if (labelOrder.suspicious) warnings.push(describeLabelOrder(labelOrder, dsLabels))
  if (nFailed > 0) {
    const why = noFace > 0 ? ` (${noFace} without a face)` : ''
    warnings.push(`${nFailed} of ${inp.rows.length} images could not be scored${why} and are left out of the metrics (status=error in predictions.csv)`)
  }

  const benchmark = dataset.benchmark
  const paper = benchmark && inp.comparePaper ? paperAccuracy(benchmark) : undefined
  const t = inp.timings
  const metrics: MetricsFile = {
    ...classification,
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
      labels: inp.modelLabels,
      labels_source: model.labels ? model.labelsSource : 'dataset',
      providers: model.session.providers,
      ...(model.dtype === 'fp16' ? {dtype: 'fp16' as const} : {}),
      ...(model.metadata.weights_dtype ? {weights_dtype: model.metadata.weights_dtype} : {}),
    },
    dataset: {
      root: dataset.root,
      format: dataset.format,
      variant: dataset.variant,
      split: dataset.split,
      benchmark,
      excluded: dataset.excluded,
      notes: dataset.notes,
      ...(dataset.duplicates && dataset.duplicates.repeatedListings > 0
        ? {
            duplicates: {
              file: dataset.duplicates.file,
              repeated_listings: dataset.duplicates.repeatedListings,
              images: dataset.duplicates.repeats.length,
              first: dataset.duplicates.repeats.slice(0, 20).map((g) => ({path: g.relPath, lines: g.lines})),
            },
          }
        : {}),
    },
    split: dataset.split,
    faces: {mode: inp.facesMode, no_face: noFace},
    timings: {
      total_s: round(t.totalS, 3),
      preprocess_wait_s: round(t.preprocessMs / 1000, 3),
      inference_s: round(t.inferenceMs / 1000, 3),
      images_per_s: round(t.scoredThisRun / Math.max(t.totalS, 1e-9), 2),
    },
    tool: {name: 'poster', version: TOOL_VERSION},
    created_at: new Date().toISOString(),
    warnings,
  }
  return {metrics, classification, bins, scored}
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
