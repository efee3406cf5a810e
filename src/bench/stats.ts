/** Small statistics for `poster bench`: medians over runs, spread, rounding. No I/O. */

/** One run of a measurement, with the child's peak RSS and the 1-minute load average when it started. */
export type Sample<M> = M & {run: number; peakRssMb: number; wallSeconds: number; load1?: number}

export interface Summary {
  /** Number of samples. */
  n: number
  median: number
  mean: number
  min: number
  max: number
  /** Sample standard deviation (0 for a single sample). */
  stdev: number
}

/** Median of the finite values in `xs` (mean of the two middle ones for an even count). Throws when there are none. */
export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) throw new RangeError('median of no values')
  const mid = v.length >> 1
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

/** Summary of the finite values in `xs`; throws when there are none. */
export function summarize(xs: readonly number[]): Summary {
  const v = xs.filter((x) => Number.isFinite(x))
  if (v.length === 0) throw new RangeError('summary of no values')
  const mean = v.reduce((s, x) => s + x, 0) / v.length
  const variance = v.length > 1 ? v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1) : 0
  return {n: v.length, median: median(v), mean, min: Math.min(...v), max: Math.max(...v), stdev: Math.sqrt(variance)}
}

/** The median of `pick` over the items for which it is a finite number; undefined when there is none. */
export function medianOf<T>(items: readonly T[], pick: (item: T) => number | undefined): number | undefined {
  const v = items.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
  return v.length === 0 ? undefined : median(v)
}

/** Relative spread (max − min) / median, a quick "were the runs stable" figure; 0 for one sample. */
export function relativeSpread(s: Summary): number {
  return s.median === 0 ? 0 : (s.max - s.min) / Math.abs(s.median)
}

/** Round to `digits` decimals (for JSON output). */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!)
    if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d
  }
  return m
}
