/**
 * The figures of metrics.json from true labels and predicted probabilities. Pure functions: no I/O.
 *
 * Conventions (all documented again at the functions):
 *  - prediction = argmax of the probability row, ties to the lowest class index;
 *  - precision of a class nothing was predicted as = 0; recall of a class with no images = 0; F1 = 0 when
 *    precision + recall = 0;
 *  - mean class accuracy and macro-F1 average over the classes with support > 0 only (see macro_f1 below);
 *  - NLL = mean of −ln max(p_true, 1e-12);
 *  - ECE over 15 equal-width bins (lower, upper] of the max probability (see calibration.ts);
 *  - accuracy CI: 95% percentile bootstrap, 1000 resamples, seed 0 (see bootstrap.ts).
 */

import {bootstrapAccuracyCI} from './bootstrap.js'
import {calibrationBins, expectedCalibrationError} from './calibration.js'
import type {ClassificationMetrics, ConfusionMatrix, PerClassMetrics} from './types.js'

/** Row-major N×C probabilities (or logits, for softmax): a flat typed/plain array, or one array per row. */
export type Matrix = Float32Array | Float64Array | number[] | number[][]

/** Lower clamp on p_true in the NLL, so a confident miss costs at most −ln 1e-12 ≈ 27.6 nats. */
export const NLL_EPS = 1e-12

/**
 * Index of the largest of `values[start .. end)`, relative to `start`. Ties go to the lowest index; NaN never
 * wins over a number (an all-NaN range gives 0).
 */
export function argmax(values: ArrayLike<number>, start = 0, end = values.length): number {
  if (end <= start) throw new RangeError('argmax of an empty range')
  let best = start
  for (let i = start + 1; i < end; i++) {
    const v = values[i]
    if (v > values[best] || (Number.isNaN(values[best]) && !Number.isNaN(v))) best = i
  }
  return best - start
}

/** Flatten an N×C matrix to a row-major array, checking that its size fits C columns. Returns [flat, N]. */
export function toRowMajor(m: Matrix, numClasses: number): [ArrayLike<number>, number] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`class count must be a positive integer, got ${numClasses}`)
  if (m.length > 0 && Array.isArray(m[0])) {
    const rows = m as number[][]
    const flat = new Float64Array(rows.length * numClasses)
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== numClasses) {
        throw new RangeError(`row ${i} has ${Array.isArray(row) ? row.length : 'no'} values, expected ${numClasses}`)
      }
      flat.set(row, i * numClasses)
    })
    return [flat, rows.length]
  }
  const flat = m as ArrayLike<number>
  if (flat.length % numClasses !== 0) {
    throw new RangeError(`${flat.length} values do not make rows of ${numClasses} classes`)
  }
  return [flat, flat.length / numClasses]
}

/**
 * Row-wise softmax of row-major N×C logits, in float64: exp(x − max) / Σ exp(x − max), so large logits never
 * overflow. A row holding +Infinity puts its mass uniformly on the +Infinity entries; a row of all −Infinity or
 * any NaN is an error.
 */
export function softmax(logits: Matrix, numClasses: number): Float64Array {
  const [x, n] = toRowMajor(logits, numClasses)
  const C = numClasses
  const out = new Float64Array(n * C)
  for (let r = 0; r < n; r++) {
    const o = r * C
    let max = -Infinity
    for (let j = 0; j < C; j++) {
      const v = x[o + j]
      if (Number.isNaN(v)) throw new RangeError(`logit [${r}, ${j}] is NaN`)
      if (v > max) max = v
    }
    if (max === -Infinity) throw new RangeError(`row ${r} of the logits is all -Infinity`)
    let sum = 0
    if (max === Infinity) {
      for (let j = 0; j < C; j++) sum += out[o + j] = x[o + j] === Infinity ? 1 : 0
    } else {
      for (let j = 0; j < C; j++) sum += out[o + j] = Math.exp(x[o + j] - max)
    }
    for (let j = 0; j < C; j++) out[o + j] /= sum
  }
  return out
}

/** Predicted class of each row (argmax, ties to the lowest index). */
export function predictClasses(probs: Matrix, numClasses: number): Int32Array {
  const [p, n] = toRowMajor(probs, numClasses)
  const pred = new Int32Array(n)
  for (let r = 0; r < n; r++) pred[r] = argmax(p, r * numClasses, (r + 1) * numClasses)
  return pred
}

/** counts[true][pred] and each row divided by its sum (0 for an empty row). */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): ConfusionMatrix {
  if (labels.length !== predictions.length) {
    throw new RangeError(`labels (${labels.length}) and predictions (${predictions.length}) differ in length`)
  }
  const counts = Array.from({length: numClasses}, () => new Array<number>(numClasses).fill(0))
  for (let i = 0; i < labels.length; i++) {
    checkClass(labels[i], numClasses, `label ${i}`)
    checkClass(predictions[i], numClasses, `prediction ${i}`)
    counts[labels[i]][predictions[i]]++
  }
  const normalized = counts.map((row) => {
    const s = row.reduce((a, b) => a + b, 0)
    return row.map((v) => (s > 0 ? v / s : 0))
  })
  return {counts, normalized}
}

/**
 * Precision, recall, F1 and support per class from confusion counts[true][pred].
 * precision = TP / (predicted as the class), 0 when nothing was predicted as it;
 * recall = TP / support, 0 when the class has no images; F1 = 2PR / (P + R), 0 when P + R = 0.
 */
export function perClassMetrics(counts: number[][], classNames: string[]): PerClassMetrics[] {
  const C = classNames.length
  return classNames.map((name, k) => {
    const tp = counts[k][k]
    let support = 0
    let predicted = 0
    for (let j = 0; j < C; j++) {
      support += counts[k][j]
      predicted += counts[j][k]
    }
    const precision = predicted > 0 ? tp / predicted : 0
    const recall = support > 0 ? tp / support : 0
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
    return {name, precision, recall, f1, support}
  })
}

export interface ClassificationInput {
  /** True class per image, as an index into classNames (the dataset's class space). */
  labels: ArrayLike<number>
  /** Row-major N×C probabilities, columns in the same class space as labels. */
  probs: Matrix
  classNames: string[]
}

export interface ClassificationOptions {
  /** ECE bins (default 15). */
  eceBins?: number
  /** Bootstrap resamples for accuracy_ci95 (default 1000). */
  bootstrapResamples?: number
  /** Bootstrap seed (default 0). */
  bootstrapSeed?: number
}

/**
 * Everything metrics.json reports about a labelled evaluation.
 *
 * - accuracy: fraction of images whose argmax (ties → lowest index) equals the label.
 * - mean_class_accuracy: mean of per-class recall over the classes with support > 0.
 * - per_class: see perClassMetrics (precision 0 for a class never predicted).
 * - macro_f1: mean of per-class F1 over the classes with support > 0. Chosen to match mean_class_accuracy and
 *   to be unaffected by classes absent from the evaluated subset; it equals sklearn's
 *   `f1_score(y, p, average='macro', labels=<classes present in y>)`. sklearn's default (labels = present in
 *   y ∪ ŷ) would also average in an F1 of 0 for each class that is predicted but has no images; on the full
 *   RAF-DB / AffectNet test sets every class has images and the two agree.
 * - nll: mean of −ln max(p[label], 1e-12) (natural log), p as given (not renormalised).
 * - ece: 15 equal-width bins (lower, upper] on the max probability, Σ (n_b/N)·|acc_b − conf_b|.
 * - accuracy_ci95: percentile bootstrap, 1000 resamples, seed 0.
 */
export function computeClassificationMetrics(
  input: ClassificationInput,
  options: ClassificationOptions = {},
): ClassificationMetrics {
  const {labels, classNames} = input
  const C = classNames.length
  if (C < 1) throw new RangeError('no class names')
  const [p, n] = toRowMajor(input.probs, C)
  if (n !== labels.length) throw new RangeError(`${labels.length} labels but ${n} probability rows`)
  if (n === 0) throw new RangeError('no images to compute metrics on')

  const predictions = new Int32Array(n)
  const correct = new Uint8Array(n)
  const confidences = new Float64Array(n)
  let hits = 0
  let nll = 0
  for (let i = 0; i < n; i++) {
    const y = labels[i]
    checkClass(y, C, `label ${i}`)
    const o = i * C
    for (let j = 0; j < C; j++) {
      if (!Number.isFinite(p[o + j])) throw new RangeError(`probability [${i}, ${j}] is not finite (${p[o + j]})`)
    }
    const k = argmax(p, o, o + C)
    predictions[i] = k
    confidences[i] = p[o + k]
    correct[i] = k === y ? 1 : 0
    hits += correct[i]
    nll -= Math.log(Math.max(p[o + y], NLL_EPS))
  }

  const confusion = confusionMatrix(labels, predictions, C)
  const perClass = perClassMetrics(confusion.counts, classNames)
  const present = perClass.filter((m) => m.support > 0)
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

  return {
    accuracy: hits / n,
    mean_class_accuracy: mean(present.map((m) => m.recall)),
    macro_f1: mean(present.map((m) => m.f1)),
    per_class: perClass,
    confusion,
    nll: nll / n,
    ece: expectedCalibrationError(calibrationBins(confidences, correct, options.eceBins ?? 15)),
    accuracy_ci95: bootstrapAccuracyCI(correct, {
      resamples: options.bootstrapResamples ?? 1000,
      seed: options.bootstrapSeed ?? 0,
      level: 0.95,
    }),
    n_images: n,
  }
}

function checkClass(v: number, numClasses: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
    throw new RangeError(`${what} is ${v}, not a class index in 0..${numClasses - 1}`)
  }
}
