import {describe, expect, it} from 'vitest'

import {bootstrapAccuracyCI, mulberry32, quantileSorted} from '../../src/metrics/bootstrap.js'

describe('mulberry32', () => {
  it('matches an independent implementation of the reference algorithm', () => {
    // Values from a separate Python transcription of mulberry32 (32-bit wrapping arithmetic).
    const r0 = mulberry32(0)
    expect([r0(), r0(), r0()]).toEqual([0.26642920868471265, 0.0003297457005828619, 0.2232720274478197])
    const r42 = mulberry32(42)
    expect([r42(), r42(), r42()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099])
  })
  it('stays in [0, 1)', () => {
    const r = mulberry32(123)
    for (let i = 0; i < 10000; i++) {
      const x = r()
      expect(x >= 0 && x < 1).toBe(true)
    }
  })
})

describe('quantileSorted', () => {
  it('interpolates linearly (numpy default)', () => {
    // [1, 2, 3, 4]: q .5 → h = 1.5 → 2 + .5·(3 − 2) = 2.5;  q .25 → h = .75 → 1.75;  q 1 → 4
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75)
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4)
    expect(quantileSorted([7], 0.3)).toBe(7)
  })
})

describe('bootstrapAccuracyCI', () => {
  // 1000 images, 800 correct: accuracy .8, standard error sqrt(.8·.2/1000) = 0.01265,
  // so the 95% interval is about .8 ± 1.96·0.01265 = [.775, .825].
  const correct = new Uint8Array(1000)
  for (let i = 0; i < 800; i++) correct[(i * 7) % 1000] = 1

  it('is deterministic for a seed and contains the accuracy', () => {
    const a = bootstrapAccuracyCI(correct, {seed: 7})
    const b = bootstrapAccuracyCI(correct, {seed: 7})
    expect(a).toEqual(b)
    expect(a[0]).toBeLessThan(0.8)
    expect(a[1]).toBeGreaterThan(0.8)
    expect(a[0]).toBeGreaterThan(0.765)
    expect(a[0]).toBeLessThan(0.785)
    expect(a[1]).toBeGreaterThan(0.815)
    expect(a[1]).toBeLessThan(0.835)
  })

  it('depends on the seed and defaults to seed 0', () => {
    expect(bootstrapAccuracyCI(correct)).toEqual(bootstrapAccuracyCI(correct, {seed: 0, resamples: 1000, level: 0.95}))
    expect(bootstrapAccuracyCI(correct, {seed: 1})).not.toEqual(bootstrapAccuracyCI(correct, {seed: 2}))
  })

  it('is narrower at a lower level', () => {
    const [lo, hi] = bootstrapAccuracyCI(correct, {level: 0.5})
    const [lo95, hi95] = bootstrapAccuracyCI(correct)
    expect(lo).toBeGreaterThanOrEqual(lo95)
    expect(hi).toBeLessThanOrEqual(hi95)
  })

  it('collapses to a point when every image agrees, accepts booleans, rejects empty input', () => {
    expect(bootstrapAccuracyCI([true, true, true])).toEqual([1, 1])
    expect(bootstrapAccuracyCI([false, false])).toEqual([0, 0])
    expect(() => bootstrapAccuracyCI([])).toThrow(/empty/)
    expect(() => bootstrapAccuracyCI([true], {resamples: 0})).toThrow(/resamples/)
  })
})
