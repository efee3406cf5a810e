/**
 * Reliability bins and expected calibration error (Guo et al. 2017, "On Calibration of Modern Neural
 * Networks"), binned the way their widely copied `_ECELoss` does.
 */

import type {CalibrationBin} from './types.js'

/**
 * Which of `nBins` equal-width bins a confidence falls in. Bins are half-open on the left, (lower, upper],
 * with edges i/nBins, matching the common implementation's `conf > lower & conf <= upper`. Deviation: a
 * confidence ≤ 0 (which that implementation drops) goes to the first bin and one > 1 to the last, so every
 * sample is counted; the max softmax probability is always ≥ 1/C > 0, so this never matters for real models.
 */
export function binIndex(confidence: number, nBins: number): number {
  if (!(confidence > 0)) return 0
  if (confidence >= 1) return nBins - 1
  let k = Math.ceil(confidence * nBins) - 1
  // Guard against rounding in confidence·nBins: settle k by comparing with the same edges i/nBins.
  if (k < 0) k = 0
  if (k > nBins - 1) k = nBins - 1
  while (k > 0 && confidence <= k / nBins) k--
  while (k < nBins - 1 && confidence > (k + 1) / nBins) k++
  return k
}

/**
 * Group samples into `nBins` equal-width confidence bins (lower, upper]. Every bin is returned, empty ones
 * with count 0 and confidence/accuracy 0. `confidence` and `accuracy` are the bin means of the confidences
 * and of the correctness flags.
 */
export function calibrationBins(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  nBins = 15,
): CalibrationBin[] {
  if (!Number.isInteger(nBins) || nBins < 1) throw new RangeError(`nBins must be a positive integer, got ${nBins}`)
  if (confidences.length !== correct.length) {
    throw new RangeError(`confidences (${confidences.length}) and correct (${correct.length}) differ in length`)
  }
  const count = new Float64Array(nBins)
  const confSum = new Float64Array(nBins)
  const hitSum = new Float64Array(nBins)
  for (let i = 0; i < confidences.length; i++) {
    const c = confidences[i]
    if (Number.isNaN(c)) throw new RangeError(`confidence ${i} is NaN`)
    const k = binIndex(c, nBins)
    count[k]++
    confSum[k] += c
    hitSum[k] += correct[i] ? 1 : 0
  }
  const bins: CalibrationBin[] = []
  for (let k = 0; k < nBins; k++) {
    const n = count[k]
    bins.push({
      lower: k / nBins,
      upper: (k + 1) / nBins,
      count: n,
      confidence: n > 0 ? confSum[k] / n : 0,
      accuracy: n > 0 ? hitSum[k] / n : 0,
    })
  }
  return bins
}

/** ECE = Σ_bins (count / N) · |accuracy − confidence|, N the total count; 0 when there are no samples. */
export function expectedCalibrationError(bins: readonly CalibrationBin[]): number {
  let total = 0
  for (const b of bins) total += b.count
  if (total === 0) return 0
  let ece = 0
  for (const b of bins) if (b.count > 0) ece += (b.count / total) * Math.abs(b.accuracy - b.confidence)
  return ece
}
