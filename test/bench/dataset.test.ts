/**
 * The bench's `dataset` part on a small generated set (the default 20,000 is for `npm run bench`): the set is
 * written once and is clean, the child process reports images/s and its peak RSS, and a set with a planted
 * problem fails the measurement instead of being timed as if clean.
 */
import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {measureDatasetCheck, prepareDatasetSet} from '../../src/bench/dataset.js'
import {benchRows} from '../../src/bench/report.js'
import {runBench} from '../../src/bench/run.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-bench-dataset-'))
})
afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

describe('bench dataset part', () => {
  it('runs dataset check in a child on N generated images: images/s and peak RSS', async () => {
    const model = await writeTinyModel(join(dir, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    const r = await runBench({model, quick: true, workDir: join(dir, 'work'), env: {}, parts: ['dataset'], plan: {datasetImages: 40}})
    expect(r.errors).toEqual([])
    expect(r.settings.datasetImages).toBe(40)
    const d = r.datasetCheck!
    expect(d.images).toBe(40)
    expect(d.imagesPerSecond.median).toBeGreaterThan(0)
    expect(d.peakRssMb).toBeGreaterThan(30)
    expect(d.comparisons).toBeGreaterThan(0)
    const row = benchRows(r).find((x) => x.measurement.startsWith('dataset check'))!
    expect(row.measurement).toBe('dataset check, 40 × 100×100 JPEG (manifest)')
    expect(row.imagesPerSecond).toBe(d.imagesPerSecond.median)
  })

  it('a planted copy is a failed measurement, not a timing', async () => {
    const csv = await prepareDatasetSet(join(dir, 'work2'), 12, () => {})
    const root = join(csv, '..')
    copyFileSync(join(root, 'img/0001.jpg'), join(root, 'img/0002.jpg'))
    await expect(measureDatasetCheck({kind: 'dataset-check', manifest: csv, images: 12})).rejects.toThrow(/found problems in the generated set, which has none: exact_duplicates 1/)
    writeFileSync(csv, readFileSync(csv, 'utf8').split('\n').slice(0, 5).join('\n') + '\n')
    await expect(measureDatasetCheck({kind: 'dataset-check', manifest: csv, images: 12})).rejects.toThrow(/read 4 images; expected 12/)
  })
})
