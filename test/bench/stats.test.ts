import {describe, expect, it} from 'vitest'

import {maxAbsDiff, median, medianOf, relativeSpread, round, summarize} from '../../src/bench/stats.js'

describe('bench statistics', () => {
  it('median of odd and even counts, unsorted input, non-finite values ignored', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([5])).toBe(5)
    expect(median([10, Number.NaN, 1, Number.POSITIVE_INFINITY, 4])).toBe(4)
    const input = [9, 1, 5]
    median(input)
    expect(input).toEqual([9, 1, 5]) // not sorted in place
  })

  it('median of nothing is an error', () => {
    expect(() => median([])).toThrow(RangeError)
    expect(() => median([Number.NaN])).toThrow(RangeError)
    expect(() => summarize([])).toThrow(RangeError)
  })

  it('summarize gives median, mean, range and sample standard deviation', () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9])
    expect(s.n).toBe(8)
    expect(s.median).toBe(4.5)
    expect(s.mean).toBe(5)
    expect(s.min).toBe(2)
    expect(s.max).toBe(9)
    expect(s.stdev).toBeCloseTo(Math.sqrt(32 / 7), 12)
    expect(summarize([3]).stdev).toBe(0)
  })

  it('relativeSpread is (max - min) / median', () => {
    expect(relativeSpread(summarize([9, 10, 11]))).toBeCloseTo(0.2, 12)
    expect(relativeSpread(summarize([7]))).toBe(0)
    expect(relativeSpread(summarize([0, 0]))).toBe(0)
  })

  it('medianOf picks a field and skips missing values', () => {
    const items = [{v: 3}, {v: undefined}, {v: 1}, {v: 2}]
    expect(medianOf(items, (i) => i.v)).toBe(2)
    expect(medianOf([{v: undefined}], (i) => i.v)).toBeUndefined()
    expect(medianOf([], () => 1)).toBeUndefined()
  })

  it('round and maxAbsDiff', () => {
    expect(round(1.23456, 2)).toBe(1.23)
    expect(round(2.5, 0)).toBe(3)
    expect(maxAbsDiff([1, 2, 3], Float32Array.from([1, 2.5, 2]))).toBe(1)
    expect(maxAbsDiff([], [])).toBe(0)
    expect(maxAbsDiff([Number.NaN], [0])).toBe(Number.POSITIVE_INFINITY)
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(RangeError)
  })
})
