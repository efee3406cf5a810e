/**
 * poster bench on a GPU device: the plan (batch sizes up to 128, the device and dtype in every model and eval job,
 * only the parts a GPU changes), the flags, and a real run on WebGPU with the tiny model when a Vulkan adapter is
 * present (software Vulkan included): model-only images/s per batch and the GPU's name in the result.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {benchPlan, GPU_BATCH_SIZES, planJobs} from '../../src/bench/plan.js'
import {benchReport} from '../../src/bench/report.js'
import {runBench} from '../../src/bench/run.js'
import {GPU_BENCH_PARTS} from '../../src/bench/types.js'
import Bench from '../../src/commands/bench.js'
import {probeDevice} from '../../src/runtime/session.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-bench-gpu-'))
})
afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

describe('bench on a GPU', () => {
  it('plans batch 1 to 128 with the device and dtype in each model-only and eval job', () => {
    const plan = benchPlan({device: 'cuda', dtype: 'fp16'}, 4)
    expect(plan).toMatchObject({device: 'cuda', dtype: 'fp16', batchSizes: [...GPU_BATCH_SIZES], modelImages: 256, perClass: 40})
    expect(benchPlan({}, 4)).toMatchObject({device: 'cpu', batchSizes: [1, 8, 32], modelImages: 32, perClass: 10})
    const jobs = planJobs({
      plan, parts: new Set(GPU_BENCH_PARTS), model: '/m.onnx', fp16Model: '/m-fp16.onnx',
      datasets: [{size: '100x100', root: '/d', images: ['/d/a.jpg']}], tmp: '/t', fp32Deterministic: '/a', fp16Path: '/b', python: false,
    })
    expect(jobs.filter((j) => j.run === 1).map((j) => j.key)).toEqual([
      'model/1', 'model/8', 'model/32', 'model/64', 'model/128',
      'preprocess/100x100',
      'eval/100x100/1', 'eval/100x100/8', 'eval/100x100/32', 'eval/100x100/64', 'eval/100x100/128',
    ])
    expect(jobs).toHaveLength(3 * 11)
    expect(jobs.find((j) => j.key === 'model/128')!.job).toEqual({kind: 'model', model: '/m-fp16.onnx', batch: 128, images: 256, threads: 4, device: 'cuda'})
    expect(jobs.find((j) => j.key === 'model/1')!.label).toBe('model-only batch 1 on cuda fp16')
    // eval opens the original model with dtype fp16 (it makes or reuses the float16 copy itself).
    expect(jobs.find((j) => j.key === 'eval/100x100/64')!.job).toEqual({kind: 'eval', dataset: '/d', model: '/m.onnx', batch: 64, threads: 4, device: 'cuda', dtype: 'fp16'})
  })

  it('refuses CPU-only parts and fp16 on the CPU as usage errors, and malformed --batch-sizes', async () => {
    for (const args of [['--device', 'webgpu', '--parts', 'predict'], ['--dtype', 'fp16'], ['--batch-sizes', '1,x'], ['--batch-sizes', '0']]) {
      const r = await captureOutput(() => Bench.run(args, {root: ROOT}))
      expect(r.error?.oclif?.exit, args.join(' ')).toBe(2)
    }
    process.exitCode = undefined
  })

  it('runs model-only on WebGPU and names the adapter (skipped without one)', async (ctx) => {
    const probe = await probeDevice('webgpu')
    if (!probe.loads) return ctx.skip(`no WebGPU adapter: ${probe.error}`)
    const model = await writeTinyModel(join(dir, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    const said: string[] = []
    const r = await runBench({model, device: 'webgpu', quick: true, parts: ['model'], batchSizes: [1, 2], workDir: dir, onStatus: (m) => said.push(m)})
    expect(r.errors).toEqual([])
    expect(r.settings).toMatchObject({device: 'webgpu', dtype: 'fp32', batchSizes: [1, 2]})
    expect(r.gpu).toMatchObject({device: 'webgpu', provider: 'WebGpuExecutionProvider'})
    expect(r.modelOnly.map((m) => [m.batch, m.images])).toEqual([[1, 16], [2, 16]])
    for (const m of r.modelOnly) expect(m.imagesPerSecond.median).toBeGreaterThan(0)
    const text = benchReport(r)
    expect(text).toMatch(/^GPU {5}.*WebGpuExecutionProvider/m)
    expect(text).toContain('model-only (model ONNX, webgpu)')
  })
})
