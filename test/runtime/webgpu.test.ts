/**
 * The real POSTER++ graph on WebGPU, through the session module as eval and predict open it, against the CPU
 * provider and the official PyTorch outputs recorded in test/fixtures/parity: logits and landmarks, at batch 1
 * and batch 2, and which provider ran every node (from onnxruntime's profile).
 *
 * It needs a Vulkan device. Without a GPU, Mesa's software Vulkan (lavapipe, Mesa 25: Debian bookworm-backports'
 * mesa-vulkan-drivers, which .ci/run installs when it can) is enough; it is slow (~0.2 images/s), so the batches
 * are small. With no adapter every test is skipped and says why.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {toFloat16Compute} from '../../src/onnx/fp16.js'
import {readModel} from '../../src/onnx/read.js'
import {writeModel} from '../../src/onnx/write.js'
import {buildPosterGraph} from '../../src/poster/build.js'
import {deterministicInput, deterministicWeights} from '../../src/poster/deterministic-weights.js'
import {describePlacement, placementFromProfile} from '../../src/runtime/placement.js'
import {openSession, probeDevice, PROVIDER_NAMES, type LoadedSession, type RunOutputs} from '../../src/runtime/session.js'
import {expected, manifest, maxAbsDiff} from '../poster/helpers.js'

const ITEM = 3 * 224 * 224
// The float16 run compiles every shader again (~1 min more on lavapipe): on request only.
const FP16 = process.env.POSTER_WEBGPU_FP16 === '1'
const TOL = 1e-3
const WEBGPU = PROVIDER_NAMES.webgpu

const probe = await probeDevice('webgpu')
const skipReason = !probe.loads
  ? `no WebGPU adapter: ${probe.error}. Install a Vulkan driver (without a GPU: mesa-vulkan-drivers >= 25, Debian bookworm-backports)`
  : !probe.ranOn.includes(WEBGPU)
    ? `the WebGPU provider started but ran nothing (nodes on ${probe.ranOn.join(', ')})`
    : undefined
if (skipReason) process.stderr.write(`webgpu.test.ts: skipped: ${skipReason}\n`)

function top1(logits: Float32Array, c: number, i: number): number {
  const row = Array.from(logits.subarray(i * c, (i + 1) * c))
  return row.indexOf(Math.max(...row))
}

describe('POSTER++ on WebGPU matches the CPU provider', () => {
  const classes = 7
  const exp = expected(classes)
  const input = deterministicInput(3)
  let dir: string
  let path: string
  let cpu: LoadedSession
  let gpu: LoadedSession
  const cpuOut: RunOutputs[] = []
  const gpuOut: RunOutputs[] = []
  // Batch 1: item 0; batch 2: items 1 and 2.
  const batches = [
    {n: 1, from: 0},
    {n: 2, from: 1},
  ]

  beforeAll(async () => {
    if (skipReason) return
    dir = mkdtempSync(join(tmpdir(), 'poster-webgpu-'))
    path = join(dir, 'poster-7.onnx')
    await writeModel(buildPosterGraph(deterministicWeights(manifest(classes))), path)
    cpu = await openSession(path, {device: 'cpu'})
    gpu = await openSession(path, {device: 'webgpu', profilePrefix: join(dir, 'profile')})
    for (const b of batches) {
      const data = input.data.slice(b.from * ITEM, (b.from + b.n) * ITEM)
      cpuOut.push(await cpu.run(data, b.n, {landmarks: true}))
      gpuOut.push(await gpu.run(data, b.n, {landmarks: true}))
    }
  })

  afterAll(async () => {
    await cpu?.release()
    await gpu?.release()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('gives the same logits and landmarks at batch 1 and 2 (within 1e-3), and the same top-1', (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    expect(gpu.device).toBe('webgpu')
    const lines: string[] = []
    batches.forEach((b, k) => {
      const g = gpuOut[k]!
      const c = cpuOut[k]!
      expect(g.logits).toHaveLength(b.n * classes)
      expect(g.landmarks).toHaveLength(b.n * 136)
      const dLogits = maxAbsDiff(g.logits, c.logits)
      const dLandmarks = maxAbsDiff(g.landmarks!, c.landmarks!)
      // Against the official PyTorch model's outputs for the same weights and input.
      const dTorch = maxAbsDiff(g.logits, exp.logits.slice(b.from, b.from + b.n).flat())
      expect(dLogits).toBeLessThan(TOL)
      expect(dLandmarks).toBeLessThan(TOL)
      expect(dTorch).toBeLessThan(TOL)
      for (let i = 0; i < b.n; i++) {
        expect(top1(g.logits, classes, i)).toBe(top1(c.logits, classes, i))
        expect(top1(g.logits, classes, i)).toBe(exp.logits[b.from + i]!.indexOf(Math.max(...exp.logits[b.from + i]!)))
      }
      lines.push(`batch ${b.n}: max |Δlogit| ${dLogits.toExponential(2)} (vs PyTorch ${dTorch.toExponential(2)}), max |Δlandmark| ${dLandmarks.toExponential(2)}`)
    })
    process.stderr.write(`webgpu vs cpu: ${lines.join('; ')}\n`)
  })

  it('runs every node on the WebGPU provider (none falls back to the CPU)', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    const file = await gpu.endProfiling()
    expect(file).toBeDefined()
    const placement = placementFromProfile(JSON.parse(readFileSync(file!, 'utf8')), WEBGPU)
    process.stderr.write(`webgpu placement: ${describePlacement(placement, WEBGPU)}\n`)
    // The graph has about 400 nodes after onnxruntime's fusions; every one ran at least once.
    expect(placement.nodes).toBeGreaterThan(300)
    expect(placement.fallbacks).toEqual([])
    expect(placement.providers.map((p) => p.provider)).toEqual([WEBGPU])
  })

  it('computes in float16 on WebGPU (--dtype fp16) close to float32 (POSTER_WEBGPU_FP16=1)', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    if (!FP16) return ctx.skip('set POSTER_WEBGPU_FP16=1: the float16 graph compiles every shader again, about a minute on software Vulkan')
    const halfPath = join(dir, 'poster-7-fp16.onnx')
    await writeModel(toFloat16Compute(await readModel(path)).model, halfPath)
    const half = await openSession(halfPath, {device: 'webgpu', profilePrefix: join(dir, 'profile-fp16')})
    try {
      const r = await half.run(input.data.slice(0, ITEM), 1, {landmarks: true})
      const dLogits = maxAbsDiff(r.logits, cpuOut[0]!.logits)
      const dLandmarks = maxAbsDiff(r.landmarks!, cpuOut[0]!.landmarks!)
      const placement = placementFromProfile(JSON.parse(readFileSync((await half.endProfiling())!, 'utf8')), WEBGPU)
      process.stderr.write(`webgpu fp16 vs cpu fp32, batch 1: max |Δlogit| ${dLogits.toExponential(2)}, max |Δlandmark| ${dLandmarks.toExponential(2)}; ${describePlacement(placement, WEBGPU)}\n`)
      expect(dLogits).toBeLessThan(0.05)
      // lavapipe measured 1.1e-2 and 2.4e-2: WebGPU accumulates float16 matmuls in float16 (the CPU provider: 1.6e-3, 3.7e-3)
      expect(dLandmarks).toBeLessThan(0.05)
      expect(placement.fallbacks).toEqual([])
    } finally {
      await half.release()
    }
  })
})
