/**
 * A bit-exact TypeScript port of Pillow's 8-bit convolution resampler
 * (`Image.resize(size, Image.BILINEAR)`, libImaging/Resample.c), which is what
 * torchvision's `transforms.Resize` runs on PIL images.
 *
 * The algorithm, as Pillow implements it for 8 bits per channel:
 *  - per output coordinate, a filter window centred on `(i + 0.5) * scale`,
 *    whose support is widened by the downscale factor (antialiasing);
 *  - window weights normalised to sum to 1 in float64, then converted to
 *    fixed point with 22 fractional bits (PRECISION_BITS = 32 - 8 - 2),
 *    rounding half away from zero;
 *  - a horizontal pass into an 8-bit intermediate image (only the rows that the
 *    vertical pass will read), then a vertical pass; each pass starts its
 *    accumulator at 0.5 (1 << 21), shifts right by 22 (floor) and clips to 0..255;
 *  - a pass is skipped when that dimension does not change (and the whole
 *    image is copied when neither does).
 *
 * Integer sums are exact in float64 and well inside int32 for the filters here,
 * so the order of accumulation does not matter and results match Pillow's byte
 * for byte. Only the polynomial filters (box, bilinear, bicubic) are offered:
 * they involve no transcendental functions, so the float64 weights are the
 * same as Pillow's on every platform.
 */

import type {RawImage} from './types.js'

export type ResampleFilter = 'box' | 'bilinear' | 'bicubic'

const PRECISION_BITS = 32 - 8 - 2
const ONE = 1 << PRECISION_BITS
const HALF = 1 << (PRECISION_BITS - 1)

interface FilterDef {
  support: number
  fn: (x: number) => number
}

const FILTERS: Record<ResampleFilter, FilterDef> = {
  box: {
    support: 0.5,
    fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0),
  },
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x
      return x < 1 ? 1 - x : 0
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5
      if (x < 0) x = -x
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a
      return 0
    },
  },
}

/** Fixed-point filter weights for one axis. */
export interface ResampleCoeffs {
  inSize: number
  outSize: number
  /** Maximum number of taps per output sample (stride of `weights`). */
  ksize: number
  /** First input index used by output sample i. */
  start: Int32Array
  /** Number of input samples used by output sample i. */
  count: Int32Array
  /** `outSize * ksize` weights, 22-bit fixed point. */
  weights: Int32Array
}

/**
 * Computes the weights exactly as Pillow's `precompute_coeffs` followed by
 * `normalize_coeffs_8bpc` (for the default box `[0, inSize]`).
 */
export function computeCoeffs(inSize: number, outSize: number, filter: ResampleFilter = 'bilinear'): ResampleCoeffs {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`invalid resample sizes ${inSize} -> ${outSize}`)
  }
  const def = FILTERS[filter]
  const in0 = 0
  const in1 = inSize
  const scale = (in1 - in0) / outSize
  const filterscale = scale < 1 ? 1 : scale
  const support = def.support * filterscale
  const ksize = Math.ceil(support) * 2 + 1
  const ss = 1 / filterscale
  const start = new Int32Array(outSize)
  const count = new Int32Array(outSize)
  const weights = new Int32Array(outSize * ksize)
  const k = new Float64Array(ksize)
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale
    // C casts to int, i.e. truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5)
    if (xmin < 0) xmin = 0
    let xmax = Math.trunc(center + support + 0.5)
    if (xmax > inSize) xmax = inSize
    xmax -= xmin
    let ww = 0
    for (let x = 0; x < xmax; x++) {
      const w = def.fn((x + xmin - center + 0.5) * ss)
      k[x] = w
      ww += w
    }
    const base = xx * ksize
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!
      weights[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE)
    }
    start[xx] = xmin
    count[xx] = xmax
  }
  return {inSize, outSize, ksize, start, count, weights}
}

const COEFF_CACHE_MAX = 64
const coeffCache = new Map<string, ResampleCoeffs>()

/** `computeCoeffs`, memoised per (inSize, outSize, filter) in a small LRU. */
export function getCoeffs(inSize: number, outSize: number, filter: ResampleFilter = 'bilinear'): ResampleCoeffs {
  const key = `${filter}:${inSize}:${outSize}`
  const hit = coeffCache.get(key)
  if (hit !== undefined) {
    coeffCache.delete(key)
    coeffCache.set(key, hit)
    return hit
  }
  const c = computeCoeffs(inSize, outSize, filter)
  if (coeffCache.size >= COEFF_CACHE_MAX) {
    const oldest = coeffCache.keys().next().value
    if (oldest !== undefined) coeffCache.delete(oldest)
  }
  coeffCache.set(key, c)
  return c
}

/** Empties the coefficient cache (for tests and benchmarks). */
export function clearCoeffCache(): void {
  coeffCache.clear()
}

// Scratch space reused between calls (the intermediate image of the two-pass resize).
let scratch = new Uint8Array(0)
function scratchBuffer(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2))
  return scratch
}
let accRow = new Int32Array(0)
function accBuffer(n: number): Int32Array {
  if (accRow.length < n) accRow = new Int32Array(Math.max(n, accRow.length * 2))
  return accRow
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS
  return v < 0 ? 0 : v > 255 ? 255 : v
}

/**
 * Horizontal pass over rows `rowOffset .. rowOffset + rows - 1` of `src`
 * (width `inW`, `channels` interleaved) into `dst` (width `c.outSize`).
 */
function resampleHorizontal(
  src: Uint8Array, inW: number, channels: number, rowOffset: number, rows: number,
  dst: Uint8Array, c: ResampleCoeffs,
): void {
  const outW = c.outSize
  const {ksize, start, count, weights} = c
  const inStride = inW * channels
  const outStride = outW * channels
  if (channels === 3) {
    for (let yy = 0; yy < rows; yy++) {
      const rowBase = (yy + rowOffset) * inStride
      let o = yy * outStride
      for (let xx = 0; xx < outW; xx++) {
        const kb = xx * ksize
        const n = count[xx]!
        let p = rowBase + start[xx]! * 3
        let s0 = HALF
        let s1 = HALF
        let s2 = HALF
        for (let x = 0; x < n; x++) {
          const w = weights[kb + x]!
          s0 += src[p]! * w
          s1 += src[p + 1]! * w
          s2 += src[p + 2]! * w
          p += 3
        }
        dst[o] = clip8(s0)
        dst[o + 1] = clip8(s1)
        dst[o + 2] = clip8(s2)
        o += 3
      }
    }
    return
  }
  for (let yy = 0; yy < rows; yy++) {
    const rowBase = (yy + rowOffset) * inStride
    for (let xx = 0; xx < outW; xx++) {
      const kb = xx * ksize
      const n = count[xx]!
      const p0 = rowBase + start[xx]! * channels
      for (let ch = 0; ch < channels; ch++) {
        let s = HALF
        let p = p0 + ch
        for (let x = 0; x < n; x++) {
          s += src[p]! * weights[kb + x]!
          p += channels
        }
        dst[yy * outStride + xx * channels + ch] = clip8(s)
      }
    }
  }
}

/**
 * Vertical pass: `src` has rows of `rowLen` bytes; output row yy reads rows
 * `c.start[yy] - rowShift ...` of `src`.
 */
function resampleVertical(src: Uint8Array, rowLen: number, rowShift: number, dst: Uint8Array, c: ResampleCoeffs): void {
  const {ksize, start, count, weights} = c
  const acc = accBuffer(rowLen)
  for (let yy = 0; yy < c.outSize; yy++) {
    acc.fill(HALF, 0, rowLen)
    const kb = yy * ksize
    const n = count[yy]!
    const y0 = start[yy]! - rowShift
    for (let y = 0; y < n; y++) {
      const w = weights[kb + y]!
      let p = (y0 + y) * rowLen
      for (let i = 0; i < rowLen; i++, p++) acc[i] = (acc[i]! + src[p]! * w) | 0
    }
    const o = yy * rowLen
    for (let i = 0; i < rowLen; i++) dst[o + i] = clip8(acc[i]!)
  }
}

export interface ResizeOptions {
  filter?: ResampleFilter
  /** Write the result here (length >= outW * outH * channels) instead of a new array. */
  out?: Uint8Array
}

/**
 * Resizes interleaved 8-bit pixels (1 to 4 channels) to `outW × outH` exactly
 * as Pillow's `Image.resize((outW, outH), filter)` does for modes L and RGB.
 * (Pillow premultiplies alpha for RGBA/LA before resampling; this function
 * does not, so feed it images without alpha.)
 */
export function pillowResize(img: RawImage, outW: number, outH: number, opts: ResizeOptions = {}): RawImage {
  const {width: inW, height: inH, channels, data} = img
  const filter = opts.filter ?? 'bilinear'
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) throw new RangeError(`unsupported channel count ${channels}`)
  if (data.length < inW * inH * channels) throw new RangeError('pixel buffer is smaller than width * height * channels')
  const outLen = outW * outH * channels
  const out = opts.out ?? new Uint8Array(outLen)
  if (out.length < outLen) throw new RangeError(`output buffer too small: ${out.length} < ${outLen}`)

  const needH = outW !== inW
  const needV = outH !== inH
  if (!needH && !needV) {
    out.set(data.subarray(0, outLen))
    return {width: outW, height: outH, channels, data: out}
  }
  const cv = needV ? getCoeffs(inH, outH, filter) : undefined
  if (needH) {
    const ch = getCoeffs(inW, outW, filter)
    let first = 0
    let rows = inH
    if (cv !== undefined) {
      // Only the rows the vertical pass will read (Pillow's ybox_first .. ybox_last).
      first = cv.start[0]!
      rows = cv.start[outH - 1]! + cv.count[outH - 1]! - first
    }
    if (cv === undefined) {
      resampleHorizontal(data, inW, channels, 0, inH, out, ch)
      return {width: outW, height: outH, channels, data: out}
    }
    const tmp = scratchBuffer(rows * outW * channels)
    resampleHorizontal(data, inW, channels, first, rows, tmp, ch)
    resampleVertical(tmp, outW * channels, first, out, cv)
  } else {
    resampleVertical(data, inW * channels, 0, out, cv!)
  }
  return {width: outW, height: outH, channels, data: out}
}
