/**
 * The perceptual hash and its confirmation on sharp-generated images: a JPEG re-encode, a resize to 100×100 and
 * small crops stay within CANDIDATE_BITS of a hypothesis and confirm above NCC_THRESHOLD; different pictures are
 * far on both. The multi-index search finds exactly the pairs a brute-force search finds.
 */
import {describe, expect, it} from 'vitest'

import {candidatePairs} from '../../src/dataset-tools/near.js'
import {CANDIDATE_BITS, HYPOTHESIS_COUNT, NCC_THRESHOLD, hamming, hashImage, hypothesisCut, popcount32, similarity, verifyGrid} from '../../src/dataset-tools/phash.js'
import {decodeRgb} from '../../src/image/sharp.js'
import {mulberry32} from '../../src/hash.js'
import {blobJpeg, crop, reencode, resize100} from './planted.js'

const K = HYPOTHESIS_COUNT

async function sig(jpeg: Buffer) {
  const img = await decodeRgb(jpeg)
  const hi = new Uint32Array(K)
  const lo = new Uint32Array(K)
  hashImage(img, hi, lo)
  return {hi, lo, grid: verifyGrid(img)}
}

/** Smallest distance of `b`'s whole-image hash to a hypothesis of `a`, and the hypothesis. */
function closest(a: {hi: Uint32Array; lo: Uint32Array}, b: {hi: Uint32Array; lo: Uint32Array}): {bits: number; k: number} {
  let best = {bits: 99, k: 0}
  for (let k = 0; k < K; k++) {
    const bits = hamming(a.hi[k]!, a.lo[k]!, b.hi[0]!, b.lo[0]!)
    if (bits < best.bits) best = {bits, k}
  }
  return best
}

describe('phash', () => {
  it('every hash has 31 of 63 bits set', async () => {
    const s = await sig(await blobJpeg(1))
    for (let k = 0; k < K; k++) expect(popcount32(s.hi[k]!) + popcount32(s.lo[k]!)).toBe(31)
  })

  it('re-encode, resize to 100×100 and crops of up to 10% are candidates and confirm; different images are neither', async () => {
    const originals = await Promise.all([11, 12, 13, 14, 15, 16].map((s) => blobJpeg(s)))
    const sigs = await Promise.all(originals.map(sig))
    const copies: Array<[string, (b: Buffer) => Promise<Buffer>]> = [
      ['jpeg q60', (b) => reencode(b, 60)],
      ['jpeg q40', (b) => reencode(b, 40)],
      ['100x100', resize100],
      ['crop 5% each side', (b) => crop(b, [0.05, 0.05, 0.05, 0.05])],
      ['crop 10% left', (b) => crop(b, [0.1, 0, 0, 0])],
      ['crop 7% top, 3% right', (b) => crop(b, [0, 0.07, 0.03, 0])],
      ['crop then 100x100', async (b) => resize100(await crop(b, [0.04, 0.02, 0.02, 0.06]))],
    ]
    for (const [name, fn] of copies) {
      for (let i = 0; i < originals.length; i++) {
        const c = await sig(await fn(originals[i]!))
        const {bits, k} = closest(sigs[i]!, c)
        expect(bits, `${name} #${i}`).toBeLessThanOrEqual(CANDIDATE_BITS)
        expect(similarity(sigs[i]!.grid, c.grid, hypothesisCut(k)), `${name} #${i}`).toBeGreaterThanOrEqual(NCC_THRESHOLD)
      }
    }
    for (let i = 0; i < sigs.length; i++) {
      for (let j = 0; j < sigs.length; j++) {
        if (i === j) continue
        const {bits, k} = closest(sigs[i]!, sigs[j]!)
        expect(bits).toBeGreaterThan(CANDIDATE_BITS)
        expect(similarity(sigs[i]!.grid, sigs[j]!.grid, hypothesisCut(k))).toBeLessThan(0.85)
      }
    }
  })
})

describe('candidatePairs', () => {
  it('finds exactly the pairs within maxBits that brute force finds, with the smallest distance', () => {
    const rand = mulberry32(4)
    const n = 300
    const hi = new Uint32Array(n * K)
    const lo = new Uint32Array(n * K)
    const word = () => (rand() * 2 ** 32) >>> 0
    for (let i = 0; i < n * K; i++) {
      hi[i] = word() & 0x7fffffff
      lo[i] = word()
    }
    // Plant near pairs: image 2i+1's whole hash is one of image 2i's hypotheses with a few bits flipped.
    for (let i = 0; i < 40; i += 2) {
      const k = i % K
      hi[(i + 1) * K] = (hi[i * K + k]! ^ (1 << (i % 31))) >>> 0
      lo[(i + 1) * K] = (lo[i * K + k]! ^ (3 << (i % 30))) >>> 0
    }
    const max = 6
    const {pairs} = candidatePairs(hi, lo, n, {maxBits: max})
    const brute = new Map<string, number>()
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a === b) continue
        for (let k = 0; k < K; k++) {
          const d = hamming(hi[a * K + k]!, lo[a * K + k]!, hi[b * K]!, lo[b * K]!)
          if (d > max) continue
          const key = `${Math.min(a, b)}:${Math.max(a, b)}`
          brute.set(key, Math.min(brute.get(key) ?? 99, d))
        }
      }
    }
    expect(brute.size).toBeGreaterThanOrEqual(20)
    expect(new Map(pairs.map((p) => [`${Math.min(p.a, p.b)}:${Math.max(p.a, p.b)}`, p.bits]))).toEqual(brute)
  })

  it("takes AffectNet's size: 300,000 images (Math.max(...group) overflowed the stack past ~100,000)", () => {
    const rand = mulberry32(5)
    const n = 300_000
    const hi = new Uint32Array(n * K)
    const lo = new Uint32Array(n * K)
    for (let i = 0; i < n; i++) {
      hi[i * K] = (rand() * 2 ** 31) >>> 0
      lo[i * K] = (rand() * 2 ** 32) >>> 0
    }
    // Two splits; an exact copy planted across them; crops (the 48 other hypotheses) not searched.
    const group = new Int32Array(n).map((_, i) => (i < n / 2 ? 0 : 1))
    hi[(n - 1) * K] = hi[7 * K]!
    lo[(n - 1) * K] = lo[7 * K]!
    const {pairs} = candidatePairs(hi, lo, n, {maxBits: 2, group, crops: () => false})
    expect(pairs.map((p) => [Math.min(p.a, p.b), Math.max(p.a, p.b), p.bits])).toEqual([[7, n - 1, 0]])
  })
})
