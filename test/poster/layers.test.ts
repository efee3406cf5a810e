import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {GraphBuilder} from '../../src/onnx/graph.js'
import {serializeModel} from '../../src/onnx/write.js'
import {float32ArrayToFloat16} from '../../src/onnx/float16.js'
import {bnAffine, conv2d, Weights} from '../../src/poster/layers.js'
import type {TensorMap} from '../../src/tensor.js'

describe('Weights', () => {
  it('reads float32, float16, bfloat16 and float64 storage as float32', () => {
    const v = Float32Array.from([1, -2.5, 0.125])
    const map: TensorMap = new Map([
      ['f32', {dtype: 'float32', shape: [3], data: v}],
      ['f16', {dtype: 'float16', shape: [3], data: float32ArrayToFloat16(v)}],
      ['bf16', {dtype: 'bfloat16', shape: [3], data: Uint16Array.from([0x3f80, 0xc020, 0x3e00])}],
      ['f64', {dtype: 'float64', shape: [3], data: Float64Array.from(v)}],
      ['i64', {dtype: 'int64', shape: [1], data: new BigInt64Array(1)}],
    ])
    const w = new Weights(map)
    for (const k of ['f32', 'f16', 'bf16', 'f64']) expect(Array.from(w.f32(k)), k).toEqual([1, -2.5, 0.125])
    expect(() => w.f32('i64')).toThrow(/float type was expected/)
    expect(() => w.f32('nope')).toThrow(/missing/)
  })
})

describe('Conv + BatchNorm folding', () => {
  it('equals conv followed by inference-mode BatchNorm', async () => {
    // 2 output channels, 1 input channel, 3×3 kernel, padding 1, on a 4×4 input.
    const weight = Float32Array.from({length: 18}, (_, i) => Math.sin(i + 1))
    const bn = {weight: [1.5, 0.5], bias: [0.1, -0.2], running_mean: [0.3, -0.4], running_var: [0.8, 1.7]}
    const map: TensorMap = new Map([['c.weight', {dtype: 'float32', shape: [2, 1, 3, 3], data: weight}]])
    for (const [k, v] of Object.entries(bn)) map.set(`bn.${k}`, {dtype: 'float32', shape: [2], data: Float32Array.from(v)})
    const g = new GraphBuilder()
    const w = new Weights(map)
    const x = g.input('x', 'float32', ['N', 1, 4, 4])
    g.output(conv2d({g, w}, x, 'c.weight', {pad: 1, bn: 'bn'}), 'y', 'float32', ['N', 2, 4, 4])
    const s = await ort.InferenceSession.create(serializeModel(g.build()))
    const input = Float32Array.from({length: 16}, (_, i) => Math.cos(i))
    const y = (await s.run({x: new ort.Tensor('float32', input, [1, 1, 4, 4])})).y!.data as Float32Array
    const {scale, shift} = bnAffine(w, 'bn')
    for (let o = 0; o < 2; o++) {
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 4; c++) {
          let acc = 0
          for (let kr = 0; kr < 3; kr++) {
            for (let kc = 0; kc < 3; kc++) {
              const rr = r + kr - 1
              const cc = c + kc - 1
              if (rr >= 0 && rr < 4 && cc >= 0 && cc < 4) acc += weight[o * 9 + kr * 3 + kc]! * input[rr * 4 + cc]!
            }
          }
          const f = (k: keyof typeof bn) => Math.fround(bn[k][o]!) // the stored float32 values
          const ref = ((acc - f('running_mean')) / Math.sqrt(f('running_var') + 1e-5)) * f('weight') + f('bias')
          expect(y[o * 16 + r * 4 + c]).toBeCloseTo(ref, 5)
          expect(acc * scale[o]! + shift[o]!).toBeCloseTo(ref, 10)
        }
      }
    }
    await s.release()
  })
})
