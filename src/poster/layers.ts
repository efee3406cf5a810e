/**
 * PyTorch layers as ONNX nodes, reading their parameters from a state dict by key. BatchNorm that follows a
 * convolution or linear layer is folded into it at build time (in float64, rounded once to float32).
 */

import {attr, GraphBuilder} from '../onnx/graph.js'
import {bfloat16ArrayToFloat32, float16ArrayToFloat32} from '../onnx/float16.js'
import type {HostTensor, TensorMap} from '../tensor.js'

/** PyTorch's BatchNorm default epsilon, used by every BatchNorm in POSTER++. */
export const BN_EPS = 1e-5

/** Read access to a (validated) state dict, converting float storage types to float32/float64 on demand. */
export class Weights {
  constructor(private readonly map: TensorMap) {}

  has(key: string): boolean {
    return this.map.has(key)
  }

  tensor(key: string): HostTensor {
    const t = this.map.get(key)
    if (!t) throw new Error(`weight ${key} is missing`)
    return t
  }

  shape(key: string): number[] {
    return this.tensor(key).shape
  }

  f32(key: string): Float32Array {
    const t = this.tensor(key)
    switch (t.dtype) {
      case 'float32': return t.data as Float32Array
      case 'float16': return float16ArrayToFloat32(t.data as Uint16Array)
      case 'bfloat16': return bfloat16ArrayToFloat32(t.data as Uint16Array)
      case 'float64': return Float32Array.from(t.data as Float64Array)
      default: throw new Error(`weight ${key} has dtype ${t.dtype}, a float type was expected`)
    }
  }

  f64(key: string): Float64Array {
    const t = this.tensor(key)
    return t.dtype === 'float64' ? (t.data as Float64Array) : Float64Array.from(this.f32(key))
  }
}

/** What every block builder gets: the graph under construction and the weights. */
export interface Ctx {
  g: GraphBuilder
  w: Weights
}

/** Per-channel (scale, shift) of an inference-mode BatchNorm, in float64. */
export function bnAffine(w: Weights, prefix: string): {scale: Float64Array; shift: Float64Array} {
  const gamma = w.f64(`${prefix}.weight`)
  const beta = w.f64(`${prefix}.bias`)
  const mean = w.f64(`${prefix}.running_mean`)
  const variance = w.f64(`${prefix}.running_var`)
  const scale = new Float64Array(gamma.length)
  const shift = new Float64Array(gamma.length)
  for (let c = 0; c < gamma.length; c++) {
    scale[c] = gamma[c]! / Math.sqrt(variance[c]! + BN_EPS)
    shift[c] = beta[c]! - mean[c]! * scale[c]!
  }
  return {scale, shift}
}

export interface ConvOptions {
  stride?: number
  pad?: number
  groups?: number
  /** Key of the convolution's own bias, if it has one. */
  bias?: string
  /** Prefix of a BatchNorm applied right after the convolution: folded into its weight and bias. */
  bn?: string
  name?: string
}

/** nn.Conv2d (square kernel), optionally followed by a folded BatchNorm2d. */
export function conv2d(ctx: Ctx, x: string, weightKey: string, opts: ConvOptions = {}): string {
  const {g, w} = ctx
  const shape = w.shape(weightKey)
  const [outC, , kh, kw] = shape as [number, number, number, number]
  const stride = opts.stride ?? 1
  const pad = opts.pad ?? 0
  const groups = opts.groups ?? 1
  const name = opts.name ?? weightKey.replace(/\.weight$/, '')
  let weight: Float32Array
  let bias: Float32Array | undefined
  if (opts.bn) {
    const {scale, shift} = bnAffine(w, opts.bn)
    const src = w.f32(weightKey)
    const per = src.length / outC
    weight = new Float32Array(src.length)
    for (let o = 0; o < outC; o++) {
      const s = scale[o]!
      for (let i = o * per, end = i + per; i < end; i++) weight[i] = src[i]! * s
    }
    const convBias = opts.bias ? w.f64(opts.bias) : undefined
    bias = new Float32Array(outC)
    for (let o = 0; o < outC; o++) bias[o] = (convBias ? convBias[o]! * scale[o]! : 0) + shift[o]!
  } else {
    weight = w.f32(weightKey)
    if (opts.bias) bias = w.f32(opts.bias)
  }
  const inputs = [x, g.weight(`${name}.weight`, weight, shape)]
  if (bias) inputs.push(g.weight(`${name}.bias`, bias, [outC]))
  return g.node(
    'Conv',
    inputs,
    {kernel_shape: [kh, kw], strides: [stride, stride], pads: [pad, pad, pad, pad], group: groups},
    {name},
  )
}

/** nn.BatchNorm2d in inference mode as one BatchNormalization node (used where it cannot be folded). */
export function batchNorm2d(ctx: Ctx, x: string, prefix: string): string {
  const {g, w} = ctx
  const c = w.shape(`${prefix}.weight`)
  const p = (s: string) => g.weight(`${prefix}.${s}`, w.f32(`${prefix}.${s}`), c)
  return g.node(
    'BatchNormalization',
    [x, p('weight'), p('bias'), p('running_mean'), p('running_var')],
    {epsilon: attr.float(BN_EPS)},
    {name: prefix},
  )
}

/** nn.PReLU(C) on an NCHW tensor. */
export function prelu(ctx: Ctx, x: string, key: string): string {
  const {g, w} = ctx
  const slope = w.f32(key)
  return g.node('PRelu', [x, g.weight(key, slope, [slope.length, 1, 1])], {}, {name: key.replace(/\.weight$/, '')})
}

/**
 * nn.Linear on a [..., in] tensor: MatMul by the transposed weight plus bias (rank > 2), or one Gemm (rank 2).
 * `rows` selects a contiguous block of output features [start, end) (e.g. the k or v part of a fused qkv).
 */
export function linear(
  ctx: Ctx,
  x: string,
  prefix: string,
  opts: {rank?: number; rows?: [number, number]; name?: string; bias?: boolean; scaleRows?: Float64Array; shiftRows?: Float64Array} = {},
): string {
  const {g, w} = ctx
  const [outAll, inF] = w.shape(`${prefix}.weight`) as [number, number]
  const [r0, r1] = opts.rows ?? [0, outAll]
  const out = r1 - r0
  const name = opts.name ?? prefix
  const src = w.f32(`${prefix}.weight`)
  const hasBias = opts.bias ?? true
  const srcBias = hasBias ? w.f32(`${prefix}.bias`) : undefined
  let bias: Float32Array | undefined
  if (srcBias || opts.shiftRows) {
    bias = new Float32Array(out)
    for (let o = 0; o < out; o++) {
      const b = srcBias ? srcBias[r0 + o]! : 0
      bias[o] = opts.scaleRows ? b * opts.scaleRows[o]! + opts.shiftRows![o]! : b
    }
  }
  const rank = opts.rank ?? 3
  if (rank === 2) {
    // Gemm(x, W, b, transB=1): the weight keeps PyTorch's [out, in] layout.
    let weight =
      r0 === 0 && r1 === outAll ? src : src.subarray(r0 * inF, r1 * inF)
    if (opts.scaleRows) {
      const scaled = new Float32Array(weight.length)
      for (let o = 0; o < out; o++) {
        const s = opts.scaleRows[o]!
        for (let i = 0; i < inF; i++) scaled[o * inF + i] = weight[o * inF + i]! * s
      }
      weight = scaled
    }
    const inputs = [x, g.weight(`${name}.weight`, weight, [out, inF])]
    if (bias) inputs.push(g.weight(`${name}.bias`, bias, [out]))
    return g.node('Gemm', inputs, {transB: 1}, {name})
  }
  if (opts.scaleRows) throw new Error('scaleRows is only supported for rank-2 linear layers')
  const wt = new Float32Array(inF * out)
  for (let o = 0; o < out; o++) {
    const row = (r0 + o) * inF
    for (let i = 0; i < inF; i++) wt[i * out + o] = src[row + i]!
  }
  const y = g.node('MatMul', [x, g.weight(`${name}.weight_t`, wt, [inF, out])], {}, {name: `${name}.matmul`})
  if (!bias) return y
  return g.node('Add', [y, g.weight(`${name}.bias`, bias, [out])], {}, {name: `${name}.bias_add`})
}

/** nn.LayerNorm over the last axis. */
export function layerNorm(ctx: Ctx, x: string, prefix: string, eps: number): string {
  const {g, w} = ctx
  const c = w.shape(`${prefix}.weight`)
  return g.node(
    'LayerNormalization',
    [x, g.weight(`${prefix}.weight`, w.f32(`${prefix}.weight`), c), g.weight(`${prefix}.bias`, w.f32(`${prefix}.bias`), c)],
    {axis: -1, epsilon: attr.float(eps)},
    {name: prefix},
  )
}

/** nn.GELU() (exact, erf based). */
export function gelu(ctx: Ctx, x: string, name: string): string {
  return ctx.g.node('Gelu', [x], {approximate: 'none'}, {name})
}
