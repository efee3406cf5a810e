import {describe, expect, it} from 'vitest'

import {
  argmax,
  computeClassificationMetrics,
  confusionMatrix,
  perClassMetrics,
  predictClasses,
  softmax,
} from '../../src/metrics/classification.js'

// Worked example: 3 classes, 6 images.
//   i  label  probs               pred  correct  conf  p_true
//   0  0      [0.7, 0.2, 0.1]     0     yes      0.7   0.7
//   1  0      [0.3, 0.6, 0.1]     1     no       0.6   0.3
//   2  1      [0.1, 0.8, 0.1]     1     yes      0.8   0.8
//   3  1      [0.25, 0.25, 0.5]   2     no       0.5   0.25
//   4  2      [0.2, 0.2, 0.6]     2     yes      0.6   0.6
//   5  0      [0.4, 0.4, 0.2]     0     yes      0.4   0.4    (tie 0.4/0.4 → lowest index)
const NAMES = ['A', 'B', 'C']
const LABELS = [0, 0, 1, 1, 2, 0]
const ROWS = [
  [0.7, 0.2, 0.1],
  [0.3, 0.6, 0.1],
  [0.1, 0.8, 0.1],
  [0.25, 0.25, 0.5],
  [0.2, 0.2, 0.6],
  [0.4, 0.4, 0.2],
]

describe('argmax', () => {
  it('returns the first of tied maxima', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1)
    expect(argmax([5, 5, 5])).toBe(0)
    expect(argmax([-2, -1, -3])).toBe(1)
  })
  it('works on a slice, relative to its start', () => {
    // row 1 of [[9, 0], [1, 2]] is [1, 2] → index 1
    expect(argmax([9, 0, 1, 2], 2, 4)).toBe(1)
  })
  it('lets any number beat NaN', () => {
    expect(argmax([NaN, 1, 2])).toBe(2)
  })
})

describe('softmax', () => {
  it('matches exp(x)/Σexp(x) on a hand example', () => {
    // softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
    const p = softmax([0, Math.log(2), Math.log(3)], 3)
    expect(p[0]).toBeCloseTo(1 / 6, 14)
    expect(p[1]).toBeCloseTo(2 / 6, 14)
    expect(p[2]).toBeCloseTo(3 / 6, 14)
  })
  it('does not overflow on large logits and handles several rows', () => {
    // row 0: [1000, 1000 + ln 3] → [1/4, 3/4]; row 1: [-1000, -1000] → [1/2, 1/2]
    const p = softmax(new Float32Array([1000, 1000 + Math.log(3), -1000, -1000]), 2)
    expect(p).toBeInstanceOf(Float64Array)
    expect(p[0]).toBeCloseTo(0.25, 4) // float32 input rounds 1000 + ln 3
    expect(p[1]).toBeCloseTo(0.75, 4)
    expect(p[2]).toBe(0.5)
    expect(p[3]).toBe(0.5)
  })
  it('accepts rows and rejects a size that does not fit C', () => {
    const p = softmax([[0, 0, 0, 0]], 4)
    expect(Array.from(p)).toEqual([0.25, 0.25, 0.25, 0.25])
    expect(() => softmax([1, 2, 3], 2)).toThrow(/rows of 2/)
  })
  it('handles -Infinity entries and rejects NaN', () => {
    const p = softmax([0, -Infinity], 2)
    expect(Array.from(p)).toEqual([1, 0])
    expect(() => softmax([0, NaN], 2)).toThrow(/NaN/)
    expect(() => softmax([-Infinity, -Infinity], 2)).toThrow(/-Infinity/)
  })
})

describe('confusion and per-class metrics', () => {
  it('counts[true][pred] and row normalisation', () => {
    // predictions of the worked example: [0, 1, 1, 2, 2, 0]
    expect(Array.from(predictClasses(ROWS, 3))).toEqual([0, 1, 1, 2, 2, 0])
    const cm = confusionMatrix(LABELS, [0, 1, 1, 2, 2, 0], 3)
    // class 0 (images 0, 1, 5) predicted 0, 1, 0; class 1 (2, 3) predicted 1, 2; class 2 (4) predicted 2
    expect(cm.counts).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ])
    expect(cm.normalized[0][0]).toBeCloseTo(2 / 3, 15)
    expect(cm.normalized[0][1]).toBeCloseTo(1 / 3, 15)
    expect(cm.normalized[1]).toEqual([0, 0.5, 0.5])
    expect(cm.normalized[2]).toEqual([0, 0, 1])
  })
  it('gives precision 0 (not NaN) for a class never predicted, and 0 for an empty row', () => {
    // labels [0, 1], predictions [0, 0]: counts [[1, 0], [1, 0]]
    //   class 0: TP 1, predicted 2, support 1 → P 1/2, R 1, F1 = 2·(1/2)·1 / (3/2) = 2/3
    //   class 1: TP 0, predicted 0 → P 0 (by convention), R 0/1 = 0, F1 0
    const cm = confusionMatrix([0, 1], [0, 0], 3)
    const m = perClassMetrics(cm.counts, ['a', 'b', 'c'])
    expect(m[0].precision).toBe(0.5)
    expect(m[0].recall).toBe(1)
    expect(m[0].f1).toBeCloseTo(2 / 3, 15)
    expect(m[1]).toEqual({name: 'b', precision: 0, recall: 0, f1: 0, support: 1})
    // class c: no images, never predicted: everything 0, and its normalised row is all 0
    expect(m[2]).toEqual({name: 'c', precision: 0, recall: 0, f1: 0, support: 0})
    expect(cm.normalized[2]).toEqual([0, 0, 0])
  })
})

describe('computeClassificationMetrics', () => {
  it('reproduces the worked example', () => {
    const m = computeClassificationMetrics({labels: LABELS, probs: ROWS, classNames: NAMES})
    expect(m.n_images).toBe(6)
    // 4 of 6 correct (images 0, 2, 4, 5)
    expect(m.accuracy).toBeCloseTo(4 / 6, 15)
    // class A: TP 2, support 3, predicted 2 (col 0 = 2 + 0 + 0) → P 1,   R 2/3, F1 = 2·1·(2/3)/(5/3) = 4/5
    // class B: TP 1, support 2, predicted 2 (col 1 = 1 + 1 + 0) → P 1/2, R 1/2, F1 = 1/2
    // class C: TP 1, support 1, predicted 2 (col 2 = 0 + 1 + 1) → P 1/2, R 1,   F1 = 2·(1/2)·1/(3/2) = 2/3
    const [a, b, c] = m.per_class
    expect(a).toMatchObject({name: 'A', precision: 1, support: 3})
    expect(a.recall).toBeCloseTo(2 / 3, 15)
    expect(a.f1).toBeCloseTo(0.8, 15)
    expect(b).toMatchObject({name: 'B', precision: 0.5, recall: 0.5, f1: 0.5, support: 2})
    expect(c).toMatchObject({name: 'C', precision: 0.5, recall: 1, support: 1})
    expect(c.f1).toBeCloseTo(2 / 3, 15)
    // mean class accuracy = (2/3 + 1/2 + 1) / 3 = (13/6) / 3 = 13/18
    expect(m.mean_class_accuracy).toBeCloseTo(13 / 18, 15)
    // macro-F1 = (4/5 + 1/2 + 2/3) / 3 = (24 + 15 + 20)/30 / 3 = 59/90
    expect(m.macro_f1).toBeCloseTo(59 / 90, 15)
    // NLL = −(ln .7 + ln .3 + ln .8 + ln .25 + ln .6 + ln .4)/6 = −ln(0.01008)/6
    //   (.7·.3 = .21, ·.8 = .168, ·.25 = .042, ·.6 = .0252, ·.4 = .01008)
    expect(m.nll).toBeCloseTo(-Math.log(0.01008) / 6, 14)
    // ECE, 15 bins (k/15, (k+1)/15]:
    //   0.4 → bin 5 (1/3, 0.4]: 1 image, acc 1, conf .4   → |1 − .4| = .6
    //   0.5 → bin 7 (.467, .533]: 1 image, acc 0, conf .5 → .5
    //   0.6 → bin 8 (.533, 0.6]: 2 images (1 right), acc .5, conf .6 → .1
    //   0.7 → bin 10: 1 image, acc 1 → .3;   0.8 → bin 11: 1 image, acc 1 → .2
    //   ECE = (1·.6 + 1·.5 + 2·.1 + 1·.3 + 1·.2) / 6 = 1.8 / 6 = 0.3
    expect(m.ece).toBeCloseTo(0.3, 14)
    expect(m.confusion.counts).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ])
    const [lo, hi] = m.accuracy_ci95
    expect(lo).toBeLessThanOrEqual(4 / 6)
    expect(hi).toBeGreaterThanOrEqual(4 / 6)
    expect(lo).toBeGreaterThanOrEqual(0)
    expect(hi).toBeLessThanOrEqual(1)
  })

  it('accepts a flat Float32Array the same as rows', () => {
    const flat = new Float32Array(ROWS.flat())
    const m = computeClassificationMetrics({labels: LABELS, probs: flat, classNames: NAMES})
    expect(m.accuracy).toBeCloseTo(4 / 6, 15)
    expect(m.macro_f1).toBeCloseTo(59 / 90, 15)
    // float32 rounding of the probabilities moves the NLL only in the 7th digit
    expect(m.nll).toBeCloseTo(-Math.log(0.01008) / 6, 6)
    expect(m.ece).toBeCloseTo(0.3, 6)
  })

  it('averages mean class accuracy and macro-F1 over classes with images only', () => {
    // labels [0, 0, 1, 1], predictions [0, 2, 1, 1]; class 2 has no images but is predicted once.
    //   class 0: P 1/1, R 1/2 → F1 = 2·1·.5/1.5 = 2/3;  class 1: P 1, R 1, F1 1;  class 2: P 0, R 0, F1 0
    //   mean class accuracy = (1/2 + 1)/2 = 3/4;  macro-F1 = (2/3 + 1)/2 = 5/6
    //   (sklearn's default, over y ∪ ŷ = {0, 1, 2}, would give (2/3 + 1 + 0)/3 = 5/9)
    const probs = [
      [0.9, 0.05, 0.05],
      [0.1, 0.1, 0.8],
      [0.1, 0.8, 0.1],
      [0.2, 0.7, 0.1],
    ]
    const m = computeClassificationMetrics({labels: [0, 0, 1, 1], probs, classNames: ['x', 'y', 'z']})
    expect(m.accuracy).toBe(0.75)
    expect(m.mean_class_accuracy).toBe(0.75)
    expect(m.macro_f1).toBeCloseTo(5 / 6, 15)
    expect(m.per_class[2]).toEqual({name: 'z', precision: 0, recall: 0, f1: 0, support: 0})
  })

  it('clamps p_true at 1e-12 in the NLL', () => {
    // p_true = 0 → −ln(1e-12) = 12·ln 10 ≈ 27.631
    const m = computeClassificationMetrics({labels: [1], probs: [[1, 0]], classNames: ['a', 'b']})
    expect(m.nll).toBeCloseTo(12 * Math.LN10, 12)
    expect(m.accuracy).toBe(0)
  })

  it('rejects bad input', () => {
    expect(() => computeClassificationMetrics({labels: [0, 3], probs: [[1, 0], [0, 1]], classNames: ['a', 'b']})).toThrow(/label 1 is 3/)
    expect(() => computeClassificationMetrics({labels: [0], probs: [[1, 0], [0, 1]], classNames: ['a', 'b']})).toThrow(/1 labels but 2/)
    expect(() => computeClassificationMetrics({labels: [0], probs: [[NaN, 0]], classNames: ['a', 'b']})).toThrow(/not finite/)
    expect(() => computeClassificationMetrics({labels: [], probs: [], classNames: ['a', 'b']})).toThrow(/no images/)
    expect(() => computeClassificationMetrics({labels: [0], probs: [[1, 0, 0]], classNames: ['a', 'b']})).toThrow(/3 values, expected 2/)
  })
})
