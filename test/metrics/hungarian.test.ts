import {describe, expect, it} from 'vitest'

import {bestLabelPermutation, hungarian} from '../../src/metrics/hungarian.js'

function permutations(n: number): number[][] {
  if (n === 0) return [[]]
  const out: number[][] = []
  for (const p of permutations(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)])
  return out
}

describe('hungarian', () => {
  // W = [[4, 1, 3], [2, 0, 5], [3, 2, 2]]; all 6 assignments (row → col):
  //   (0,1,2): 4+0+2 = 6   (0,2,1): 4+5+2 = 11   (1,0,2): 1+2+2 = 5
  //   (1,2,0): 1+5+3 = 9   (2,0,1): 3+2+2 = 7    (2,1,0): 3+0+3 = 6
  const W = [
    [4, 1, 3],
    [2, 0, 5],
    [3, 2, 2],
  ]
  it('minimises: (1, 0, 2) with total 5', () => {
    expect(hungarian(W)).toEqual({rowToCol: [1, 0, 2], total: 5})
  })
  it('maximises: (0, 2, 1) with total 11', () => {
    expect(hungarian(W, {maximize: true})).toEqual({rowToCol: [0, 2, 1], total: 11})
  })
  it('agrees with brute force on pseudo-random 6×6 matrices', () => {
    const perms = permutations(6)
    let s = 12345
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648), s % 100)
    for (let trial = 0; trial < 20; trial++) {
      const m = Array.from({length: 6}, () => Array.from({length: 6}, rand))
      const best = Math.max(...perms.map((p) => p.reduce((acc, j, i) => acc + m[i][j], 0)))
      const worst = Math.min(...perms.map((p) => p.reduce((acc, j, i) => acc + m[i][j], 0)))
      const max = hungarian(m, {maximize: true})
      const min = hungarian(m)
      expect(max.total).toBe(best)
      expect(min.total).toBe(worst)
      expect([...max.rowToCol].sort()).toEqual([0, 1, 2, 3, 4, 5])
    }
  })
  it('handles rectangular (rows < cols), empty and rejects bad shapes', () => {
    // rows → cols maximising: row 0 → col 2 (9), row 1 → col 0 (8): 17
    expect(hungarian([[1, 2, 9], [8, 1, 9]], {maximize: true})).toEqual({rowToCol: [2, 0], total: 17})
    expect(hungarian([])).toEqual({rowToCol: [], total: 0})
    expect(() => hungarian([[1], [2]])).toThrow(/rows ≤ columns/)
    expect(() => hungarian([[1, NaN], [0, 0]])).toThrow(/not finite/)
  })
})

describe('bestLabelPermutation', () => {
  // True-space confusion T[t][q], 8 classes: diagonal 50 + t, off-diagonal (t + q) % 3.
  const C = 8
  const T = Array.from({length: C}, (_, t) => Array.from({length: C}, (_, q) => (t === q ? 50 + t : (t + q) % 3)))
  // The model's column j stands for true class PLANTED[j]: observed O[t][j] = T[t][PLANTED[j]].
  const PLANTED = [3, 0, 6, 1, 7, 2, 5, 4]
  const O = T.map((row) => PLANTED.map((q) => row[q]))

  it('recovers a planted column permutation of an 8×8 confusion matrix', () => {
    const r = bestLabelPermutation(O)
    expect(r.permutation).toEqual(PLANTED)
    expect(r.isIdentity).toBe(false)
    // total = Σ diagonal (50+…+57 = 428) + Σ off-diagonal ((t+q)%3 over t≠q)
    let total = 0
    for (const row of T) for (const v of row) total += v
    // best accuracy = trace(T) / total = 428 / total; identity accuracy = Σ_t O[t][t] / total
    expect(r.accuracy).toBeCloseTo(428 / total, 15)
    const identityHits = PLANTED.reduce((acc, q, t) => acc + T[t][q], 0)
    expect(r.identityAccuracy).toBeCloseTo(identityHits / total, 15)
    expect(r.accuracy).toBeGreaterThan(0.8)
    expect(r.identityAccuracy).toBeLessThan(0.1)
  })

  it('returns the identity when the labels are already in order', () => {
    const r = bestLabelPermutation(T)
    expect(r.permutation).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(r.isIdentity).toBe(true)
    expect(r.accuracy).toBe(r.identityAccuracy)
  })

  it('prefers the identity on ties', () => {
    // every permutation scores 1 of 3 images per class
    const r = bestLabelPermutation([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ])
    expect(r).toEqual({permutation: [0, 1, 2], accuracy: 1 / 3, identityAccuracy: 1 / 3, isIdentity: true})
    // classes 1 and 2 never appear and are never predicted: swapping them changes nothing, keep them in place
    expect(bestLabelPermutation([[5, 0, 0], [0, 0, 0], [0, 0, 0]]).permutation).toEqual([0, 1, 2])
    // non-integer weights (a normalised matrix) with a tie also keep the identity
    expect(bestLabelPermutation([[0.5, 0.5], [0.5, 0.5]]).permutation).toEqual([0, 1])
    expect(bestLabelPermutation([[0, 0], [0, 0]])).toEqual({permutation: [0, 1], accuracy: 0, identityAccuracy: 0, isIdentity: true})
  })

  it('swaps two classes', () => {
    // counts[true][pred] = [[1, 9], [8, 2]]: reading column 0 as class 1 and column 1 as class 0 gives 17/20
    const r = bestLabelPermutation([
      [1, 9],
      [8, 2],
    ])
    expect(r).toEqual({permutation: [1, 0], accuracy: 17 / 20, identityAccuracy: 3 / 20, isIdentity: false})
  })

  it('rejects a non-square matrix', () => {
    expect(() => bestLabelPermutation([[1, 2]])).toThrow(/square/)
  })
})
