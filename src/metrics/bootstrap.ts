/**
 * Seeded randomness and the percentile bootstrap for accuracy. Everything here is deterministic for a given
 * seed, so metrics.json is reproducible byte for byte.
 */

import {mulberry32} from '../hash.js'
export {mulberry32} from '../hash.js'

/**
 * Quantile of an ascending-sorted array by linear interpolation between order statistics (numpy's default
 * `method='linear'`, Hyndman & Fan type 7): h = (n - 1)·q, x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) throw new RangeError('quantile of an empty array')
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile level must be in [0, 1], got ${q}`)
  const h = (n - 1) * q
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, n - 1)
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
}

export interface BootstrapOptions {
  /** Number of bootstrap resamples (default 1000). */
  resamples?: number
  /** PRNG seed (default 0). */
  seed?: number
  /** Two-sided coverage of the interval (default 0.95). */
  level?: number
}

/**
 * Percentile-bootstrap confidence interval for accuracy (the mean of `correct`).
 *
 * Each resample draws N indices uniformly with replacement (index = ⌊u·N⌋, u from mulberry32(seed)) and
 * takes the fraction correct; the interval is the (1-level)/2 and (1+level)/2 quantiles of the resampled
 * accuracies (type-7 interpolation, see quantileSorted). The same inputs and seed always give the same
 * interval. Throws on an empty input.
 */
export function bootstrapAccuracyCI(
  correct: Uint8Array | ArrayLike<boolean | number>,
  options: BootstrapOptions = {},
): [number, number] {
  const resamples = options.resamples ?? 1000
  const seed = options.seed ?? 0
  const level = options.level ?? 0.95
  const n = correct.length
  if (n === 0) throw new RangeError('bootstrap of an empty sample')
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`)
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`)

  const flags = new Uint8Array(n)
  for (let i = 0; i < n; i++) flags[i] = correct[i] ? 1 : 0

  const rand = mulberry32(seed)
  const stats = new Float64Array(resamples)
  for (let r = 0; r < resamples; r++) {
    let hits = 0
    for (let i = 0; i < n; i++) hits += flags[Math.floor(rand() * n)]
    stats[r] = hits / n
  }
  stats.sort()
  const alpha = 1 - level
  return [quantileSorted(stats, alpha / 2), quantileSorted(stats, 1 - alpha / 2)]
}
