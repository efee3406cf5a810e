/**
 * Candidate near-duplicate pairs from the hashes of phash.ts: every image's 49 hypothesis hashes against every
 * image's whole-image hash, within CANDIDATE_BITS, by multi-index hashing. The 63 hash bits are cut into
 * maxBits + 1 chunks; two hashes within maxBits agree exactly on at least one chunk (pigeonhole), so a query is
 * compared only with the whole-image hashes that share one of its chunk values (a bucket per chunk and value,
 * stored as sorted arrays), and a pair is kept in the first chunk it shares. The cost grows as
 * n² · 49 · (maxBits + 1) / 2^(63 / (maxBits + 1)) comparisons (about 0.6 n² at 6 bits); without the crop
 * hypotheses, 49 times less.
 */
import {HYPOTHESIS_COUNT, hamming} from './phash.js'

export interface Candidate {
  /** The image whose hypothesis crop matched (the larger picture). */
  a: number
  /** The image whose whole-image hash matched (the crop). */
  b: number
  /** Which hypothesis of `a`. */
  k: number
  bits: number
}

function chunkBounds(chunks: number): number[] {
  return Array.from({length: chunks + 1}, (_, c) => Math.round((c * 63) / chunks))
}

function chunkValue(hi: number, lo: number, b0: number, b1: number): number {
  const w = b1 - b0
  const mask = w >= 32 ? 0xffffffff : (1 << w) - 1
  let v: number
  if (b1 <= 32) v = lo >>> b0
  else if (b0 >= 32) v = hi >>> (b0 - 32)
  else v = (lo >>> b0) | (hi << (32 - b0))
  return (v & mask) >>> 0
}

/**
 * Candidate pairs among `count` images whose hashes are `hi`/`lo` (HYPOTHESIS_COUNT per image, the whole image
 * first). `group[i]` is image i's split (-1 leaves it out: undecodable). Each split gets its own index of
 * whole-image hashes; an image's hypotheses are compared with every split's index, all 49 unless
 * `crops(ga, gb)` is false (then only the whole image: re-encodes and resizes, not crops). Pairs are unordered:
 * each appears once, with the direction and hypothesis of its smallest distance. Stops at `limit` pairs.
 */
export function candidatePairs(
  hi: Uint32Array,
  lo: Uint32Array,
  count: number,
  opts: {maxBits: number; group?: Int32Array; crops?: (ga: number, gb: number) => boolean; limit?: number},
): {pairs: Candidate[]; truncated: boolean; comparisons: number} {
  const K = HYPOTHESIS_COUNT
  const chunks = opts.maxBits + 1
  const bounds = chunkBounds(chunks)
  const group = opts.group ?? new Int32Array(count)
  // A loop, not Math.max(...group): spread into arguments overflows the stack past ~100,000 images (AffectNet has 290,000).
  let groups = 0
  for (let i = 0; i < count; i++) if (group[i]! + 1 > groups) groups = group[i]! + 1
  interface Index {
    images: Uint32Array
    fh: Uint32Array
    fl: Uint32Array
    values: Uint32Array[]
    starts: Uint32Array[]
    orders: Uint32Array[]
  }
  const indices: Index[] = []
  for (let g = 0; g < groups; g++) {
    const images: number[] = []
    for (let i = 0; i < count; i++) if (group[i] === g) images.push(i)
    const n = images.length
    const fh = new Uint32Array(n)
    const fl = new Uint32Array(n)
    images.forEach((i, p) => {
      fh[p] = hi[i * K]!
      fl[p] = lo[i * K]!
    })
    const values: Uint32Array[] = []
    const starts: Uint32Array[] = []
    const orders: Uint32Array[] = []
    for (let c = 0; c < chunks; c++) {
      const b0 = bounds[c]!
      const b1 = bounds[c + 1]!
      const size = 1 << (b1 - b0)
      const vals = new Uint32Array(n)
      const start = new Uint32Array(size + 1)
      for (let p = 0; p < n; p++) {
        vals[p] = chunkValue(fh[p]!, fl[p]!, b0, b1)
        start[vals[p]! + 1]!++
      }
      for (let v = 0; v < size; v++) start[v + 1]! += start[v]!
      const fill = start.slice(0, size)
      const order = new Uint32Array(n)
      for (let p = 0; p < n; p++) order[fill[vals[p]!]!++] = p
      values.push(vals)
      starts.push(start)
      orders.push(order)
    }
    indices.push({images: Uint32Array.from(images), fh, fl, values, starts, orders})
  }
  const best = new Map<number, Candidate>()
  const limit = opts.limit ?? Infinity
  let truncated = false
  let comparisons = 0
  const qv = new Uint32Array(chunks)
  outer: for (let a = 0; a < count; a++) {
    const ga = group[a]!
    if (ga < 0) continue
    for (let gb = 0; gb < groups; gb++) {
      const ix = indices[gb]!
      if (ix.images.length === 0) continue
      const hyps = opts.crops === undefined || opts.crops(ga, gb) ? K : 1
      for (let k = 0; k < hyps; k++) {
        const qh = hi[a * K + k]!
        const ql = lo[a * K + k]!
        for (let c = 0; c < chunks; c++) qv[c] = chunkValue(qh, ql, bounds[c]!, bounds[c + 1]!)
        for (let c = 0; c < chunks; c++) {
          const start = ix.starts[c]!
          const order = ix.orders[c]!
          const end = start[qv[c]! + 1]!
          for (let s = start[qv[c]!]!; s < end; s++) {
            const pb = order[s]!
            const b = ix.images[pb]!
            if (b === a) continue
            comparisons++
            const bits = hamming(qh, ql, ix.fh[pb]!, ix.fl[pb]!)
            if (bits > opts.maxBits) continue
            let earlier = false
            for (let e = 0; e < c && !earlier; e++) earlier = ix.values[e]![pb] === qv[e]
            if (earlier) continue
            const key = a < b ? a * count + b : b * count + a
            const prev = best.get(key)
            if (!prev || bits < prev.bits || (bits === prev.bits && k === 0 && prev.k !== 0)) {
              if (!prev && best.size >= limit) {
                truncated = true
                break outer
              }
              best.set(key, {a, b, k, bits})
            }
          }
        }
      }
    }
  }
  return {pairs: [...best.values()].sort((x, y) => Math.min(x.a, x.b) - Math.min(y.a, y.b) || Math.max(x.a, x.b) - Math.max(y.a, y.b)), truncated, comparisons}
}
