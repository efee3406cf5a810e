/**
 * The QDQ rewriter on a small conv net built in code (slice → conv → PRelu → conv → residual add → flatten → gemm):
 * which nodes it makes int8, the quantisation arithmetic, and that onnxruntime really fuses the result into its
 * int8 kernels and computes what the float graph computes, to the error 8 bits allow.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {kernelWarnings} from '../../src/convert/int8.js'
import {batchNormToDepthwiseConv, tilePreluSlopes} from '../../src/convert/rewrites.js'
import {activationParams, applyQdq, planQdq, quantizeWeight, type Range} from '../../src/convert/qdq.js'
import {RangeObserver} from '../../src/convert/ranges.js'
import {GraphBuilder, type OnnxModel} from '../../src/onnx/graph.js'
import {readOpCounts} from '../../src/onnx/op-counts.js'
import {writeModel} from '../../src/onnx/write.js'
import {openGenericModel, writeOptimizedModel} from '../../src/runtime/session.js'

const dir = mkdtempSync(join(tmpdir(), 'poster-qdq-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number, scale = 1, center = 0): Float32Array {
  const out = new Float32Array(n)
  let a = seed >>> 0
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0
    out[i] = center + scale * ((a / 4294967296) * 2 - 1)
  }
  return out
}

const S = 32 // input side; the slice halves it
const C = 16
const K = 5
/** The net; `slope` lets a test give PRelu any slopes (negative, above 1). */
function tinyNet(slope: Float32Array = values(C, 3, 0.1, 0.25)): OnnxModel {
  const g = new GraphBuilder({name: 'tiny'})
  const x = g.input('input', 'float32', ['N', 3, S, S])
  const half = g.node('Slice', [x, g.int64([0, 0]), g.int64([S, S]), g.int64([2, 3]), g.int64([2, 2])], {}, {name: 'half'})
  const conv = (inp: string, name: string, cin: number, seed: number) =>
    g.node(
      'Conv',
      [inp, g.weight(`${name}.w`, values(C * cin * 9, seed, Math.sqrt(3 / (cin * 9))), [C, cin, 3, 3]), g.weight(`${name}.b`, values(C, seed + 1, 0.1), [C])],
      {kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1]},
      {name},
    )
  const c1 = conv(half, 'conv1', 3, 10)
  const p = g.node('PRelu', [c1, g.weight('prelu.slope', slope, [C, 1, 1])], {}, {name: 'prelu'})
  const c2 = conv(p, 'conv2', C, 20)
  const sum = g.node('Add', [c2, c1], {}, {name: 'residual'})
  const flat = g.node('Flatten', [sum], {axis: 1}, {name: 'flatten'})
  const F = C * (S / 2) ** 2
  const logits = g.node(
    'Gemm',
    [flat, g.weight('head.w', values(K * F, 30, Math.sqrt(3 / F)), [K, F]), g.weight('head.b', values(K, 31, 0.1), [K])],
    {transB: 1},
    {name: 'head'},
  )
  g.output(logits, 'logits', 'float32', ['N', K])
  return g.build()
}

async function run(model: OnnxModel, name: string, input: Float32Array, n: number): Promise<Float32Array> {
  const path = join(dir, `${name}.onnx`)
  await writeModel(model, path)
  const s = await openGenericModel(path, {threads: 1})
  try {
    return (await s.run({input: {data: input, dims: [n, 3, S, S]}})).logits!.data
  } finally {
    await s.release()
  }
}

/** Ranges of every source of `plan`, observed by running the float graph with them as outputs. */
async function calibrateTiny(model: OnnxModel, sources: string[], input: Float32Array, n: number): Promise<{ranges: Map<string, Range>; shapes: Map<string, number[]>}> {
  const withOutputs: OnnxModel = {
    ...model,
    graph: {...model.graph, outputs: [...model.graph.outputs, ...sources.map((name) => ({name, dtype: 'float32' as const, shape: [], unknownShape: true}))]},
  }
  const path = join(dir, 'calibration.onnx')
  await writeModel(withOutputs, path)
  const s = await openGenericModel(path, {threads: 1})
  const ranges = new Map<string, Range>()
  const shapes = new Map<string, number[]>()
  try {
    const out = await s.run({input: {data: input, dims: [n, 3, S, S]}})
    for (const src of sources) {
      const o = new RangeObserver()
      o.observe(out[src]!.data)
      ranges.set(src, o.range('minmax'))
      shapes.set(src, out[src]!.dims.slice(1))
    }
  } finally {
    await s.release()
  }
  return {ranges, shapes}
}

describe('planQdq', () => {
  it('makes the convolutions, the gemm, the residual add, the PRelu and the data movement int8, and quantises what they read and write', () => {
    const plan = planQdq(tinyNet())
    expect([...plan.int8Nodes].sort()).toEqual(['conv1', 'conv2', 'flatten', 'head', 'prelu', 'residual'])
    // The slice reads the graph input: a Q on the full-size input would cost more than one after it.
    expect(plan.rangeOf.has('input')).toBe(false)
    expect(plan.rangeOf.get('half_out')).toBe('half_out')
    // Flatten shares the residual's scale: onnxruntime then runs it on the uint8 values.
    expect(plan.rangeOf.get('flatten_out')).toBe('residual_out')
    // The gemm's output is a graph output: it stays float (QGemm writes float).
    expect(plan.rangeOf.has('logits')).toBe(false)
    expect(plan.sources).toEqual(['half_out', 'conv1_out', 'prelu_out', 'conv2_out', 'residual_out'])
  })

  it('keeps what keepFloat names in float32, and then does not quantise tensors only it needed', () => {
    const plan = planQdq(tinyNet(), {keepFloat: (n) => n.name === 'head'})
    expect(plan.int8Nodes.has('head')).toBe(false)
    expect(plan.int8Nodes.has('flatten')).toBe(false)
    expect(plan.int8Nodes.has('residual')).toBe(false)
    expect(plan.rangeOf.has('residual_out')).toBe(false)
    expect(plan.int8Nodes.has('conv2')).toBe(true)
  })

  it('without int8 PRelu and Add those two stay float', () => {
    const plan = planQdq(tinyNet(), {int8Prelu: false, quantizeAdd: false})
    expect(plan.int8Nodes.has('prelu')).toBe(false)
    expect(plan.int8Nodes.has('residual')).toBe(false)
    expect(plan.int8Nodes.has('conv1')).toBe(true)
  })
})

describe('quantisation arithmetic', () => {
  it('activationParams: uint8 over the range widened to include 0, zero exactly representable', () => {
    expect(activationParams({min: -1, max: 3})).toEqual({scale: Math.fround(4 / 255), zeroPoint: 64})
    expect(activationParams({min: 0.5, max: 2})).toEqual({scale: Math.fround(2 / 255), zeroPoint: 0})
    expect(activationParams({min: -2, max: -1})).toEqual({scale: Math.fround(2 / 255), zeroPoint: 255})
    expect(() => activationParams({min: -Infinity, max: 1})).toThrow(/not finite/)
  })

  it('quantizeWeight: symmetric per channel along the axis, |q| <= weightMax', () => {
    const w = {dtype: 'float32' as const, shape: [2, 2], data: Float32Array.of(1, -0.5, 0.25, 0.1)}
    const rows = quantizeWeight(w, 0, 127)
    expect(Array.from(rows.scale)).toEqual([Math.fround(1 / 127), Math.fround(0.25 / 127)])
    // -0.5 / float32(1/127) is a hair above 63.5 in magnitude (the float32 scale is rounded down): -64.
    expect(Array.from(rows.q)).toEqual([127, -64, 127, 51])
    const cols = quantizeWeight(w, 1, 63)
    expect(Array.from(cols.scale)).toEqual([Math.fround(1 / 63), Math.fround(0.5 / 63)])
    expect(Array.from(cols.q)).toEqual([63, -63, 16, 13])
    // An all-zero channel gets scale 1, not a division by zero.
    const zero = quantizeWeight({dtype: 'float32', shape: [1, 2], data: new Float32Array(2)}, 0, 127)
    expect(Array.from(zero.scale)).toEqual([1])
    expect(Array.from(zero.q)).toEqual([0, 0])
  })
})

describe('applyQdq through onnxruntime', () => {
  const n = 4
  const input = values(n * 3 * S * S, 99, 2)

  it('fuses into QLinearConv, QGemm, QLinearAdd and the uint8 PRelu, and follows the float graph', async () => {
    const model = tinyNet()
    const plan = planQdq(model)
    const {ranges, shapes} = await calibrateTiny(model, plan.sources, input, n)
    const tiled = tilePreluSlopes(model, shapes)
    expect(tiled.tiled).toBe(1)
    const {model: q, params} = applyQdq(tiled.model, plan, ranges)
    expect(params.get('conv1_out')).toEqual(activationParams(ranges.get('conv1_out')!))
    const path = join(dir, 'int8.onnx')
    await writeModel(q, path)
    await writeOptimizedModel(path, join(dir, 'int8-optimized.onnx'), {threads: 1})
    const ops = await readOpCounts(join(dir, 'int8-optimized.onnx'))
    expect(ops.QLinearConv).toBe(2)
    expect(ops.QGemm).toBe(1)
    expect(ops.QLinearLeakyRelu).toBe(1)
    expect(ops.QLinearMul).toBe(1)
    expect(ops.QLinearAdd).toBe(2) // the PRelu's and the residual
    expect(ops.Conv ?? 0).toBe(0)
    expect(ops.PRelu ?? 0).toBe(0)
    expect(ops.Gemm ?? 0).toBe(0)
    expect(kernelWarnings(tiled.model, plan.int8Nodes, ops)).toEqual([])
    // Had onnxruntime left a convolution unfused, the conversion would say so.
    expect(kernelWarnings(tiled.model, plan.int8Nodes, {...ops, QLinearConv: 1})).toEqual([
      'onnxruntime fused 1 of the 2 int8 Conv nodes into QLinearConv; the rest run in float32',
    ])

    const ref = await run(model, 'float', input, n)
    const got = await run(q, 'int8-run', input, n)
    let range = 0
    let err = 0
    for (let i = 0; i < ref.length; i++) {
      range = Math.max(range, Math.abs(ref[i]!))
      err = Math.max(err, Math.abs(ref[i]! - got[i]!))
    }
    // Measured: 1.8% of the largest |logit|; 8-bit steps over five layers allow a few percent, a wrong scale or
    // zero point gives tens of percent.
    expect(err / range).toBeLessThan(0.04)
    expect(err).toBeGreaterThan(0) // it really is quantised
  })

  it('computes PRelu with negative slopes and slopes above 1 correctly in uint8', async () => {
    const slope = Float32Array.from({length: C}, (_, c) => [-0.5, 0, 0.3, 1, 1.7][c % 5]!)
    const model = tinyNet(slope)
    const plan = planQdq(model)
    const {ranges} = await calibrateTiny(model, plan.sources, input, n)
    const ref = await run(model, 'float-slopes', input, n)
    const got = await run(applyQdq(model, plan, ranges).model, 'int8-slopes', input, n)
    const floatPrelu = await run(applyQdq(model, planQdq(model, {int8Prelu: false}), ranges, {int8Prelu: false}).model, 'int8-float-prelu', input, n)
    let range = 0
    let err = 0
    let errFloatPrelu = 0
    for (let i = 0; i < ref.length; i++) {
      range = Math.max(range, Math.abs(ref[i]!))
      err = Math.max(err, Math.abs(ref[i]! - got[i]!))
      errFloatPrelu = Math.max(errFloatPrelu, Math.abs(ref[i]! - floatPrelu[i]!))
    }
    // Measured: 1.5% of the largest |logit| (1.6% with the PRelu left in float).
    expect(err / range).toBeLessThan(0.04)
    // The uint8 PRelu adds little to the error of an int8 graph whose PRelu is float.
    expect(err).toBeLessThan(3 * errFloatPrelu + 0.01 * range)
  })

  it('BatchNormalization becomes a depthwise 1×1 convolution: the same values in float, one QLinearConv in int8', async () => {
    const g = new GraphBuilder({name: 'bn'})
    const x = g.input('input', 'float32', ['N', 3, S, S])
    const c1 = g.node('Conv', [x, g.weight('c1.w', values(C * 27, 5, 0.3), [C, 3, 3, 3])], {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}, {name: 'c1'})
    const p = (name: string, seed: number, center: number, scale: number) => g.weight(name, values(C, seed, scale, center), [C])
    const bn = g.node('BatchNormalization', [c1, p('g', 6, 1, 0.3), p('b', 7, 0, 0.2), p('m', 8, 0, 0.3), p('v', 9, 1, 0.5)], {epsilon: {kind: 'float', value: 1e-5}}, {name: 'bn'})
    const c2 = g.node('Conv', [bn, g.weight('c2.w', values(C * C * 9, 10, 0.1), [C, C, 3, 3])], {kernel_shape: [3, 3], pads: [1, 1, 1, 1]}, {name: 'c2'})
    g.output(g.node('Flatten', [c2], {axis: 1}, {name: 'flat'}), 'logits', 'float32', ['N', C * S * S])
    const model = g.build()
    const {model: rewritten, rewritten: count} = batchNormToDepthwiseConv(model)
    expect(count).toBe(1)
    const bnConv = rewritten.graph.nodes.find((n) => n.name === 'bn')!
    expect(bnConv.op).toBe('Conv')
    expect(bnConv.attributes.group).toEqual({kind: 'int', value: C})
    const a = await run(model, 'bn-float', input, n)
    const b = await run(rewritten, 'bn-conv', input, n)
    let scale = 0
    let diff = 0
    for (let i = 0; i < a.length; i++) {
      scale = Math.max(scale, Math.abs(a[i]!))
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    }
    expect(diff / scale).toBeLessThan(1e-5) // float32 rounding only

    const plan = planQdq(rewritten)
    const {ranges} = await calibrateTiny(rewritten, plan.sources, input, n)
    const path = join(dir, 'bn-int8.onnx')
    await writeModel(applyQdq(rewritten, plan, ranges).model, path)
    await writeOptimizedModel(path, join(dir, 'bn-int8-optimized.onnx'), {threads: 1})
    const ops = await readOpCounts(join(dir, 'bn-int8-optimized.onnx'))
    expect(ops.QLinearConv).toBe(3)
    expect(ops.BatchNormalization ?? 0).toBe(0)
  })

  it('tiling the PRelu slope along the width changes nothing', async () => {
    const model = tinyNet()
    const shapes = new Map([['conv1_out', [C, S / 2, S / 2]]])
    const tiled = tilePreluSlopes(model, shapes)
    const slope = tiled.model.graph.initializers.find((i) => i.name.startsWith('prelu.slope.tiled'))!
    expect(slope.tensor.shape).toEqual([C, 1, S / 2])
    expect(tiled.model.graph.initializers.some((i) => i.name === 'prelu.slope')).toBe(false)
    const a = await run(model, 'untiled', input, n)
    const b = await run(tiled.model, 'tiled', input, n)
    expect(Array.from(b)).toEqual(Array.from(a))
    // Unknown dimensions: left alone.
    expect(tilePreluSlopes(model, new Map()).tiled).toBe(0)
  })
})
