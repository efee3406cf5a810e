/**
 * Reading an ONNX file back (onnx/read.ts) and its float16-compute rewrite (onnx/fp16.ts): the round trip gives
 * the same model, and the rewrite keeps the float32 interface, computes in float16 inside, and stays close to the
 * float32 outputs. The CPU provider runs the float16 graph too, so this needs no GPU; the real POSTER++ graph is
 * also rewritten and compared (the WebGPU run of it is in test/runtime/webgpu.test.ts).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {afterAll, describe, expect, it} from 'vitest'

import {toFloat16Compute} from '../../src/onnx/fp16.js'
import {attr, GraphBuilder, TensorDataType, type OnnxModel} from '../../src/onnx/graph.js'
import {decodeModel, OnnxReadError, readModel} from '../../src/onnx/read.js'
import {serializeModel, writeModel} from '../../src/onnx/write.js'
import {buildPosterGraph} from '../../src/poster/build.js'
import {deterministicInput, deterministicWeights} from '../../src/poster/deterministic-weights.js'
import {expected, manifest, maxAbsDiff} from '../poster/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'poster-fp16-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** y = LayerNorm(Gelu(x·W + b)) reshaped, and the activation as a second output; one weight beyond float16's range. */
function smallModel(weightDtype: 'float32' | 'float16' = 'float32', big = 1): OnnxModel {
  const g = new GraphBuilder({name: 'small', weightDtype})
  const x = g.input('input', 'float32', ['N', 4])
  const w = g.weight('fc.weight', Float32Array.from([0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8 * big]), [4, 2])
  const b = g.weight('fc.bias', Float32Array.from([0.5, -0.5]), [2])
  const y = g.node('Add', [g.node('MatMul', [x, w], {}, {name: 'fc'}), b])
  const z = g.node('Gelu', [y], {approximate: 'none'})
  const ln = g.node('LayerNormalization', [z, g.float32([1, 2]), g.float32([0, 0])], {axis: -1, epsilon: attr.float(1e-5)})
  const r = g.node('Reshape', [ln, g.int64([0, 2, 1])])
  g.output(r, 'out', 'float32', ['N', 2, 1])
  g.output(z, 'act', 'float32', ['N', 2])
  return g.build({labels: '["a","b"]'}, 'a test graph')
}

async function runModel(model: OnnxModel, x: Float32Array, n: number): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(serializeModel(model))
  try {
    const r = await s.run({input: new ort.Tensor('float32', x, [n, 4])})
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]))
  } finally {
    await s.release()
  }
}

const X = Float32Array.from([1, -2, 0.5, 3, 0.25, 0.75, -1, 2])

describe('reading ONNX back', () => {
  it('gives the model that was written: nodes, attributes, initializers, interface, metadata', () => {
    const m = smallModel()
    const back = decodeModel(serializeModel(m))
    // Float attributes are float32 in the protobuf (epsilon 1e-5 comes back as fround(1e-5)).
    const f32 = (nodes: OnnxModel['graph']['nodes']) =>
      nodes.map((n) => ({...n, attributes: Object.fromEntries(Object.entries(n.attributes).map(([k, a]) => [k, a.kind === 'float' ? {...a, value: Math.fround(a.value)} : a]))}))
    expect(back.graph.nodes).toEqual(f32(m.graph.nodes))
    expect(back.graph.inputs).toEqual(m.graph.inputs)
    expect(back.graph.outputs).toEqual(m.graph.outputs)
    expect(back.graph.initializers.map((i) => [i.name, i.tensor.dtype, i.tensor.shape, Array.from(i.tensor.data as ArrayLike<number | bigint>)])).toEqual(
      m.graph.initializers.map((i) => [i.name, i.tensor.dtype, i.tensor.shape, Array.from(i.tensor.data as ArrayLike<number | bigint>)]),
    )
    expect(back.metadata).toEqual(m.metadata)
    expect([back.opsetVersion, back.irVersion, back.docString]).toEqual([m.opsetVersion, m.irVersion, 'a test graph'])
  })

  it('refuses what it cannot rewrite, saying what it found', () => {
    expect(() => decodeModel(Buffer.from('not a protobuf at all'))).toThrow(OnnxReadError)
    const m = smallModel()
    m.graph.nodes[0] = {...m.graph.nodes[0]!, domain: 'com.microsoft'}
    expect(() => decodeModel(serializeModel(m))).toThrow(/com\.microsoft\.MatMul is outside the default ONNX domain/)
  })
})

describe('float16 compute', () => {
  it('casts the float32 input in and the outputs out, stores weights as float16, and stays close', async () => {
    const m = smallModel()
    const {model: half, report} = toFloat16Compute(m)
    expect(report).toEqual({weights: 4, saturated: 0, casts: 0, float32Nodes: 0})
    expect(half.graph.inputs).toEqual(m.graph.inputs)
    expect(half.graph.outputs).toEqual(m.graph.outputs)
    expect(half.graph.nodes[0]).toMatchObject({op: 'Cast', inputs: ['input'], attributes: {to: {kind: 'int', value: TensorDataType.FLOAT16}}})
    expect(half.graph.nodes.slice(-2).map((n) => [n.op, n.outputs[0]])).toEqual([['Cast', 'out'], ['Cast', 'act']])
    expect(half.graph.initializers.filter((i) => i.tensor.dtype === 'float32')).toEqual([])
    expect(half.graph.initializers.find((i) => i.name.startsWith('const_i64'))?.tensor.dtype).toBe('int64')
    expect(half.metadata.compute_dtype).toBe('float16')
    expect(m.graph.initializers.every((i) => i.tensor.dtype !== 'float16')).toBe(true) // the input model is untouched
    const want = await runModel(m, X, 2)
    const got = await runModel(half, X, 2)
    expect(got.out).toHaveLength(4)
    expect(maxAbsDiff(got.out!, want.out!)).toBeLessThan(5e-3)
    expect(maxAbsDiff(got.act!, want.act!)).toBeLessThan(5e-3)
    expect(maxAbsDiff(got.act!, want.act!)).toBeGreaterThan(0) // it really computed in float16
  })

  it('folds the Casts of a model stored as float16, and saturates (and counts) weights beyond ±65504', async () => {
    const stored = smallModel('float16')
    const {model: half, report} = toFloat16Compute(stored)
    expect(report.casts).toBe(2) // fc.weight and fc.bias; the LayerNorm constants are float32 constants
    expect(half.graph.nodes.filter((n) => n.op === 'Cast' && n.attributes.to?.kind === 'int' && n.attributes.to.value === TensorDataType.FLOAT)).toHaveLength(2) // the two outputs
    expect(maxAbsDiff((await runModel(half, X, 2)).act!, (await runModel(smallModel(), X, 2)).act!)).toBeLessThan(5e-3)
    expect(toFloat16Compute(smallModel('float32', 1e6)).report.saturated).toBe(1)
  })

  it('computes reductions in float32 between Casts: a mean over 50,176 values of 2 does not overflow', async () => {
    const g = new GraphBuilder()
    const x = g.input('input', 'float32', ['N', 3, 224, 224])
    const m = g.node('ReduceMean', [x, g.int64([2, 3])], {keepdims: 0})
    g.output(g.node('Mul', [m, g.float32([0.5])]), 'y', 'float32', ['N', 3])
    const {model, report} = toFloat16Compute(g.build())
    expect(report.float32Nodes).toBe(1)
    expect(model.graph.nodes.map((n) => n.op)).toEqual(['Cast', 'Cast', 'ReduceMean', 'Cast', 'Mul', 'Cast'])
    const s = await ort.InferenceSession.create(serializeModel(model))
    try {
      const r = await s.run({input: new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(2), [1, 3, 224, 224])})
      expect(Array.from(r.y!.data as Float32Array)).toEqual([1, 1, 1])
    } finally {
      await s.release()
    }
  })

  it('leaves Resize scales in float32', () => {
    const g = new GraphBuilder()
    const x = g.input('input', 'float32', [1, 1, 2, 2])
    const y = g.node('Resize', [x, '', g.float32([1, 1, 2, 2])], {mode: 'nearest'})
    g.output(y, 'y', 'float32', [1, 1, 4, 4])
    const {model} = toFloat16Compute(g.build())
    const resize = model.graph.nodes.find((n) => n.op === 'Resize')!
    expect(model.graph.initializers.find((i) => i.name === resize.inputs[2])?.tensor.dtype).toBe('float32')
    expect(resize.inputs[0]).toBe('input_fp16')
  })

  it('rewrites the real POSTER++ graph read from its file: logits within 0.05 of float32, landmarks within 0.01', async () => {
    const path = join(dir, 'poster.onnx')
    await writeModel(buildPosterGraph(deterministicWeights(manifest(7))), path)
    const {model, report} = toFloat16Compute(await readModel(path))
    expect(report.saturated).toBe(0)
    expect(report.weights).toBeGreaterThan(300)
    const halfPath = join(dir, 'poster-fp16.onnx')
    await writeModel(model, halfPath)
    const input = deterministicInput(2)
    const exp = expected(7)
    const s = await ort.InferenceSession.create(halfPath)
    try {
      const r = await s.run({input: new ort.Tensor('float32', input.data, [2, 3, 224, 224])})
      const dLogits = maxAbsDiff(r.logits!.data as Float32Array, exp.logits.slice(0, 2).flat())
      const dLandmarks = maxAbsDiff(r.landmarks!.data as Float32Array, exp.landmarks.slice(0, 2).flat())
      process.stderr.write(`fp16 on the CPU provider vs PyTorch fp32: max |Δlogit| ${dLogits.toExponential(2)}, max |Δlandmark| ${dLandmarks.toExponential(2)}\n`)
      expect(dLogits).toBeLessThan(0.05)
      expect(dLandmarks).toBeLessThan(0.01)
    } finally {
      await s.release()
    }
  })
})
