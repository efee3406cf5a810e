/**
 * Activation range observers for int8 calibration (pure, no I/O): the exact min and max of every value seen, and
 * a histogram from which a percentile range is read.
 *
 * The histogram is symmetric around 0, [-R, R) in HISTOGRAM_BINS bins, R a power of two; when a value beyond R
 * arrives, R doubles (as often as needed) and neighbouring bins merge, so earlier batches are never lost.
 */
import type {Range} from './qdq.js'

export const HISTOGRAM_BINS = 4096
/** At most this many values of one tensor per batch go into its histogram (evenly strided); min/max see all. */
export const HISTOGRAM_SAMPLES = 1 << 22

export type RangeMethod = 'minmax' | 'percentile'

export class RangeObserver {
  min = Infinity
  max = -Infinity
  count = 0
  private radius = 0
  private readonly bins = new Float64Array(HISTOGRAM_BINS)

  observe(values: ArrayLike<number>): void {
    const n = values.length
    if (n === 0) return
    let lo = this.min
    let hi = this.max
    let nan = false
    for (let i = 0; i < n; i++) {
      const v = values[i]!
      if (v < lo) lo = v
      if (v > hi) hi = v
      if (v !== v) nan = true
    }
    if (nan || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error('calibration saw a value that is not finite (NaN or infinity)')
    this.min = lo
    this.max = hi
    this.grow(Math.max(Math.abs(lo), Math.abs(hi)))
    const B = HISTOGRAM_BINS
    const perUnit = B / (2 * this.radius)
    const R = this.radius
    const stride = Math.max(1, Math.floor(n / HISTOGRAM_SAMPLES))
    const bins = this.bins
    let seen = 0
    for (let i = 0; i < n; i += stride) {
      let b = Math.floor((values[i]! + R) * perUnit)
      if (b >= B) b = B - 1
      else if (b < 0) b = 0
      bins[b]!++
      seen++
    }
    this.count += seen
  }

  /** Widen [-R, R) to cover `absMax`, merging bins (R doubles each step, so old bins map exactly). */
  private grow(absMax: number): void {
    if (this.radius === 0) {
      this.radius = 2 ** Math.ceil(Math.log2(Math.max(absMax, 2 ** -20)))
      if (this.radius < absMax) this.radius *= 2
      return
    }
    let f = 1
    while (this.radius * f < absMax) f *= 2
    if (f === 1) return
    const B = HISTOGRAM_BINS
    const half = B / 2
    const merged = new Float64Array(B)
    for (let i = 0; i < B; i++) merged[half + Math.floor((i - half) / f)]! += this.bins[i]!
    this.bins.set(merged)
    this.radius *= f
  }

  /**
   * The range by `method`: minmax spans every value seen; percentile spans the (1 - p) to p quantiles, dropping
   * the rarest fraction 1 - p of each tail (never beyond min and max).
   */
  range(method: RangeMethod, p = 0.9999): Range {
    if (this.count === 0) throw new Error('no values observed')
    if (method === 'minmax') return {min: this.min, max: this.max}
    return {min: Math.max(this.min, this.quantile(1 - p)), max: Math.min(this.max, this.quantile(p))}
  }

  /** The q-quantile of the histogram (linear inside a bin). */
  quantile(q: number): number {
    const target = q * this.count
    const w = (2 * this.radius) / HISTOGRAM_BINS
    let acc = 0
    for (let i = 0; i < HISTOGRAM_BINS; i++) {
      const c = this.bins[i]!
      if (acc + c >= target && c > 0) return -this.radius + (i + (target - acc) / c) * w
      acc += c
    }
    return this.radius
  }
}
