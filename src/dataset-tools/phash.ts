/**
 * Perceptual hashes for near-duplicate images, pure (pixels in, numbers out).
 *
 * pHash: the image as grey (Pillow's 'L': 299/587/114 per mille), area-averaged to 32×32 over the whole frame (so
 * a resize to any size, square or not, gives nearly the same grid), its 2-D DCT-II, and the 8×8 lowest
 * frequencies without the constant term: 63 coefficients, each bit "above their median". Low frequencies barely
 * move under JPEG re-encoding and resizing (a few bits); unrelated images differ in about half of them. A crop
 * moves them more, so each image is also hashed under 49 crop hypotheses (HYPOTHESES): a crop of it is close to
 * the hash of one of them.
 *
 * The hashes only propose pairs. `similarity` decides, on the two images: starting from the hypothesis that
 * matched it finds the crop of one that best matches the other, and the pair is a near duplicate only when the
 * colour thumbnails then agree almost exactly (normalised cross-correlation ≥ NCC_THRESHOLD; measured: copies
 * 0.985 or more, different images at most 0.72).
 */
import type {RgbImage} from '../image/types.js'

/** Grid side of the hash's grey thumbnail. */
export const HASH_GRID = 32
/** Side of the grey grid every hypothesis is cut from (the hash grid itself: measured as good as 64 or 48). */
const BASE_GRID = 32
/** Bits (of 63) within which two hashes make a candidate pair; every hash has 31 bits set, so distances are even. */
export const CANDIDATE_BITS = 6

/** Grey 'L' levels of an RGB image, area-averaged to `size`×`size` over the whole frame. */
export function greyGrid(img: RgbImage, size = HASH_GRID): Float64Array {
  const {width: w, height: h, data} = img
  const out = new Float64Array(size * size)
  // Horizontal pass: for each source row, the area average over each output column's span.
  const rows = new Float64Array(h * size)
  const xs = spans(w, 0, w, size)
  const grey = new Float64Array(w)
  for (let y = 0; y < h; y++) {
    const base = y * w * 3
    for (let x = 0; x < w; x++) {
      const p = base + x * 3
      grey[x] = (data[p]! * 299 + data[p + 1]! * 587 + data[p + 2]! * 114) / 1000
    }
    for (let o = 0; o < size; o++) {
      const s = xs[o]!
      let acc = 0
      for (let k = 0; k < s.idx.length; k++) acc += s.wt[k]! * grey[s.idx[k]!]!
      rows[y * size + o] = acc
    }
  }
  const ys = spans(h, 0, h, size)
  for (let o = 0; o < size; o++) {
    const s = ys[o]!
    for (let x = 0; x < size; x++) {
      let acc = 0
      for (let k = 0; k < s.idx.length; k++) acc += s.wt[k]! * rows[s.idx[k]! * size + x]!
      out[o * size + x] = acc
    }
  }
  return out
}

/** Area spans of `n` cells over [start, start + len) of a `total`-pixel axis: pixels covered and weights (sum 1). */
function spans(total: number, start: number, len: number, n: number): Array<{idx: number[]; wt: number[]}> {
  const out: Array<{idx: number[]; wt: number[]}> = []
  const step = len / n
  for (let o = 0; o < n; o++) {
    const a = start + o * step
    const b = start + (o + 1) * step
    const idx: number[] = []
    const wt: number[] = []
    for (let p = Math.floor(a); p < Math.min(total, Math.ceil(b)); p++) {
      const cover = Math.min(b, p + 1) - Math.max(a, p)
      if (cover > 1e-12) {
        idx.push(p)
        wt.push(cover / step)
      }
    }
    out.push({idx, wt})
  }
  return out
}

/**
 * The crops an image is hashed under, so that a crop of it is found (its hypotheses): per axis the whole side, or
 * 5% or 10% cut off at the start, at the end, or half at each: 7 per axis, 49 in all, the whole image first. A
 * copy cut by up to 10% of each dimension (and re-encoded, resized) is within a few bits of one of them: measured
 * on photos and generated images, 99% within CANDIDATE_BITS and all within 8, while different images stay 14 or
 * more bits apart.
 */
export const AXIS_CROPS: ReadonlyArray<readonly [start: number, len: number]> = [
  [0, 1],
  [0, 0.95],
  [0.025, 0.95],
  [0.05, 0.95],
  [0, 0.9],
  [0.05, 0.9],
  [0.1, 0.9],
]
export const HYPOTHESES: ReadonlyArray<readonly [x0: number, y0: number, w: number, h: number]> = AXIS_CROPS.flatMap(([y, h]) =>
  AXIS_CROPS.map(([x, w]) => [x, y, w, h] as const),
)
export const HYPOTHESIS_COUNT = HYPOTHESES.length

/**
 * For each axis crop: the 8 lowest DCT-II basis rows of a 32-cell grid, composed with the area resampling of that
 * crop of the 64-cell base grid (8×64, row-major). A hypothesis's 8×8 coefficients are then Py · base · Pxᵀ.
 */
let projections: Float64Array[] | undefined
function axisProjections(): Float64Array[] {
  if (projections) return projections
  const N = HASH_GRID
  const G = BASE_GRID
  projections = AXIS_CROPS.map(([start, len]) => {
    const sp = spans(G, start * G, len * G, N)
    const P = new Float64Array(8 * G)
    for (let u = 0; u < 8; u++) {
      for (let x = 0; x < N; x++) {
        const c = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N))
        const s = sp[x]!
        for (let k = 0; k < s.idx.length; k++) P[u * G + s.idx[k]!]! += c * s.wt[k]!
      }
    }
    return P
  })
  return projections
}

/**
 * The pHash of every hypothesis crop of an image, in HYPOTHESES order (index 0: the whole image), written as
 * [hi, lo] 32-bit halves into `hi`/`lo` from `offset`.
 */
export function hashImage(img: RgbImage, hi: Uint32Array, lo: Uint32Array, offset = 0): void {
  const G = BASE_GRID
  const base = greyGrid(img, G)
  const P = axisProjections()
  const A = AXIS_CROPS.length
  // T[k] = base · P[k]ᵀ : 64 rows × 8, per x crop.
  const T = P.map((Px) => {
    const t = new Float64Array(G * 8)
    for (let y = 0; y < G; y++) {
      for (let u = 0; u < 8; u++) {
        let acc = 0
        for (let x = 0; x < G; x++) acc += base[y * G + x]! * Px[u * G + x]!
        t[y * 8 + u] = acc
      }
    }
    return t
  })
  const d = new Float64Array(64)
  const sorted = new Float64Array(63)
  for (let j = 0; j < A; j++) {
    const Py = P[j]!
    for (let k = 0; k < A; k++) {
      const t = T[k]!
      for (let v = 0; v < 8; v++) {
        for (let u = 0; u < 8; u++) {
          let acc = 0
          for (let y = 0; y < G; y++) acc += Py[v * G + y]! * t[y * 8 + u]!
          d[v * 8 + u] = acc
        }
      }
      const [h1, l1] = bitsOf(d, sorted)
      hi[offset + j * A + k] = h1
      lo[offset + j * A + k] = l1
    }
  }
}

/** The 63 coefficients without the constant term, each bit "above their median". */
function bitsOf(d: Float64Array, scratch: Float64Array): [number, number] {
  scratch.set(d.subarray(1))
  scratch.sort()
  const median = scratch[31]!
  let hi = 0
  let lo = 0
  for (let i = 0; i < 63; i++) {
    if (d[i + 1]! > median) {
      if (i < 32) lo |= 1 << i
      else hi |= 1 << (i - 32)
    }
  }
  return [hi >>> 0, lo >>> 0]
}

/** The whole-image pHash [hi, lo]. */
export function phash(img: RgbImage): [number, number] {
  const hi = new Uint32Array(HYPOTHESIS_COUNT)
  const lo = new Uint32Array(HYPOTHESIS_COUNT)
  hashImage(img, hi, lo)
  return [hi[0]!, lo[0]!]
}

/** Bits set in a 32-bit integer. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

export function hamming(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return popcount32((aHi ^ bHi) >>> 0) + popcount32((aLo ^ bLo) >>> 0)
}

// ---------------------------------------------------------------------------------------------------------------
// Verification

/** Side of the colour thumbnails compared. */
const VERIFY_GRID = 24
/** Side of the grid the crops are cut from. */
const SOURCE_GRID = 96
/** Normalised cross-correlation above which two images are the same picture. */
export const NCC_THRESHOLD = 0.95

/** An image prepared for verification: RGB area-averaged to SOURCE_GRID². */
export interface VerifyGrid {
  rgb: Float64Array
}

export function verifyGrid(img: RgbImage): VerifyGrid {
  const S = SOURCE_GRID
  const rgb = new Float64Array(S * S * 3)
  const xs = spans(img.width, 0, img.width, S)
  const ys = spans(img.height, 0, img.height, S)
  const rows = new Float64Array(img.height * S * 3)
  for (let y = 0; y < img.height; y++) {
    for (let o = 0; o < S; o++) {
      const s = xs[o]!
      let r = 0
      let g = 0
      let b = 0
      for (let k = 0; k < s.idx.length; k++) {
        const p = (y * img.width + s.idx[k]!) * 3
        r += s.wt[k]! * img.data[p]!
        g += s.wt[k]! * img.data[p + 1]!
        b += s.wt[k]! * img.data[p + 2]!
      }
      const q = (y * S + o) * 3
      rows[q] = r
      rows[q + 1] = g
      rows[q + 2] = b
    }
  }
  for (let o = 0; o < S; o++) {
    const s = ys[o]!
    for (let x = 0; x < S; x++) {
      for (let ch = 0; ch < 3; ch++) {
        let acc = 0
        for (let k = 0; k < s.idx.length; k++) acc += s.wt[k]! * rows[(s.idx[k]! * S + x) * 3 + ch]!
        rgb[(o * S + x) * 3 + ch] = acc
      }
    }
  }
  return {rgb}
}

/** The VERIFY_GRID² thumbnail of the part of `g` between fractions l, t, r, b of its sides (bilinear), zero-mean. */
function cropThumb(g: VerifyGrid, l: number, t: number, r: number, b: number, out: Float64Array): void {
  const S = SOURCE_GRID
  const V = VERIFY_GRID
  const x0 = l * S
  const y0 = t * S
  const w = (1 - l - r) * S
  const h = (1 - t - b) * S
  for (let oy = 0; oy < V; oy++) {
    const sy = Math.min(S - 1, Math.max(0, y0 + ((oy + 0.5) * h) / V - 0.5))
    const iy = Math.min(S - 2, Math.floor(sy))
    const fy = sy - iy
    for (let ox = 0; ox < V; ox++) {
      const sx = Math.min(S - 1, Math.max(0, x0 + ((ox + 0.5) * w) / V - 0.5))
      const ix = Math.min(S - 2, Math.floor(sx))
      const fx = sx - ix
      for (let ch = 0; ch < 3; ch++) {
        const p00 = g.rgb[(iy * S + ix) * 3 + ch]!
        const p01 = g.rgb[(iy * S + ix + 1) * 3 + ch]!
        const p10 = g.rgb[((iy + 1) * S + ix) * 3 + ch]!
        const p11 = g.rgb[((iy + 1) * S + ix + 1) * 3 + ch]!
        out[(oy * V + ox) * 3 + ch] = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy
      }
    }
  }
  centre(out)
}

/** Subtract each channel's mean and scale to unit norm (a flat image stays all zero). */
function centre(v: Float64Array): void {
  const n = v.length / 3
  for (let ch = 0; ch < 3; ch++) {
    let m = 0
    for (let i = 0; i < n; i++) m += v[i * 3 + ch]!
    m /= n
    for (let i = 0; i < n; i++) v[i * 3 + ch]! -= m
  }
  let norm = 0
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!
  norm = Math.sqrt(norm)
  if (norm > 1e-9) for (let i = 0; i < v.length; i++) v[i]! /= norm
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

/**
 * How alike `ref` is to a crop of `src`: the best normalised cross-correlation of their colour thumbnails over
 * crops of `src` near `start` ([left, top, right, bottom] fractions cut off; the hypothesis whose hash matched),
 * found by moving each side in steps of 2%, 1% and 0.5% while it improves, up to 12% of each dimension in all
 * (1 = the same picture). Two flat images of the same colour score 1.
 */
export function similarity(src: VerifyGrid, ref: VerifyGrid, start: readonly number[] = [0, 0, 0, 0]): number {
  const V = VERIFY_GRID
  const fr = new Float64Array(V * V * 3)
  cropThumb(ref, 0, 0, 0, 0, fr)
  const t = new Float64Array(V * V * 3)
  cropThumb(src, 0, 0, 0, 0, t)
  const flat = (v: Float64Array) => v.every((x) => x === 0)
  if (flat(fr) || flat(t)) {
    if (!(flat(fr) && flat(t))) return 0
    const mean = (g: VerifyGrid, ch: number) => g.rgb.filter((_, i) => i % 3 === ch).reduce((s, x) => s + x, 0) / (SOURCE_GRID * SOURCE_GRID)
    return [0, 1, 2].every((ch) => Math.abs(mean(src, ch) - mean(ref, ch)) < 2) ? 1 : 0
  }
  const score = (c: readonly number[]): number => {
    cropThumb(src, c[0]!, c[1]!, c[2]!, c[3]!, t)
    return dot(fr, t)
  }
  const ok = (c: readonly number[]) => c.every((x) => x >= 0) && c[0]! + c[2]! <= 0.1201 && c[1]! + c[3]! <= 0.1201
  let cur = ok(start) ? [...start] : [0, 0, 0, 0]
  let curScore = score(cur)
  const whole = score([0, 0, 0, 0])
  for (const step of [0.02, 0.01, 0.005]) {
    for (let round = 0; round < 8; round++) {
      const before = curScore
      for (let side = 0; side < 4; side++) {
        for (const d of [-step, step]) {
          const c = [...cur]
          c[side] = Math.round((c[side]! + d) * 10000) / 10000
          if (!ok(c)) continue
          const sc = score(c)
          if (sc > curScore) {
            curScore = sc
            cur = c
          }
        }
      }
      if (curScore <= before) break
    }
  }
  return Math.max(whole, curScore)
}

/** [left, top, right, bottom] fractions a hypothesis cuts off. */
export function hypothesisCut(k: number): [number, number, number, number] {
  const [x0, y0, w, h] = HYPOTHESES[k]!
  return [x0, y0, Math.max(0, 1 - x0 - w), Math.max(0, 1 - y0 - h)]
}
