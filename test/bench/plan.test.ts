/**
 * The benchmark's plan as data: which jobs run, in which order, how often, and where their samples go; and the
 * runner handing every job (whatever its kind) to one measure, which records failures the same way.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {benchPlan, planJobs, type PlanInputs} from '../../src/bench/plan.js'
import {runBench} from '../../src/bench/run.js'
import {BENCH_PARTS} from '../../src/bench/types.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const inputs = (over: Partial<PlanInputs> = {}): PlanInputs => ({
  plan: benchPlan({runs: 2, plan: {modelImages: 4, predictImages: 10}}, 2),
  parts: new Set(BENCH_PARTS),
  model: '/m.onnx',
  datasets: [{size: '100x100', root: '/d1', images: ['/d1/a.jpg']}, {size: '640x480', root: '/d2', images: ['/d2/a.jpg']}],
  predictFolder: '/folder',
  datasetSet: '/set.csv',
  tmp: '/tmp/x',
  fp32Deterministic: '/fp32.onnx',
  fp16Path: '/fp16.onnx',
  python: true,
  exportedPath: '/exported.onnx',
  ...over,
})

describe('planJobs', () => {
  it('every part, run-major: run 1 of everything, then run 2; predict and the fp16 check once', () => {
    const jobs = planJobs(inputs())
    const run1 = [
      'model/1', 'model/8', 'model/32',
      'preprocess/100x100', 'preprocess/640x480',
      'eval/100x100/1', 'eval/100x100/8', 'eval/100x100/32', 'eval/640x480/1', 'eval/640x480/8', 'eval/640x480/32',
      'predict',
      'faces',
      'dataset',
      'convert/float32', 'convert/float16',
      'parity',
      'torch/1', 'torch/8', 'torch/32', 'exported',
    ]
    const run2 = run1.filter((k) => k !== 'predict' && k !== 'parity' && k !== 'dataset')
    expect(jobs.map((j) => j.key)).toEqual([...run1, ...run2])
    expect(jobs.slice(0, run1.length).every((j) => j.run === 1)).toBe(true)
    expect(jobs.slice(run1.length).every((j) => j.run === 2 && j.of === 2)).toBe(true)
    const predict = jobs.find((j) => j.key === 'predict')!
    expect(predict).toMatchObject({part: 'predict', run: 1, of: 1, label: 'predict 10 × 100×100 JPEG folder, batch 32, --landmarks'})
    expect(predict.job).toEqual({kind: 'predict', folder: '/folder', model: '/m.onnx', batch: 32, threads: 2, landmarks: true, expectRows: 10})
    expect(jobs.find((j) => j.key === 'faces')!.job).toMatchObject({kind: 'faces', model: '/m.onnx', threads: 2})
    expect(jobs.find((j) => j.key === 'dataset')).toMatchObject({part: 'dataset', run: 1, of: 1, job: {kind: 'dataset-check', manifest: '/set.csv', images: 20000}})
    expect(jobs.find((j) => j.key === 'torch/8')!.job).toEqual({kind: 'torch', batch: 8, images: 4, budgetSeconds: 20})
    expect(jobs.find((j) => j.key === 'exported')!.job).toMatchObject({kind: 'model', model: '/exported.onnx', batch: 8})
    // Without a checkpoint the convert part times the deterministic build of 7 classes.
    expect(jobs.find((j) => j.key === 'convert/float16')!.job).toMatchObject({kind: 'convert', checkpoint: undefined, dtype: 'float16', classes: 7, remove: true})
  })

  it('int8: the conversion once (run 1, before the paired runs), then float32 beside int8 at every batch size each run', () => {
    const int8 = {float32: '/fp32.onnx', out: '/int8.onnx', calibrate: '/cal', calibrationImages: 64}
    const jobs = planJobs(inputs({parts: new Set(['int8']), int8}))
    expect(jobs.map((j) => `${j.key}@${j.run}`)).toEqual(['convert/int8@1', 'int8/1@1', 'int8/8@1', 'int8/32@1', 'int8/1@2', 'int8/8@2', 'int8/32@2'])
    expect(jobs[0]!.job).toEqual({kind: 'convert', out: '/int8.onnx', dtype: 'int8', classes: 7, calibrate: '/cal', calibrationImages: 64})
    // At least three call pairs: 3 × 8 images although the plan's model-only count is 4.
    expect(jobs[2]!.job).toEqual({kind: 'pair', float32: '/fp32.onnx', int8: '/int8.onnx', batch: 8, images: 24, threads: 2})
    // Without the int8 inputs (the part was not prepared) it has no jobs.
    expect(planJobs(inputs({parts: new Set(['int8'])}))).toEqual([])
  })

  it('predict --runs times spread over the runs when asked for more predict runs than runs', () => {
    const jobs = planJobs(inputs({plan: benchPlan({runs: 2, plan: {predictRuns: 3}}, 2), parts: new Set(['predict'])}))
    expect(jobs.map((j) => [j.run, j.of])).toEqual([[1, 3], [3, 3], [2, 3]])
  })

  it('only the parts asked for, and no PyTorch jobs without the baseline', () => {
    const jobs = planJobs(inputs({plan: benchPlan({runs: 1}, 2), parts: new Set(['model', 'pytorch']), python: false, exportedPath: undefined}))
    expect(jobs.map((j) => j.key)).toEqual(['model/1', 'model/8', 'model/32'])
    expect(planJobs(inputs({parts: new Set(['predict']), predictFolder: undefined}))).toEqual([])
  })
})

describe('the runner', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'poster-bench-plan-'))
  })
  afterAll(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('a job that fails, of any kind, is one error named by its label; the others still run', async () => {
    // A model with the wrong input shape: every model-only and predict job fails in its child.
    const bad = await writeTinyModel(join(dir, 'bad.onnx'), {...SEVEN_CLASS_SPEC, inputShape: ['N', 3, 112, 112]})
    const messages: string[] = []
    const r = await runBench({model: bad, quick: true, workDir: join(dir, 'work'), env: {}, parts: ['model', 'predict'], plan: {modelImages: 1, predictImages: 2}, onStatus: (m) => messages.push(m)})
    expect(r.errors.map((e) => e.measurement)).toEqual([
      'model-only batch 1', 'model-only batch 8', 'model-only batch 32', 'predict 2 × 100×100 JPEG folder, batch 32, --landmarks',
    ])
    for (const e of r.errors) expect(e.message).toMatch(/job failed: .*expected the model input to be float32 \[N, 3, 224, 224\]/)
    expect(messages.filter((m) => /^\[\d\/4\] /.test(m))).toHaveLength(4)
    expect(r.modelOnly).toEqual([])
    expect(r.predict).toBeUndefined()
  })
})
