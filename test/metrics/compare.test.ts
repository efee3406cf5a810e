import {describe, expect, it} from 'vitest'

import {ComparisonError, compareMetrics, pairPredictions, type PairedCorrectness} from '../../src/metrics/compare.js'
import type {ComparableMetrics} from '../../src/metrics/types.js'

/** A metrics object with the given figures (fractions) and per-class recall/support. */
function metrics(
  fig: {accuracy: number; mca?: number; f1?: number},
  classes: Array<[string, number, number]>, // [name, recall, support]
  extra: Partial<ComparableMetrics> = {},
): ComparableMetrics {
  return {
    accuracy: fig.accuracy,
    mean_class_accuracy: fig.mca ?? fig.accuracy,
    macro_f1: fig.f1 ?? fig.accuracy,
    per_class: classes.map(([name, recall, support]) => ({name, precision: recall, recall, f1: recall, support})),
    labels: classes.map(([name]) => name),
    n_images: classes.reduce((a, [, , s]) => a + s, 0),
    dataset: 'rafdb',
    split: 'test',
    ...extra,
  }
}

/**
 * Pairing over `perClass` images per class. Baseline: the first 10 images of every class wrong (recall .90).
 * `flips[k]` = [wrongToRight, rightToWrong] for class k: images 0..w-1 of the class go wrong → right and the
 * images 10..10+r-1 go right → wrong.
 */
function pairing(perClass: number, flips: Array<[number, number]>): PairedCorrectness {
  const n = perClass * flips.length
  const labels = new Int32Array(n)
  const baseline = new Uint8Array(n)
  const current = new Uint8Array(n)
  flips.forEach(([w2r, r2w], k) => {
    for (let j = 0; j < perClass; j++) {
      const i = k * perClass + j
      labels[i] = k
      baseline[i] = j < 10 ? 0 : 1
      current[i] = j < w2r ? 1 : j >= 10 && j < 10 + r2w ? 0 : baseline[i]
    }
  })
  return {paths: Array.from({length: n}, (_, i) => `img/${i}.jpg`), labels, baseline, current, unpairedBaseline: 0, unpairedCurrent: 0, labelMismatches: 0}
}

const TWO = (r0: number, r1: number): Array<[string, number, number]> => [
  ['Happy', r0, 100],
  ['Sad', r1, 100],
]

describe('compareMetrics: significant drop', () => {
  // 200 images (100 per class), baseline 180 right (90%).
  // Per class 6 right→wrong and 1 wrong→right: b = 12, c = 2 → current (180 − 12 + 2)/200 = 85%, recall 85% each.
  // Overall McNemar: 2·(C(14,0) + C(14,1) + C(14,2))/2^14 = 2·(1 + 14 + 91)/16384 = 212/16384 = 0.012939453125 < .05
  // Per class:       2·(C(7,0) + C(7,1))/2^7 = 2·8/128 = 0.125 ≥ .05 → the 5 pp class drops are noise.
  const base = metrics({accuracy: 0.9}, TWO(0.9, 0.9))
  const cur = metrics({accuracy: 0.85}, TWO(0.85, 0.85))
  const pairs = pairing(100, [
    [1, 6],
    [1, 6],
  ])

  it('fails accuracy, mean class accuracy and macro-F1, with the counts', () => {
    const r = compareMetrics(base, cur, {pairing: pairs})
    expect(r.verdict).toBe('fail')
    const acc = r.checks.find((c) => c.name === 'accuracy')!
    expect(acc).toMatchObject({kind: 'drop', verdict: 'fail', threshold: 0.5})
    expect(acc.baseline).toBeCloseTo(90, 10)
    expect(acc.current).toBeCloseTo(85, 10)
    expect(acc.delta).toBeCloseTo(-5, 10)
    expect(acc.test).toMatchObject({pairs: 200, b: 12, c: 2})
    expect(acc.test!.pValue).toBeCloseTo(0.012939453125, 14)
    expect(acc.detail).toMatch(/12 right→wrong vs 2 wrong→right/)
    expect(r.checks.find((c) => c.name === 'mean_class_accuracy')!.verdict).toBe('fail')
    expect(r.checks.find((c) => c.name === 'macro_f1')!.verdict).toBe('fail')
    for (const name of ['recall:Happy', 'recall:Sad']) {
      const c = r.checks.find((x) => x.name === name)!
      expect(c.verdict).toBe('noise')
      expect(c.test).toMatchObject({pairs: 100, b: 6, c: 1})
      expect(c.test!.pValue).toBeCloseTo(0.125, 14)
    }
    // 180 baseline right: 168 stay right, 12 go wrong; 20 baseline wrong: 2 go right, 18 stay wrong
    expect(r.pairing).toMatchObject({pairs: 200, rightToWrong: 12, wrongToRight: 2, bothRight: 168, bothWrong: 18})
    expect(r.pairing!.pValue).toBeCloseTo(0.012939453125, 14)
    expect(r.thresholds).toEqual({maxDrop: 0.5, maxClassDrop: 2, significance: 0.05})
  })

  it('without pairing, the thresholds alone fail every dropped figure', () => {
    const r = compareMetrics(base, cur)
    expect(r.verdict).toBe('fail')
    expect(r.pairing).toBeNull()
    expect(r.checks.map((c) => [c.name, c.verdict])).toEqual([
      ['accuracy', 'fail'],
      ['mean_class_accuracy', 'fail'],
      ['macro_f1', 'fail'],
      ['recall:Happy', 'fail'],
      ['recall:Sad', 'fail'],
    ])
    expect(r.checks[0].test).toBeUndefined()
  })

  it('a stricter significance level turns the failure into noise', () => {
    // p = 0.0129 is not < 0.01
    const r = compareMetrics(base, cur, {pairing: pairs, thresholds: {significance: 0.01}})
    expect(r.checks[0].verdict).toBe('noise')
    expect(r.verdict).toBe('pass')
  })
})

describe('compareMetrics: drop inside the noise', () => {
  // Per class 3 right→wrong and 1 wrong→right: b = 6, c = 2 → (180 − 6 + 2)/200 = 88%, a 2 pp drop (> 0.5 allowed)
  // McNemar: 2·(C(8,0) + C(8,1) + C(8,2))/2^8 = 2·(1 + 8 + 28)/256 = 74/256 = 0.2890625 ≥ .05 → noise.
  // Per class recall 90% → 88%: exactly the 2 pp allowed → pass.
  const base = metrics({accuracy: 0.9}, TWO(0.9, 0.9))
  const cur = metrics({accuracy: 0.88}, TWO(0.88, 0.88))
  const pairs = pairing(100, [
    [1, 3],
    [1, 3],
  ])

  it('reports noise and passes', () => {
    const r = compareMetrics(base, cur, {pairing: pairs})
    expect(r.verdict).toBe('pass')
    const acc = r.checks[0]
    expect(acc).toMatchObject({name: 'accuracy', verdict: 'noise'})
    expect(acc.test).toMatchObject({b: 6, c: 2})
    expect(acc.test!.pValue).toBeCloseTo(0.2890625, 14)
    expect(acc.detail).toMatch(/not significant/)
    expect(r.checks.find((c) => c.name === 'recall:Happy')!.verdict).toBe('pass')
    expect(r.pairing).toMatchObject({rightToWrong: 6, wrongToRight: 2})
  })

  it('the same drop without pairing fails', () => {
    expect(compareMetrics(base, cur).verdict).toBe('fail')
  })

  it('a drop of exactly maxDrop passes despite float rounding', () => {
    // 513/1000 → 508/1000 is 5 images of 1000 = 0.5 pp, but 0.513·100 − 0.508·100 = 0.5000000000000071 in floats
    const r = compareMetrics(metrics({accuracy: 0.513}, TWO(0.9, 0.9)), metrics({accuracy: 0.508}, TWO(0.9, 0.9)))
    expect(r.checks[0].verdict).toBe('pass')
    expect(r.verdict).toBe('pass')
  })

  it('a drop within maxDrop passes, an improvement passes', () => {
    // 90.0 → 89.6: 0.4 pp ≤ 0.5
    const r = compareMetrics(base, metrics({accuracy: 0.896}, TWO(0.9, 0.9)))
    expect(r.verdict).toBe('pass')
    expect(r.checks[0].delta).toBeCloseTo(-0.4, 10)
    const up = compareMetrics(base, metrics({accuracy: 0.93}, TWO(0.95, 0.91)))
    expect(up.verdict).toBe('pass')
    expect(up.checks[0].delta).toBeCloseTo(3, 10)
    expect(up.checks[0].detail).toMatch(/rose/)
  })
})

describe('compareMetrics: per-class collapse hidden by stable overall accuracy', () => {
  // 3 classes × 100 images, baseline recall 90% each (270/300 = 90%).
  // Current: classes 0 and 1 gain 10 (wrong → right) each, class 2 loses 20 (right → wrong):
  //   recall 100%, 100%, 70%; overall (270 + 20 − 20)/300 = 90%; mean class accuracy (1 + 1 + .7)/3 = 90%.
  // Overall McNemar b = 20, c = 20 → p = 1. Class 2: b = 20, c = 0 → p = 2·2^-20 = 2^-19 ≈ 1.9e-6.
  const classes = (r: number[]): Array<[string, number, number]> => [
    ['Surprise', r[0], 100],
    ['Fear', r[1], 100],
    ['Disgust', r[2], 100],
  ]
  const base = metrics({accuracy: 0.9}, classes([0.9, 0.9, 0.9]))
  const cur = metrics({accuracy: 0.9}, classes([1, 1, 0.7]))
  const pairs = pairing(100, [
    [10, 0],
    [10, 0],
    [0, 20],
  ])

  it('fails on the collapsed class even though accuracy holds (paired)', () => {
    const r = compareMetrics(base, cur, {pairing: pairs})
    expect(r.verdict).toBe('fail')
    expect(r.checks[0]).toMatchObject({name: 'accuracy', verdict: 'pass', delta: 0})
    expect(r.checks[0].test).toMatchObject({b: 20, c: 20, pValue: 1})
    const d = r.checks.find((c) => c.name === 'recall:Disgust')!
    expect(d.verdict).toBe('fail')
    expect(d.delta).toBeCloseTo(-20, 10)
    expect(d.test).toMatchObject({pairs: 100, b: 20, c: 0})
    expect(d.test!.pValue).toBeCloseTo(2 ** -19, 18)
    expect(r.checks.filter((c) => c.verdict === 'fail').map((c) => c.name)).toEqual(['recall:Disgust'])
  })

  it('fails on the collapsed class without pairing too', () => {
    const r = compareMetrics(base, cur)
    expect(r.verdict).toBe('fail')
    expect(r.checks.filter((c) => c.verdict === 'fail').map((c) => c.name)).toEqual(['recall:Disgust'])
  })

  it('skips classes with no baseline images', () => {
    const b = metrics({accuracy: 0.9}, [['A', 0.9, 100], ['B', 0, 0]])
    const c = metrics({accuracy: 0.9}, [['A', 0.9, 100], ['B', 0, 0]])
    expect(compareMetrics(b, c).checks.map((x) => x.name)).toEqual(['accuracy', 'mean_class_accuracy', 'macro_f1', 'recall:A'])
  })
})

describe('compareMetrics: accuracy floor', () => {
  const base = metrics({accuracy: 0.85}, TWO(0.85, 0.85))
  it('fails below minAccuracy even with no drop', () => {
    const r = compareMetrics(base, base, {thresholds: {minAccuracy: 88}})
    expect(r.verdict).toBe('fail')
    const floor = r.checks.at(-1)!
    expect(floor).toMatchObject({name: 'min_accuracy', kind: 'floor', threshold: 88, verdict: 'fail'})
    expect(floor.current).toBeCloseTo(85, 10)
    expect(floor.detail).toMatch(/below the 88.00% floor/)
    expect(r.checks.slice(0, -1).every((c) => c.verdict === 'pass')).toBe(true)
  })
  it('passes at or above the floor', () => {
    expect(compareMetrics(base, base, {thresholds: {minAccuracy: 85}}).verdict).toBe('pass')
    expect(compareMetrics(base, base, {thresholds: {minAccuracy: 80}}).checks.at(-1)!.verdict).toBe('pass')
  })
  it('rejects nonsense thresholds', () => {
    expect(() => compareMetrics(base, base, {thresholds: {minAccuracy: 0.85 * 1000}})).toThrow(/percentage/)
    expect(() => compareMetrics(base, base, {thresholds: {maxDrop: -1}})).toThrow(/maxDrop/)
    expect(() => compareMetrics(base, base, {thresholds: {significance: 0}})).toThrow(/significance/)
  })
})

describe('compareMetrics: runs that cannot be compared', () => {
  const base = metrics({accuracy: 0.9}, TWO(0.9, 0.9))
  it('throws ComparisonError on different label sets', () => {
    const cur = metrics({accuracy: 0.9}, [['Happy', 0.9, 100], ['Sad', 0.9, 100], ['Anger', 0.9, 100]])
    expect(() => compareMetrics(base, cur)).toThrow(ComparisonError)
    expect(() => compareMetrics(base, cur)).toThrow(/labels: \[Happy, Sad\] vs \[Happy, Sad, Anger\]/)
  })
  it('names dataset and split differences, all of them', () => {
    const cur = metrics({accuracy: 0.9}, TWO(0.9, 0.9), {dataset: 'affectnet7', split: 'val'})
    try {
      compareMetrics(base, cur)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ComparisonError)
      expect((e as ComparisonError).differences).toEqual(['dataset: "rafdb" vs "affectnet7"', 'split: "test" vs "val"'])
    }
  })
  it('says when the classes are the same but in another order', () => {
    const cur = metrics({accuracy: 0.9}, [['Sad', 0.9, 100], ['Happy', 0.9, 100]])
    expect(() => compareMetrics(base, cur)).toThrow(/same classes, different order/)
  })
  it('accepts synonyms of the same class names', () => {
    const cur = metrics({accuracy: 0.9}, [['happiness', 0.9, 100], ['Sadness', 0.9, 100]])
    expect(compareMetrics(base, cur).verdict).toBe('pass')
  })
})

describe('pairPredictions', () => {
  it('pairs by normalised path and counts what it could not pair', () => {
    const p = pairPredictions(
      [
        {path: 'a/1.jpg', label: 0, correct: true},
        {path: './a/2.jpg', label: 1, correct: false},
        {path: 'a\\3.jpg', label: 0, correct: 1},
        {path: 'b/only-baseline.jpg', label: 0, correct: 1},
      ],
      [
        {path: 'a/1.jpg', label: 0, predicted: 1}, // wrong now: right → wrong
        {path: 'a/2.jpg', label: 1, predicted: 1}, // right now: wrong → right
        {path: 'a/3.jpg', label: 1, predicted: 1}, // same image, another true label: left out
        {path: 'c/only-current-1.jpg', label: 0, predicted: 0},
        {path: 'c/only-current-2.jpg', label: 0, predicted: 0},
      ],
    )
    expect(p.paths).toEqual(['a/1.jpg', 'a/2.jpg'])
    expect(Array.from(p.labels)).toEqual([0, 1])
    expect(Array.from(p.baseline)).toEqual([1, 0])
    expect(Array.from(p.current)).toEqual([0, 1])
    expect(p).toMatchObject({unpairedBaseline: 1, unpairedCurrent: 2, labelMismatches: 1})

    const r = compareMetrics(metrics({accuracy: 0.5}, TWO(0.5, 0.5)), metrics({accuracy: 0.5}, TWO(0.5, 0.5)), {pairing: p})
    expect(r.pairing).toMatchObject({pairs: 2, rightToWrong: 1, wrongToRight: 1, unpairedBaseline: 1, unpairedCurrent: 2, labelMismatches: 1})
    expect(r.warnings.join('\n')).toMatch(/1 baseline and 2 current images could not be paired/)
    expect(r.warnings.join('\n')).toMatch(/different true label/)
  })
  it('refuses a path listed twice', () => {
    expect(() =>
      pairPredictions(
        [
          {path: 'x.jpg', label: 0, correct: 1},
          {path: './x.jpg', label: 0, correct: 0},
        ],
        [],
      ),
    ).toThrow(ComparisonError)
  })
  it('with no pairs at all, falls back to the thresholds and warns', () => {
    const p = pairPredictions([{path: 'x.jpg', label: 0, correct: 1}], [{path: 'y.jpg', label: 0, correct: 1}])
    const r = compareMetrics(metrics({accuracy: 0.9}, TWO(0.9, 0.9)), metrics({accuracy: 0.8}, TWO(0.9, 0.9)), {pairing: p})
    expect(r.pairing).toBeNull()
    expect(r.checks[0].verdict).toBe('fail')
    expect(r.warnings[0]).toMatch(/could be paired/)
  })
})
