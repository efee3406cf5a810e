import {describe, expect, it} from 'vitest'

import {logBinomialHalfCdf, logBinomialHalfPmf, mcnemarExact, mcnemarPaired} from '../../src/metrics/mcnemar.js'

/** Exact reference in BigInt: 2·Σ_{k≤m} C(n, k) / 2^n, returned as a double (independent of the module). */
function exactP(b: number, c: number): number {
  const n = b + c
  const m = Math.min(b, c)
  let term = 1n
  let sum = 1n
  for (let k = 1; k <= m; k++) {
    term = (term * BigInt(n - k + 1)) / BigInt(k)
    sum += term
  }
  // p = 2·sum / 2^n: keep the top 60 bits of sum as the mantissa so tiny p-values survive.
  const shift = Math.max(0, sum.toString(2).length - 60)
  const mantissa = Number(sum >> BigInt(shift))
  const e = shift + 1 - n
  return Math.min(1, mantissa * 2 ** Math.ceil(e / 2) * 2 ** Math.floor(e / 2))
}

describe('mcnemarExact', () => {
  it('b=10, c=2: p = 2·(C(12,0)+C(12,1)+C(12,2))/2^12 = 2·(1+12+66)/4096 = 158/4096', () => {
    const r = mcnemarExact(10, 2)
    expect(r).toMatchObject({b: 10, c: 2, n: 12})
    expect(r.pValue).toBeCloseTo(0.03857421875, 15)
    expect(Math.abs(r.pValue / 0.03857421875 - 1)).toBeLessThan(1e-13)
  })

  it('is symmetric in b and c', () => {
    expect(mcnemarExact(2, 10).pValue).toBe(mcnemarExact(10, 2).pValue)
  })

  it('b=20, c=5: 2·(1+25+300+2300+12650+53130)/2^25 = 2·68406/33554432', () => {
    expect(Math.abs(mcnemarExact(20, 5).pValue / (136812 / 33554432) - 1)).toBeLessThan(1e-13)
  })

  it('small cases: (5,0) → 2/32, (6,0) → 2/64, (1,0) → 1, (3,1) → 2·(1+4)/16 = 0.625', () => {
    expect(mcnemarExact(5, 0).pValue).toBeCloseTo(0.0625, 15)
    expect(mcnemarExact(0, 6).pValue).toBeCloseTo(0.03125, 15)
    expect(mcnemarExact(1, 0).pValue).toBe(1)
    expect(mcnemarExact(3, 1).pValue).toBeCloseTo(0.625, 14)
  })

  it('b = c gives 1, and no discordant pairs give 1', () => {
    expect(mcnemarExact(7, 7).pValue).toBe(1)
    expect(mcnemarExact(50000, 50000).pValue).toBe(1)
    expect(mcnemarExact(0, 0)).toEqual({b: 0, c: 0, n: 0, pValue: 1})
  })

  it('(b, c) = (n − m, m) agrees with exact BigInt arithmetic for n up to 100k', () => {
    for (const [b, c] of [
      [30, 12],
      [120, 80],
      [600, 500],
      [2600, 2400],
      [10300, 9700],
      [50500, 49500],
    ]) {
      const p = mcnemarExact(b, c).pValue
      const ref = exactP(b, c)
      expect(Number.isFinite(p)).toBe(true)
      expect(Math.abs(p / ref - 1)).toBeLessThan(1e-11)
    }
  })

  it('stays accurate in the far tail: (1000, 0) → 2·2^-1000 = 2^-999', () => {
    expect(Math.abs(mcnemarExact(1000, 0).pValue / 2 ** -999 - 1)).toBeLessThan(1e-12)
    // (b=900, c=100): compare with BigInt
    expect(Math.abs(mcnemarExact(900, 100).pValue / exactP(900, 100) - 1)).toBeLessThan(1e-11)
  })

  it('rejects negative or fractional counts', () => {
    expect(() => mcnemarExact(-1, 2)).toThrow(/non-negative integer/)
    expect(() => mcnemarExact(1.5, 2)).toThrow(/non-negative integer/)
  })
})

describe('binomial helpers', () => {
  it('pmf and cdf of Bin(4, 1/2): pmf 1,4,6,4,1 / 16', () => {
    expect(Math.exp(logBinomialHalfPmf(2, 4))).toBeCloseTo(6 / 16, 15)
    expect(Math.exp(logBinomialHalfPmf(1, 4))).toBeCloseTo(4 / 16, 15)
    expect(Math.exp(logBinomialHalfCdf(1, 4))).toBeCloseTo(5 / 16, 15)
    expect(Math.exp(logBinomialHalfCdf(3, 4))).toBeCloseTo(15 / 16, 15)
    expect(logBinomialHalfCdf(4, 4)).toBe(0)
  })
  it('pmf of Bin(40, 1/2) at 17: C(40,17)/2^40 = 88732378800/1099511627776', () => {
    expect(Math.exp(logBinomialHalfPmf(17, 40)) / (88732378800 / 1099511627776)).toBeCloseTo(1, 13)
  })
})

describe('mcnemarPaired', () => {
  it('counts right→wrong and wrong→right', () => {
    // pairs (baseline, current): (1,0) ×3 → b = 3; (0,1) ×1 → c = 1; (1,1) and (0,0) ignored
    const base = [1, 1, 1, 0, 1, 0]
    const cur = [0, 0, 0, 1, 1, 0]
    const r = mcnemarPaired(base, cur)
    expect(r).toMatchObject({b: 3, c: 1, n: 4, total: 6})
    expect(r.pValue).toBeCloseTo(0.625, 14) // 2·(1 + 4)/16
    expect(mcnemarPaired([true, false], [false, true])).toMatchObject({b: 1, c: 1, pValue: 1})
    expect(() => mcnemarPaired([1], [1, 0])).toThrow(/length/)
  })
})
