/**
 * Smoke runs of the benchmark's pieces on a tiny model (test/helpers/tiny-model.ts) and a tiny synthetic
 * RAF-DB set: the result shapes, never the speeds.
 */
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runInChild} from '../../src/bench/child.js'
import {
  callsFor,
  measureConvert,
  measureEval,
  measureModel,
  measurePair,
  measureParity,
  measurePreprocess,
  randomInput,
  runJob,
  type ModelMeasurement,
} from '../../src/bench/measure.js'
import {benchRows} from '../../src/bench/report.js'
import {evalEntry, int8Entry, modelEntry} from '../../src/bench/entries.js'
import {benchPlan} from '../../src/bench/plan.js'
import {runBench} from '../../src/bench/run.js'
import type {Sample} from '../../src/bench/types.js'
import {formatTable} from '../../src/bench/table.js'
import {writeSyntheticRafdb} from '../../src/datasets/synthetic.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const SPEC = SEVEN_CLASS_SPEC

let dir: string
let model: string
let other: string
let dataset: string
let images: string[]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-bench-test-'))
  model = await writeTinyModel(join(dir, 'tiny.onnx'), SPEC)
  other = await writeTinyModel(join(dir, 'tiny-b.onnx'), {...SPEC, bias: [0.5, 0, 0, 0, 0, 0, 1]})
  dataset = join(dir, 'raf')
  await writeSyntheticRafdb(dataset, {perClass: 1, seed: 7})
  const aligned = join(dataset, 'Image', 'aligned')
  images = (await readdir(aligned)).map((f) => join(aligned, f))
})

afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

const positive = (x: unknown) => expect(typeof x === 'number' && Number.isFinite(x) && x > 0, `${String(x)} > 0`).toBe(true)

describe('bench measurements (in process)', () => {
  it('helpers: whole batches, deterministic random input', () => {
    expect(callsFor(32, 8)).toBe(4)
    expect(callsFor(33, 8)).toBe(5)
    expect(callsFor(8, 32)).toBe(1)
    const a = randomInput(1000)
    expect(a).toEqual(randomInput(1000))
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-2)
    expect(Math.max(...a)).toBeLessThan(2)
  })

  it('model-only: whole batches after a warm-up, session time apart', async () => {
    const m = await measureModel({kind: 'model', model, batch: 2, images: 3})
    expect(m).toMatchObject({kind: 'model', batch: 2, images: 4, calls: 2})
    for (const k of ['sessionMs', 'warmupMs', 'seconds', 'imagesPerSecond', 'msPerImage', 'callMsMedian'] as const) positive(m[k])
  })

  it('decode + preprocess', async () => {
    const p = await measurePreprocess({kind: 'preprocess', paths: images.slice(0, 3), iterations: 2, concurrency: 2})
    expect(p).toMatchObject({kind: 'preprocess', images: 6, concurrency: 2})
    for (const k of ['imagesPerSecond', 'msPerImage', 'concurrentImagesPerSecond', 'decodeMs', 'resizeMs', 'tensorMs'] as const) positive(p[k])
  })

  it('eval end to end, split into setup / batches / reports', async () => {
    const e = await measureEval({kind: 'eval', dataset, model, batch: 4})
    expect(e).toMatchObject({kind: 'eval', batch: 4, images: 7})
    for (const k of ['seconds', 'imagesPerSecond', 'msPerImage', 'setupSeconds', 'classifySeconds', 'finishSeconds', 'classifyImagesPerSecond', 'inferenceSeconds'] as const) {
      positive(e[k])
    }
    expect(e.setupSeconds + e.classifySeconds + e.finishSeconds).toBeCloseTo(e.seconds, 3)
    expect(e.preprocessWaitSeconds).toBeGreaterThanOrEqual(0)
  })

  it('fp16-style parity between two models', async () => {
    const p = await measureParity({kind: 'parity', fp32: model, fp16: other, batch: 2})
    expect(p.batch).toBe(2)
    expect(p.logitsFp32).toHaveLength(14)
    expect(p.maxAbsDiff).toBeCloseTo(0.5, 4)
    expect(p.argmaxAgreement).toBeGreaterThanOrEqual(0)
    positive(p.fp32Bytes)
    positive(p.fp16Bytes)
    const same = await runJob({kind: 'parity', fp32: model, fp16: model, batch: 1})
    expect(same).toMatchObject({kind: 'parity', maxAbsDiff: 0, argmaxAgreement: 1})
  })

  it('conversion of the deterministic POSTER++ (float16), file removed afterwards', async () => {
    const out = join(dir, 'conv.onnx')
    const c = await measureConvert({kind: 'convert', out, dtype: 'float16', classes: 7, remove: true})
    expect(c).toMatchObject({kind: 'convert', source: 'deterministic', dtype: 'float16'})
    positive(c.seconds)
    expect(c.bytes).toBeGreaterThan(80e6)
    expect((await readdir(dir)).includes('conv.onnx')).toBe(false)
  })

  it('paired float32/int8 speed: both models, alternating calls, the median per-pair ratio', async () => {
    const m = await measurePair({kind: 'pair', float32: model, int8: other, batch: 2, images: 6})
    expect(m).toMatchObject({kind: 'pair', batch: 2, calls: 3})
    for (const side of [m.float32, m.int8]) for (const k of ['imagesPerSecond', 'callMsMedian', 'sessionMs'] as const) positive(side[k])
    positive(m.speedup)
  })

  it('a job in a child process reports its own peak RSS', async () => {
    const r = await runInChild<ModelMeasurement>({kind: 'model', model, batch: 1, images: 1})
    expect(r.measurement.kind).toBe('model')
    positive(r.measurement.imagesPerSecond)
    positive(r.peakRssMb)
    positive(r.wallSeconds)
    await expect(runInChild({kind: 'model', model: join(dir, 'missing.onnx'), batch: 1, images: 1})).rejects.toThrow(/model job failed/)
  })
})

describe('bench aggregation and report', () => {
  const sample = (run: number, ips: number): Sample<ModelMeasurement> => ({
    kind: 'model', batch: 8, images: 32, calls: 4, sessionMs: 500 + run, warmupMs: 900, seconds: 32 / ips,
    imagesPerSecond: ips, msPerImage: 1000 / ips, callMsMedian: 8000 / ips, run, peakRssMb: 700 + run, wallSeconds: 5,
  })

  it('keeps medians over runs and the eval / model-only ratio', () => {
    const m = modelEntry('converted', 8, [sample(1, 10), sample(2, 12), sample(3, 11)])!
    expect(m.imagesPerSecond.median).toBe(11)
    expect(m.msPerImage).toBeCloseTo(1000 / 11, 9)
    expect(m.sessionMs.median).toBe(502)
    expect(m.peakRssMb).toBe(702)
    expect(modelEntry('converted', 8, [])).toBeUndefined()
    const e = evalEntry('100x100', 8, [
      {kind: 'eval', batch: 8, images: 70, seconds: 10, imagesPerSecond: 7, msPerImage: 1000 / 7, setupSeconds: 1, classifySeconds: 8.5, finishSeconds: 0.5, classifyImagesPerSecond: 70 / 8.5, preprocessWaitSeconds: 0.2, inferenceSeconds: 8, run: 1, peakRssMb: 800, wallSeconds: 11},
    ], 11)!
    expect(e.ratioToModel).toBeCloseTo(7 / 11, 9)
    expect(e.classifyRatioToModel).toBeCloseTo(70 / 8.5 / 11, 9)
  })

  it('int8: medians of the paired runs per batch, the conversion, and their rows (with the CPU flags)', async () => {
    const pair = (run: number, f: number, i: number, speedup: number) => ({
      kind: 'pair' as const, batch: 8, calls: 4, float32: {imagesPerSecond: f, callMsMedian: 8000 / f, sessionMs: 400},
      int8: {imagesPerSecond: i, callMsMedian: 8000 / i, sessionMs: 600}, speedup, run, peakRssMb: 900 + run, wallSeconds: 9,
    })
    const conversion = {kind: 'convert' as const, source: 'deterministic' as const, dtype: 'int8' as const, seconds: 61.5, bytes: 53_600_000, run: 1, peakRssMb: 1700, wallSeconds: 62}
    const e = await int8Entry('/int8.onnx', model, conversion, [[], [pair(1, 10, 21, 2.1), pair(2, 12, 24, 2.0), pair(3, 11, 25, 2.3)], []])
    expect(e.batches).toHaveLength(1)
    expect(e.batches[0]).toMatchObject({batch: 8, calls: 4, peakRssMb: 902})
    expect(e.batches[0]!.speedup.median).toBe(2.1)
    expect(e.batches[0]!.int8ImagesPerSecond.median).toBe(24)
    expect(e.conversion).toMatchObject({seconds: 61.5, bytes: 53_600_000, peakRssMb: 1700})
    expect(e.conversion!.float32Bytes).toBeGreaterThan(0) // the tiny model's size, read from disk
    const result = {machine: {cpu: 'AMD EPYC 7B13', cpuFlags: ['avx2', 'fma']}, int8: e} as unknown as Parameters<typeof benchRows>[0]
    const rows = benchRows({...result, settings: {}, model: {path: '/m', bytes: 1, source: 'deterministic', note: ''}, modelOnly: [], preprocess: [], eval: [], convert: [], pytorch: {eager: []}, errors: []} as unknown as Parameters<typeof benchRows>[0])
    const speed = rows.find((r) => r.measurement.startsWith('model-only int8'))!
    expect(speed).toMatchObject({batch: 8, imagesPerSecond: 24})
    expect(speed.notes).toMatch(/^×2\.10 float32 \(median of 4 paired calls, runs 2\.00–2\.30\)/)
    expect(rows.find((r) => r.measurement === 'CPU')!.notes).toMatch(/AMD EPYC 7B13; avx2 fma; no VNNI/)
  })

  it('plans: full, quick and overridden', () => {
    expect(benchPlan({}, 2)).toMatchObject({runs: 3, quick: false, threads: 2, modelImages: 32, perClass: 10})
    expect(benchPlan({quick: true}, 4)).toMatchObject({runs: 1, quick: true, threads: 4, modelImages: 8, perClass: 2})
    expect(benchPlan({runs: 5, threads: 1, plan: {modelImages: 2}}, 4)).toMatchObject({runs: 5, threads: 1, modelImages: 2})
  })

  it('runBench end to end on the tiny model (model-only and preprocessing, children included)', async () => {
    const messages: string[] = []
    const r = await runBench({
      model,
      quick: true,
      workDir: join(dir, 'work'),
      env: {},
      parts: ['model', 'preprocess'],
      plan: {modelImages: 1, perClass: 1, preprocessIterations: 1},
      onStatus: (m) => messages.push(m),
    })
    expect(r.errors).toEqual([])
    expect(r.model).toMatchObject({path: model, source: 'user'})
    expect(r.settings).toMatchObject({runs: 1, quick: true, batchSizes: [1, 8, 32]})
    expect(r.modelOnly.map((m) => m.batch)).toEqual([1, 8, 32])
    expect(r.modelOnly.map((m) => m.images)).toEqual([1, 8, 32])
    for (const m of r.modelOnly) {
      positive(m.imagesPerSecond.median)
      positive(m.peakRssMb)
      positive(m.sessionMs.median)
    }
    expect(r.preprocess.map((p) => p.size)).toEqual(['100x100', '640x480'])
    for (const p of r.preprocess) positive(p.imagesPerSecond.median)
    expect(r.eval).toEqual([])
    expect(r.pytorch.skipped).toBeTruthy()
    expect(r.machine.cores).toBeGreaterThan(0)
    expect(r.load.start).toHaveLength(3)
    expect(messages.some((m) => m.includes('model-only batch 32'))).toBe(true)
    const rows = benchRows(r)
    expect(rows.filter((row) => row.measurement.startsWith('model-only')).map((row) => row.batch)).toEqual([1, 8, 32])
    expect(rows.some((row) => row.measurement === 'session creation')).toBe(true)
    expect(rows.some((row) => row.measurement === 'PyTorch baseline' && row.notes?.startsWith('skipped'))).toBe(true)
    expect(formatTable(rows).split('\n')).toHaveLength(rows.length + 2)
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)
  })
})
