/**
 * The decision logic of `poster check`: compare a run's metrics with a baseline's and say whether it regressed.
 *
 * Rules:
 *  - accuracy, mean class accuracy and macro-F1 may each drop by at most `maxDrop` pp (default 0.5); every
 *    class's recall by at most `maxClassDrop` pp (default 2.0), so a collapsing class is caught even when the
 *    overall accuracy holds; `minAccuracy` (percent) is an absolute floor on current accuracy.
 *  - With per-image pairing (matched by path) that carries each side's predictions, both runs are compared on the
 *    images both scored, and only on them: every figure is recomputed on those images for both sides (so a
 *    --limit run is held against the same images of a full baseline), and the result says how many. No image in
 *    common is an error. Without per-image rows, runs that scored different numbers of images are an error.
 *  - A class with no scored image on one side is reported ('absent'), not failed; one with none on either side
 *    is named in the warnings.
 *  - With per-image pairing, a drop beyond its threshold fails only if it is
 *    also significant: exact McNemar p < `significance` (default 0.05) with more right→wrong than wrong→right
 *    images. The three aggregate checks test all paired images; a class's recall check tests that class's
 *    images. A drop beyond the threshold that is not significant is 'noise' and does not fail the run.
 *    Without pairing (or when a check has no paired images), the threshold alone decides.
 *  - Drops are compared with a 1e-9 pp tolerance, so a drop of exactly the threshold passes despite float
 *    rounding. The floor check has no significance test.
 *  - Different datasets, splits or label sets are an error (ComparisonError), never a verdict.
 */

import {labelKey} from '../datasets/labels.js'
import {confusionMatrix, perClassMetrics} from './classification.js'
import {mcnemarExact, mcnemarPaired} from './mcnemar.js'
import type {
  CheckResult,
  ComparableMetrics,
  ComparisonResult,
  ComparisonThresholds,
  PairingSummary,
} from './types.js'

export const DEFAULT_THRESHOLDS: ComparisonThresholds = {maxDrop: 0.5, maxClassDrop: 2.0, significance: 0.05}

/** Tolerance, in percentage points, on every threshold comparison. */
const EPS_PP = 1e-9

/** Baseline and current runs that cannot be compared (different dataset, split, labels, duplicated paths). */
export class ComparisonError extends Error {
  /** One entry per difference found, e.g. 'dataset: "rafdb" vs "affectnet7"'. */
  readonly differences: string[]
  constructor(message: string, differences: string[] = []) {
    super(message)
    this.name = 'ComparisonError'
    this.differences = differences
  }
}

/** One image's outcome, as read from a predictions file. Give `correct`, or `predicted` (compared with label). */
export interface PredictionRow {
  path: string
  /** True class index in the dataset's class space. */
  label: number
  correct?: boolean | number
  /** Predicted class index in the dataset's class space. */
  predicted?: number
}

/** Baseline and current correctness on the same images, index-aligned. */
export interface PairedCorrectness {
  /** Normalised paths, in the baseline's row order. */
  paths: string[]
  labels: Int32Array
  baseline: Uint8Array
  current: Uint8Array
  /** Baseline rows with no current row of the same path. */
  unpairedBaseline: number
  /** Current rows with no baseline row of the same path. */
  unpairedCurrent: number
  /** Paths present in both with different true labels; left out of the pairs. */
  labelMismatches: number
  /** Each side's predicted class per pair, when every row gave one: the figures are then recomputed on the pairs. */
  baselinePredicted?: Int32Array
  currentPredicted?: Int32Array
  /** Rows each side had (scored images). */
  baselineRows?: number
  currentRows?: number
}

/** Path key for pairing: backslashes as '/', no leading './'. Case is kept. */
export function normalizePath(p: string): string {
  let s = p.trim().replace(/\\/g, '/')
  while (s.startsWith('./')) s = s.slice(2)
  return s
}

function rowCorrect(row: PredictionRow, side: string): number {
  if (row.correct !== undefined) return row.correct ? 1 : 0
  if (row.predicted !== undefined) return row.predicted === row.label ? 1 : 0
  throw new ComparisonError(`${side} row for "${row.path}" has neither correct nor predicted`)
}

/**
 * Pair two runs' per-image rows by (normalised) path. Rows whose path appears on one side only are counted
 * as unpaired; rows whose true label differs between the two are counted and left out. A path listed twice
 * on one side is an error.
 */
export function pairPredictions(baselineRows: readonly PredictionRow[], currentRows: readonly PredictionRow[]): PairedCorrectness {
  const index = (rows: readonly PredictionRow[], side: string) => {
    const m = new Map<string, PredictionRow>()
    for (const r of rows) {
      const k = normalizePath(r.path)
      if (m.has(k)) throw new ComparisonError(`the ${side} predictions list "${r.path}" more than once`, [`${side}: duplicate path ${k}`])
      m.set(k, r)
    }
    return m
  }
  const base = index(baselineRows, 'baseline')
  const cur = index(currentRows, 'current')
  const paths: string[] = []
  const labels: number[] = []
  const b: number[] = []
  const c: number[] = []
  const bp: number[] = []
  const cp: number[] = []
  const withPredictions = [...base.values(), ...cur.values()].every((r) => r.predicted !== undefined)
  let labelMismatches = 0
  let matched = 0
  for (const [k, br] of base) {
    const cr = cur.get(k)
    if (!cr) continue
    matched++
    if (br.label !== cr.label) {
      labelMismatches++
      continue
    }
    paths.push(k)
    labels.push(br.label)
    b.push(rowCorrect(br, 'baseline'))
    c.push(rowCorrect(cr, 'current'))
    if (withPredictions) {
      bp.push(br.predicted!)
      cp.push(cr.predicted!)
    }
  }
  return {
    ...(withPredictions ? {baselinePredicted: Int32Array.from(bp), currentPredicted: Int32Array.from(cp)} : {}),
    baselineRows: base.size,
    currentRows: cur.size,
    paths,
    labels: Int32Array.from(labels),
    baseline: Uint8Array.from(b),
    current: Uint8Array.from(c),
    unpairedBaseline: base.size - matched,
    unpairedCurrent: cur.size - matched,
    labelMismatches,
  }
}

/** Throw a ComparisonError naming every difference in dataset, split or label set. */
export function assertComparable(baseline: ComparableMetrics, current: ComparableMetrics): void {
  const diffs: string[] = []
  if (baseline.dataset !== current.dataset) diffs.push(`dataset: "${baseline.dataset}" vs "${current.dataset}"`)
  if (baseline.split !== current.split) diffs.push(`split: "${baseline.split}" vs "${current.split}"`)
  const bk = baseline.labels.map(labelKey)
  const ck = current.labels.map(labelKey)
  if (bk.length !== ck.length || bk.some((k, i) => k !== ck[i])) {
    const sameSet = bk.length === ck.length && [...bk].sort().join('\n') === [...ck].sort().join('\n')
    diffs.push(
      `labels${sameSet ? ' (same classes, different order)' : ''}: [${baseline.labels.join(', ')}] vs [${current.labels.join(', ')}]`,
    )
  }
  for (const [side, m] of [['baseline', baseline], ['current', current]] as const) {
    if (m.per_class.length !== m.labels.length) {
      diffs.push(`${side}: ${m.per_class.length} per-class entries for ${m.labels.length} labels`)
    }
  }
  if (diffs.length > 0) {
    throw new ComparisonError(`baseline and current runs are not comparable: ${diffs.join('; ')}`, diffs)
  }
}

const pct = (x: number) => x * 100
const fmt = (x: number) => x.toFixed(2)
const fmtP = (p: number) => (p === 0 ? '0' : p < 1e-4 ? p.toExponential(2) : p.toPrecision(3))

function resolveThresholds(t: Partial<ComparisonThresholds>): ComparisonThresholds {
  const out: ComparisonThresholds = {
    maxDrop: t.maxDrop ?? DEFAULT_THRESHOLDS.maxDrop,
    maxClassDrop: t.maxClassDrop ?? DEFAULT_THRESHOLDS.maxClassDrop,
    significance: t.significance ?? DEFAULT_THRESHOLDS.significance,
  }
  if (t.minAccuracy !== undefined) out.minAccuracy = t.minAccuracy
  for (const k of ['maxDrop', 'maxClassDrop'] as const) {
    if (!(out[k] >= 0 && Number.isFinite(out[k]))) throw new RangeError(`${k} must be a non-negative number, got ${out[k]}`)
  }
  if (!(out.significance > 0 && out.significance <= 1)) throw new RangeError(`significance must be in (0, 1], got ${out.significance}`)
  if (out.minAccuracy !== undefined && !(out.minAccuracy >= 0 && out.minAccuracy <= 100)) {
    throw new RangeError(`minAccuracy is a percentage in [0, 100], got ${out.minAccuracy}`)
  }
  return out
}

type Test = NonNullable<CheckResult['test']>

/** A 'drop' check: values are fractions in [0, 1]; the test, if any, covers the images the metric concerns. */
function dropCheck(
  name: string,
  baselineFrac: number,
  currentFrac: number,
  threshold: number,
  significance: number,
  test: Test | undefined,
  what: string,
): CheckResult {
  const baseline = pct(baselineFrac)
  const current = pct(currentFrac)
  const delta = current - baseline
  const drop = -delta
  const base = {name, kind: 'drop' as const, baseline, current, delta, threshold, ...(test ? {test} : {})}
  const change = delta >= 0 ? `${what} rose ${fmt(delta)} pp` : `${what} fell ${fmt(drop)} pp`
  if (drop <= threshold + EPS_PP) {
    return {...base, verdict: 'pass', detail: `${change} (${fmt(baseline)}% → ${fmt(current)}%), within the ${fmt(threshold)} pp allowed`}
  }
  const over = `${change} (${fmt(baseline)}% → ${fmt(current)}%), more than the ${fmt(threshold)} pp allowed`
  if (!test) return {...base, verdict: 'fail', detail: `${over}; no per-image pairing, so the threshold alone decides`}
  const counts = `${test.b} right→wrong vs ${test.c} wrong→right of ${test.pairs} paired images, McNemar p = ${fmtP(test.pValue)}`
  if (test.b > test.c && test.pValue < significance) {
    return {...base, verdict: 'fail', detail: `${over}, and significant: ${counts} < ${significance}`}
  }
  return {...base, verdict: 'noise', detail: `${over}, but not significant: ${counts}${test.b > test.c ? ` ≥ ${significance}` : ''}`}
}

export interface CompareOptions {
  thresholds?: Partial<ComparisonThresholds>
  /** Per-image correctness of both runs on the same images (see pairPredictions). */
  pairing?: PairedCorrectness
}

/**
 * Compare a current run with a baseline. Throws ComparisonError when dataset, split or label set differ.
 * Returns every check (see CheckResult) and the overall verdict: 'fail' iff any check's verdict is 'fail'.
 */
export function compareMetrics(
  baseline: ComparableMetrics,
  current: ComparableMetrics,
  options: CompareOptions = {},
): ComparisonResult {
  assertComparable(baseline, current)
  const thresholds = resolveThresholds(options.thresholds ?? {})
  const warnings: string[] = []
  const C = baseline.labels.length

  let pairing = options.pairing
  if (pairing && pairing.baseline.length === 0) {
    if (pairing.baselinePredicted) {
      throw new ComparisonError(
        `the runs have no scored image in common (baseline ${pairing.baselineRows ?? 0}, current ${pairing.currentRows ?? 0} ` +
          'images, paired by path): they were not run on the same images',
        ['no image in common'],
      )
    }
    warnings.push('no image of the baseline run could be paired with the current run: thresholds alone decide')
    pairing = undefined
  }
  let compared: ComparisonResult['compared']
  if (pairing?.baselinePredicted && pairing.currentPredicted) {
    // Compare like with like: both sides' figures on the images both scored.
    baseline = {...baseline, ...figuresOnPairs(pairing.labels, pairing.baselinePredicted, baseline.labels), n_images: pairing.labels.length}
    current = {...current, ...figuresOnPairs(pairing.labels, pairing.currentPredicted, current.labels), n_images: pairing.labels.length}
    compared = {basis: 'paired', images: pairing.labels.length, baselineImages: pairing.baselineRows, currentImages: pairing.currentRows}
  } else {
    if (baseline.n_images !== undefined && current.n_images !== undefined && baseline.n_images !== current.n_images) {
      throw new ComparisonError(
        `the runs scored different numbers of images (baseline ${baseline.n_images}, current ${current.n_images}) and ` +
          'without predictions.csv on both sides they cannot be compared on the same images; keep predictions.csv with both runs',
        [`images: ${baseline.n_images} vs ${current.n_images}`],
      )
    }
    compared = {basis: 'metrics', images: current.n_images ?? baseline.n_images ?? 0}
  }
  let summary: PairingSummary | null = null
  let overallTest: Test | undefined
  const classTests: Array<Test | undefined> = new Array(C).fill(undefined)
  if (pairing) {
    const {baseline: pb, current: pc, labels} = pairing
    if (pb.length !== pc.length || pb.length !== labels.length) {
      throw new RangeError('paired correctness arrays differ in length')
    }
    const all = mcnemarPaired(pb, pc)
    let bothRight = 0
    for (let i = 0; i < pb.length; i++) if (pb[i] && pc[i]) bothRight++
    summary = {
      pairs: pb.length,
      unpairedBaseline: pairing.unpairedBaseline,
      unpairedCurrent: pairing.unpairedCurrent,
      labelMismatches: pairing.labelMismatches,
      bothRight,
      bothWrong: pb.length - bothRight - all.b - all.c,
      rightToWrong: all.b,
      wrongToRight: all.c,
      pValue: all.pValue,
    }
    overallTest = {pairs: pb.length, b: all.b, c: all.c, pValue: all.pValue}
    const b = new Array<number>(C).fill(0)
    const c = new Array<number>(C).fill(0)
    const n = new Array<number>(C).fill(0)
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i]
      if (!(Number.isInteger(y) && y >= 0 && y < C)) throw new RangeError(`paired label ${i} is ${y}, not a class index in 0..${C - 1}`)
      n[y]++
      if (pb[i] && !pc[i]) b[y]++
      else if (!pb[i] && pc[i]) c[y]++
    }
    for (let k = 0; k < C; k++) {
      if (n[k] > 0) classTests[k] = {pairs: n[k], ...pick(mcnemarExact(b[k], c[k]))}
    }
    if (pairing.unpairedBaseline > 0 || pairing.unpairedCurrent > 0) {
      warnings.push(
        `${pairing.unpairedBaseline} baseline and ${pairing.unpairedCurrent} current images could not be paired by path; ` +
          (pairing.baselinePredicted ? `compared on the ${pb.length} images both runs scored` : `the significance tests use the ${pb.length} paired images`),
      )
    }
    if (pairing.labelMismatches > 0) {
      warnings.push(`${pairing.labelMismatches} images have a different true label in the two runs and were left out of the pairs`)
    }
  }

  const {maxDrop, maxClassDrop, significance} = thresholds
  const checks: CheckResult[] = [
    dropCheck('accuracy', baseline.accuracy, current.accuracy, maxDrop, significance, overallTest, 'accuracy'),
    dropCheck('mean_class_accuracy', baseline.mean_class_accuracy, current.mean_class_accuracy, maxDrop, significance, overallTest, 'mean class accuracy'),
    dropCheck('macro_f1', baseline.macro_f1, current.macro_f1, maxDrop, significance, overallTest, 'macro-F1'),
  ]
  for (let k = 0; k < C; k++) {
    const bm = baseline.per_class[k]
    const cm = current.per_class[k]
    const name = baseline.labels[k]
    if (bm.support === 0 && cm.support === 0) {
      warnings.push(`class ${name} has no scored images in either run: not compared`)
      continue
    }
    if (bm.support === 0 || cm.support === 0) {
      // Nothing to compare a recall with: say so, never read it as a 100 pp fall (or rise).
      const side = bm.support === 0 ? 'baseline' : 'current'
      checks.push({
        name: `recall:${name}`,
        kind: 'drop',
        baseline: pct(bm.recall),
        current: pct(cm.recall),
        delta: 0,
        threshold: maxClassDrop,
        verdict: 'absent',
        detail: `no scored ${name} images in the ${side} run (baseline ${bm.support}, current ${cm.support}): not compared`,
      })
      warnings.push(`class ${name} has no scored images in the ${side} run (baseline ${bm.support}, current ${cm.support}): not compared`)
      continue
    }
    if (bm.support !== cm.support) {
      warnings.push(`class ${name} has ${bm.support} images in the baseline and ${cm.support} in the current run`)
    }
    checks.push(dropCheck(`recall:${name}`, bm.recall, cm.recall, maxClassDrop, significance, classTests[k], `${name} recall`))
  }
  if (thresholds.minAccuracy !== undefined) {
    const floor = thresholds.minAccuracy
    const cur = pct(current.accuracy)
    const ok = cur + EPS_PP >= floor
    checks.push({
      name: 'min_accuracy',
      kind: 'floor',
      baseline: pct(baseline.accuracy),
      current: cur,
      delta: cur - pct(baseline.accuracy),
      threshold: floor,
      verdict: ok ? 'pass' : 'fail',
      detail: ok ? `accuracy ${fmt(cur)}% is at or above the ${fmt(floor)}% floor` : `accuracy ${fmt(cur)}% is below the ${fmt(floor)}% floor`,
    })
  }
  return {
    verdict: checks.some((c) => c.verdict === 'fail') ? 'fail' : 'pass',
    checks,
    pairing: summary,
    thresholds,
    compared,
    warnings,
  }
}

/** Accuracy, mean class accuracy, macro-F1 and per-class figures from true and predicted classes (classification.ts's conventions). */
export function figuresOnPairs(labels: ArrayLike<number>, predicted: ArrayLike<number>, classNames: string[]): Pick<ComparableMetrics, 'accuracy' | 'mean_class_accuracy' | 'macro_f1' | 'per_class'> {
  const {counts} = confusionMatrix(labels, predicted, classNames.length)
  const perClass = perClassMetrics(counts, classNames)
  const present = perClass.filter((m) => m.support > 0)
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
  let hits = 0
  for (let i = 0; i < labels.length; i++) if (labels[i] === predicted[i]) hits++
  return {
    accuracy: labels.length === 0 ? 0 : hits / labels.length,
    mean_class_accuracy: mean(present.map((m) => m.recall)),
    macro_f1: mean(present.map((m) => m.f1)),
    per_class: perClass,
  }
}

function pick(r: {b: number; c: number; pValue: number}): {b: number; c: number; pValue: number} {
  return {b: r.b, c: r.c, pValue: r.pValue}
}
