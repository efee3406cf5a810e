import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {benchPreprocess, benchResize} from '../../src/image/bench.js'
import {FIXTURES} from './helpers.js'

// Smoke test only: the numbers themselves are machine-dependent and not asserted.
describe('benchmark helpers', () => {
  it('benchPreprocess reports a throughput', async () => {
    const r = await benchPreprocess([join(FIXTURES, 'aligned-100.jpg'), join(FIXTURES, 'small-57x75.png')], 1, {concurrency: 2, warmup: 0})
    expect(r.images).toBe(2)
    expect(r.imagesPerSecond).toBeGreaterThan(0)
    expect(r.concurrentImagesPerSecond).toBeGreaterThan(0)
    expect(r.decodeMs + r.resizeMs + r.tensorMs).toBeGreaterThan(0)
    await expect(benchPreprocess([], 1)).rejects.toThrow(RangeError)
  })

  it('benchResize reports a throughput', () => {
    expect(benchResize(64, 48, 2).imagesPerSecond).toBeGreaterThan(0)
  })
})
