import {describe, expect, it} from 'vitest'

import {binIndex, calibrationBins, expectedCalibrationError} from '../../src/metrics/calibration.js'

describe('calibration bins', () => {
  it('uses (lower, upper] equal-width bins', () => {
    // 15 bins of width 1/15: 0.4 = 6/15 is the upper edge of bin 5, 1/3 = 5/15 that of bin 4
    expect(binIndex(0.4, 15)).toBe(5)
    expect(binIndex(0.40000001, 15)).toBe(6)
    expect(binIndex(1 / 3, 15)).toBe(4)
    expect(binIndex(1, 15)).toBe(14)
    expect(binIndex(1e-9, 15)).toBe(0)
    // outside (0, 1]: clamped into the first / last bin
    expect(binIndex(0, 15)).toBe(0)
    expect(binIndex(1.0000001, 15)).toBe(14)
    // 4 bins: 0.25 → bin 0, 0.5 → bin 1, 0.75 → bin 2, 0.76 → bin 3
    expect([0.25, 0.5, 0.75, 0.76].map((c) => binIndex(c, 4))).toEqual([0, 1, 2, 3])
  })

  it('computes bin means and ECE on a worked example', () => {
    // 4 bins: (0, .25], (.25, .5], (.5, .75], (.75, 1]
    //   conf  correct  bin
    //   0.2   0        0
    //   0.3   1        1
    //   0.5   0        1
    //   0.9   1        3
    //   0.8   1        3
    //   1.0   0        3
    // bin 0: n 1, conf .2, acc 0            → |0 − .2| = .2
    // bin 1: n 2, conf (.3+.5)/2 = .4, acc .5 → .1
    // bin 2: empty
    // bin 3: n 3, conf (.9+.8+1)/3 = .9, acc 2/3 → |2/3 − .9| = .2333…
    // ECE = (1·.2 + 2·.1 + 3·(0.9 − 2/3)) / 6 = (.2 + .2 + .7) / 6 = 1.1/6
    const bins = calibrationBins([0.2, 0.3, 0.5, 0.9, 0.8, 1.0], [false, true, 0, 1, 1, 0], 4)
    expect(bins.map((b) => b.count)).toEqual([1, 2, 0, 3])
    expect(bins.map((b) => [b.lower, b.upper])).toEqual([[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]])
    expect(bins[0].confidence).toBeCloseTo(0.2, 15)
    expect(bins[0].accuracy).toBe(0)
    expect(bins[1].confidence).toBeCloseTo(0.4, 15)
    expect(bins[1].accuracy).toBe(0.5)
    expect(bins[2]).toEqual({lower: 0.5, upper: 0.75, count: 0, confidence: 0, accuracy: 0})
    expect(bins[3].confidence).toBeCloseTo(0.9, 15)
    expect(bins[3].accuracy).toBeCloseTo(2 / 3, 15)
    expect(expectedCalibrationError(bins)).toBeCloseTo(1.1 / 6, 14)
  })

  it('defaults to 15 bins; perfect calibration gives 0; no samples give 0', () => {
    expect(calibrationBins([0.5], [1])).toHaveLength(15)
    // bin (.466, .533]: conf .5 twice, 1 of 2 right → acc .5 = conf → ECE 0
    expect(expectedCalibrationError(calibrationBins([0.5, 0.5], [1, 0]))).toBe(0)
    expect(expectedCalibrationError(calibrationBins([], []))).toBe(0)
  })

  it('rejects mismatched lengths and bad bin counts', () => {
    expect(() => calibrationBins([0.5], [])).toThrow(/differ/)
    expect(() => calibrationBins([0.5], [1], 0)).toThrow(/nBins/)
  })
})
