/**
 * `poster check` and `eval --baseline`: load two runs (metrics.json, plus predictions.csv when it is there),
 * pair their images, and let src/metrics/compare decide. Also turns the verdicts into the report writers' rows
 * (Markdown for GITHUB_STEP_SUMMARY, JUnit XML).
 */
import {existsSync, statSync} from 'node:fs'
import {readRegularText} from '../files.js'
import {basename, dirname, join} from 'node:path'

import {
  argmax,
  compareMetrics,
  pairPredictions,
  type ComparableMetrics,
  type ComparisonResult,
  type ComparisonThresholds,
  type PairedCorrectness,
  type PredictionRow as PairRow,
} from '../metrics/index.js'
import {readPredictions, recordToPredictionRow, type CheckResult as ReportCheck, type PredictionRow} from '../report/index.js'

export type CheckThresholds = ComparisonThresholds

/** The parts of metrics.json a comparison needs (written by `poster eval`). */
export interface RunMetrics {
  accuracy: number
  mean_class_accuracy: number
  macro_f1: number
  per_class: ComparableMetrics['per_class']
  n_images?: number
  labels: string[]
  split: string
  dataset?: {root?: string; format?: string; benchmark?: string; split?: string}
}

export interface LoadedRun {
  metrics: RunMetrics
  /** Per-image rows, when the run folder has predictions.csv. */
  rows?: PredictionRow[]
  source: string
}

export interface CheckOutcome {
  result: ComparisonResult
  /** The same checks, shaped for the Markdown and JUnit writers (fractions, pass/fail). */
  rows: ReportCheck[]
  baseline: string
  paired: boolean
}

/** A dataset's identity for comparison: the benchmark when known, else format and folder name. */
export function datasetIdentity(m: RunMetrics): string {
  const d = m.dataset
  if (!d) return 'unknown'
  if (d.benchmark) return d.benchmark
  return `${d.format ?? 'dataset'}:${d.root ? basename(d.root) : 'unknown'}`
}

/** Read a run: a run folder (metrics.json + predictions.csv) or a metrics.json file (+ predictions.csv beside it). */
export async function loadRun(path: string): Promise<LoadedRun> {
  if (!existsSync(path)) throw new Error(`no such run folder or metrics file: ${path}`)
  const metricsPath = statSync(path).isDirectory() ? join(path, 'metrics.json') : path
  if (!existsSync(metricsPath)) throw new Error(`${path} has no metrics.json: expected a run folder written by poster eval`)
  let metrics: RunMetrics
  try {
    metrics = JSON.parse(await readRegularText(metricsPath, {maxBytes: 256 * 2 ** 20})) as RunMetrics
  } catch (error) {
    throw new Error(`cannot read ${metricsPath}: ${error instanceof Error ? error.message : String(error)}`)
  }
  for (const key of ['accuracy', 'mean_class_accuracy', 'macro_f1', 'per_class', 'labels'] as const) {
    if (metrics[key] === undefined) throw new Error(`${metricsPath} is not a poster metrics file: it has no "${key}"`)
  }
  const predictionsPath = join(dirname(metricsPath), 'predictions.csv')
  let rows: PredictionRow[] | undefined
  if (existsSync(predictionsPath)) {
    const file = await readPredictions(predictionsPath)
    rows = file.rows.map((r) => recordToPredictionRow(r, file.columns))
  }
  return {metrics, rows, source: metricsPath}
}

function comparable(m: RunMetrics): ComparableMetrics {
  return {
    accuracy: m.accuracy,
    mean_class_accuracy: m.mean_class_accuracy,
    macro_f1: m.macro_f1,
    per_class: m.per_class,
    n_images: m.n_images,
    labels: m.labels,
    dataset: datasetIdentity(m),
    split: m.split ?? m.dataset?.split ?? 'unknown',
  }
}

function pairRows(rows: PredictionRow[]): PairRow[] {
  const out: PairRow[] = []
  for (const r of rows) {
    if (r.status !== 'ok' || r.label === undefined) continue
    const pred = r.pred ?? (r.probs ? argmax(r.probs) : undefined)
    if (pred === undefined) continue
    out.push({path: r.path, label: r.label, predicted: pred})
  }
  return out
}

/** Compare two loaded runs. */
export function compareRuns(baseline: LoadedRun, current: LoadedRun, thresholds: Partial<CheckThresholds> = {}): CheckOutcome {
  let pairing: PairedCorrectness | undefined
  if (baseline.rows && current.rows) pairing = pairPredictions(pairRows(baseline.rows), pairRows(current.rows))
  const result = compareMetrics(comparable(baseline.metrics), comparable(current.metrics), {thresholds, pairing})
  return {result, rows: reportRows(result), baseline: baseline.source, paired: pairing !== undefined}
}

export async function runCheck(input: {
  current: LoadedRun | {metrics: RunMetrics; rows?: PredictionRow[]}
  baseline: string
  thresholds?: Partial<CheckThresholds>
}): Promise<CheckOutcome> {
  const baseline = await loadRun(input.baseline)
  const current: LoadedRun = 'source' in input.current ? input.current : {...input.current, source: 'this run'}
  return compareRuns(baseline, current, input.thresholds)
}

/** compare.ts speaks percent and pass/fail/noise; the writers take fractions and pass/fail/skip. */
export function reportRows(result: ComparisonResult): ReportCheck[] {
  return result.checks.map((c) => ({
    name: c.name,
    baseline: c.kind === 'floor' ? c.threshold / 100 : c.baseline / 100,
    now: c.current / 100,
    delta: c.kind === 'floor' ? (c.current - c.threshold) / 100 : c.delta / 100,
    verdict: c.verdict === 'fail' ? 'fail' : c.verdict === 'absent' ? 'skip' : 'pass',
    message: c.verdict === 'noise' ? `within noise: ${c.detail}` : c.detail,
    unit: 'percent',
  }))
}
