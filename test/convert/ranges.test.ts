/** Range observers and the agreement figures, on values whose answers are known. */
import {mkdtempSync, rmSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {agreement} from '../../src/convert/agreement.js'
import {calibrationImages, spreadEvenly} from '../../src/convert/calibrate.js'
import {HISTOGRAM_BINS, RangeObserver} from '../../src/convert/ranges.js'
import {writeSyntheticRafdb} from '../../src/datasets/synthetic.js'

const dir = mkdtempSync(join(tmpdir(), 'poster-ranges-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('RangeObserver', () => {
  it('min/max are exact over every batch; percentiles cut the rare tails', () => {
    const o = new RangeObserver()
    // 100 000 values uniform on [0, 1), then one outlier at 50 in a later batch.
    o.observe(Float32Array.from({length: 100_000}, (_, i) => i / 100_000))
    o.observe(Float32Array.of(-0.25, 50))
    expect(o.range('minmax')).toEqual({min: -0.25, max: 50})
    const p = o.range('percentile', 0.999)
    // The outlier doubled the histogram's radius to 64: bins are 128/4096 = 1/32 wide; the 0.999 quantile of
    // the uniform part is 0.999 and the 0.001 quantile 0.001, each within a bin.
    const bin = 128 / HISTOGRAM_BINS
    expect(Math.abs(p.max - 0.999)).toBeLessThan(bin)
    expect(Math.abs(p.min - 0.001)).toBeLessThan(bin)
    expect(o.count).toBe(100_002)
  })

  it('keeps the histogram when its radius grows (merged bins, same quantiles)', () => {
    const a = new RangeObserver()
    const b = new RangeObserver()
    const values = Float32Array.from({length: 20_000}, (_, i) => Math.sin(i) * 3)
    a.observe(values)
    a.observe(Float32Array.of(100))
    b.observe(Float32Array.of(100))
    b.observe(values)
    expect(a.quantile(0.9)).toBeCloseTo(b.quantile(0.9), 1)
    expect(a.quantile(0.9)).toBeCloseTo(3 * Math.sin((0.8 * Math.PI) / 2) , 1)
  })

  it('refuses NaN and infinity (a broken float graph must not become a silent int8 one)', () => {
    expect(() => new RangeObserver().observe(Float32Array.of(1, NaN))).toThrow(/not finite/)
    expect(() => new RangeObserver().observe(Float32Array.of(Infinity))).toThrow(/not finite/)
    expect(() => new RangeObserver().range('minmax')).toThrow(/no values/)
  })
})

describe('agreement', () => {
  it('top-1, the confident subset, logit and landmark errors', () => {
    const reference = {n: 3, classes: 3, logits: Float32Array.of(3, 0, -1, 1, 0.95, 0, 0, 0, 5), landmarks: Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5, 0.5)}
    const candidate = {n: 3, classes: 3, logits: Float32Array.of(2.9, 0.1, -1, 0.8, 1, 0, 0, 0, 5), landmarks: Float32Array.of(0.5, 0.5, 0.5, 0.5 + 3 / 112, 0.5, 0.5)}
    const a = agreement(reference, candidate)
    expect(a.top1).toBeCloseTo(2 / 3, 12)
    // Image 1's margin (0.05) is 5% of its range (1): below 10%, so only images 0 and 2 are confident.
    expect(a.confidentImages).toBe(2)
    expect(a.confidentTop1).toBe(1)
    expect(a.logitMaxAbs).toBeCloseTo(0.2, 6)
    expect(a.logitMeanAbs).toBeCloseTo((0.1 + 0.1 + 0.2 + 0.05) / 9, 6)
    expect(a.landmarkMeanPx).toBeCloseTo(1, 4) // one of three points moved 3 px
    expect(a.landmarkMaxPx).toBeCloseTo(3, 4)
  })
})

describe('calibration images', () => {
  it('a dataset gives its train split; a plain folder gives its images', async () => {
    const raf = join(dir, 'raf')
    await writeSyntheticRafdb(raf, {perClass: 1, train: 5})
    const l = await calibrationImages(raf)
    expect(l.from.layout).toBe('rafdb')
    expect(l.from.split).toBe('train')
    expect(l.paths).toHaveLength(5)
    expect(l.paths.every((p) => /train_\d+_aligned\.jpg$/.test(p))).toBe(true)

    const folder = join(dir, 'folder')
    await mkdir(folder, {recursive: true})
    await writeFile(join(folder, 'x.txt'), 'not an image')
    const {readFile} = await import('node:fs/promises')
    await writeFile(join(folder, 'a.jpg'), await readFile(l.paths[0]!))
    await writeFile(join(folder, 'b.png'), await readFile(l.paths[1]!))
    const f = await calibrationImages(folder)
    expect(f.from.layout).toBe('folder')
    expect(f.paths).toEqual([join(folder, 'a.jpg'), join(folder, 'b.png')])
    await expect(calibrationImages(join(dir, 'missing'))).rejects.toThrow(/missing/)
  })

  it('spreadEvenly picks across the whole listing', () => {
    expect(spreadEvenly([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3)).toEqual([1, 5, 8])
    expect(spreadEvenly([1, 2], 5)).toEqual([1, 2])
  })
})
