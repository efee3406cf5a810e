/**
 * The benchmark's predict measurement on a tiny model (test/helpers/tiny-model.ts) and a handful of generated
 * images: the measurement's shape and the row check, never the speeds.
 */
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {measurePredict, runJob, type PredictMeasurement} from '../../src/bench/measure.js'
import {benchRows} from '../../src/bench/report.js'
import {predictEntry} from '../../src/bench/entries.js'
import {benchPlan, PREDICT_BATCH} from '../../src/bench/plan.js'
import {preparePredictFolder} from '../../src/bench/prepare.js'
import {runBench} from '../../src/bench/run.js'
import type {Sample} from '../../src/bench/types.js'
import {formatTable} from '../../src/bench/table.js'
import {RAFDB} from '../../src/datasets/labels.js'
import {writeSyntheticFolder} from '../../src/datasets/synthetic.js'
import {predictColumns} from '../../src/report/predictions-csv.js'
import {SEVEN_CLASS_SPEC, writeTinyModel, type TinyModelSpec} from '../helpers/tiny-model.js'

const SPEC: TinyModelSpec = {...SEVEN_CLASS_SPEC, landmarks: true}

const IMAGES = 5

let dir: string
let model: string
let plain: string
let folder: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-bench-predict-test-'))
  model = await writeTinyModel(join(dir, 'tiny-lm.onnx'), SPEC)
  plain = await writeTinyModel(join(dir, 'tiny.onnx'), {...SPEC, landmarks: false})
  folder = join(dir, 'faces')
  await writeSyntheticFolder(folder, IMAGES, {seed: 3})
})

afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

const positive = (x: unknown) => expect(typeof x === 'number' && Number.isFinite(x) && x > 0, `${String(x)} > 0`).toBe(true)

describe('synthetic folder', () => {
  it('writes count 100×100 JPEGs, flat, deterministic for a seed', async () => {
    const files = (await readdir(folder)).sort()
    expect(files).toEqual(['face_0001.jpg', 'face_0002.jpg', 'face_0003.jpg', 'face_0004.jpg', 'face_0005.jpg'])
    const {loadSharp} = await import('../../src/image/sharp.js')
    const sharp = await loadSharp()
    expect(await sharp(join(folder, files[0]!)).metadata()).toMatchObject({format: 'jpeg', width: 100, height: 100})
    const again = join(dir, 'faces-again')
    await writeSyntheticFolder(again, 2, {seed: 3})
    expect(await readFile(join(again, 'face_0002.jpg'))).toEqual(await readFile(join(folder, 'face_0002.jpg')))
  })
})

describe('predict measurement (in process)', () => {
  it('runs predict end to end with landmark columns and reads the rows back', async () => {
    const m = await measurePredict({kind: 'predict', folder, model, batch: 2, expectRows: IMAGES})
    expect(m).toMatchObject({kind: 'predict', batch: 2, images: IMAGES, rows: IMAGES, ok: IMAGES, landmarks: true})
    expect(m.landmarksNote).toBeUndefined()
    expect(m.columns).toBe(predictColumns(RAFDB.names, {landmarks: true}).length)
    for (const k of ['csvBytes', 'seconds', 'imagesPerSecond', 'msPerImage', 'setupSeconds', 'batchSeconds', 'batchImagesPerSecond', 'pipelineImagesPerSecond'] as const) {
      positive(m[k])
    }
    expect(m.finishSeconds).toBeGreaterThanOrEqual(0)
    expect(m.setupSeconds + m.batchSeconds + m.finishSeconds).toBeCloseTo(m.seconds, 3)
  })

  it('defaults to batch 32; a model without landmarks runs without the columns, saying why', async () => {
    const m = (await runJob({kind: 'predict', folder, model: plain})) as PredictMeasurement
    expect(m).toMatchObject({kind: 'predict', batch: 32, rows: IMAGES, landmarks: false})
    expect(m.landmarksNote).toMatch(/landmarks/)
    expect(m.columns).toBe(predictColumns(RAFDB.names).length)
  })

  it('fails when the CSV does not hold the expected rows', async () => {
    await expect(measurePredict({kind: 'predict', folder, model, expectRows: IMAGES + 1})).rejects.toThrow(/wrote 5 rows .*expected 6/)
  })
})

describe('predict in the benchmark', () => {
  it('plans 1000 images (100 with --quick), once whatever --runs', () => {
    expect(benchPlan({runs: 3}, 2)).toMatchObject({predictImages: 1000, predictRuns: 1})
    expect(benchPlan({quick: true}, 2)).toMatchObject({predictImages: 100, predictRuns: 1})
    expect(benchPlan({plan: {predictImages: 4, predictRuns: 2}}, 2)).toMatchObject({predictImages: 4, predictRuns: 2})
  })

  it('keeps medians and the batch-phase ratio to model-only', () => {
    const s = (run: number, ips: number): Sample<PredictMeasurement> => ({
      kind: 'predict', batch: 32, images: 100, rows: 100, ok: 100, landmarks: true, columns: 149, csvBytes: 1000,
      seconds: 100 / ips, imagesPerSecond: ips, msPerImage: 1000 / ips, setupSeconds: 1, batchSeconds: 8, batchImagesPerSecond: 12.5,
      finishSeconds: 0.1, pipelineImagesPerSecond: 12.4, run, peakRssMb: 900 + run, wallSeconds: 10,
    })
    const e = predictEntry('100x100', '/f', [s(1, 10), s(2, 11), s(3, 9)], 25)!
    expect(e.imagesPerSecond.median).toBe(10)
    expect(e.msPerImage).toBe(100)
    expect(e.peakRssMb).toBe(902)
    expect(e.batchRatioToModel).toBeCloseTo(0.5, 9)
    expect(predictEntry('100x100', '/f', [], 25)).toBeUndefined()
    expect(predictEntry('100x100', '/f', [s(1, 10)], undefined)!.batchRatioToModel).toBeUndefined()
  })

  it('runBench: the folder is written once, predict runs once in a child, a table row and a JSON section', async () => {
    const workDir = join(dir, 'work')
    const messages: string[] = []
    const r = await runBench({
      model,
      runs: 2,
      workDir,
      env: {},
      parts: ['predict'],
      plan: {predictImages: 4},
      onStatus: (m) => messages.push(m),
    })
    expect(r.errors).toEqual([])
    expect(r.settings).toMatchObject({runs: 2, predictImages: 4, predictRuns: 1})
    const p = r.predict!
    expect(p).toMatchObject({size: '100x100', batch: PREDICT_BATCH, images: 4, rows: 4, landmarks: true})
    expect(p.samples).toHaveLength(1)
    positive(p.imagesPerSecond.median)
    positive(p.batchImagesPerSecond)
    positive(p.peakRssMb)
    expect(p.batchRatioToModel).toBeUndefined() // no model-only part here
    expect(messages.filter((m) => m.includes('writing a folder of 4'))).toHaveLength(1)
    expect(messages.filter((m) => m.includes('] predict 4 ×'))).toHaveLength(1)

    const rows = benchRows(r)
    const row = rows.find((x) => x.measurement === 'predict 4 × 100×100 JPEG folder')!
    expect(row).toMatchObject({batch: 32})
    expect(row.notes).toMatch(/^4 CSV rows checked \(\+landmarks/)
    expect(formatTable(rows).split('\n')).toHaveLength(rows.length + 2)
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)

    // The folder is cached: a second preparation writes nothing.
    const again: string[] = []
    expect(await preparePredictFolder(workDir, 4, (m) => again.push(m))).toBe(p.folder)
    expect(again).toEqual([])
  })
})
