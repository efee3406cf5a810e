/**
 * Tiny ONNX image classifiers built in code for tests: the per-channel mean of the normalised input times a
 * weight matrix, plus a bias. With solid-colour images the expected logits are computable by hand:
 * channel mean m_c = (v_c/255 - mean_c)/std_c, logits_k = sum_c m_c * W[c][k] + b[k] (onnxruntime sums the
 * 50,176 equal values in float32, so compare to ~1e-3).
 */
import {writeFile} from 'node:fs/promises'

import {RAFDB} from '../../src/datasets/labels.js'
import {GraphBuilder, serializeModel} from '../../src/onnx/index.js'

export const IMAGENET_MEAN = [0.485, 0.456, 0.406]
export const IMAGENET_STD = [0.229, 0.224, 0.225]

export interface TinyModelSpec {
  /** W[c][k], 3 rows (RGB) × C columns. */
  weights: number[][]
  bias?: number[]
  /** Class names for the `labels` metadata (omit to write none). */
  labels?: string[]
  /** Add a `landmarks` [N,68,2] output: sigmoid of the channel means times fixed weights. */
  landmarks?: boolean
  /** Override the declared input shape (to test the wrong-shape refusal). */
  inputShape?: Array<number | string>
}

export function tinyModelBytes(spec: TinyModelSpec): Buffer {
  const C = spec.weights[0].length
  const g = new GraphBuilder({name: 'tiny'})
  const x = g.input('input', 'float32', spec.inputShape ?? ['N', 3, 224, 224])
  const mean = g.node('ReduceMean', [x, g.int64([2, 3])], {keepdims: 0})
  const w = g.weight('w', Float32Array.from(spec.weights.flat()), [3, C])
  const b = g.weight('b', Float32Array.from(spec.bias ?? new Array(C).fill(0)), [C])
  const logits = g.node('Add', [g.node('MatMul', [mean, w]), b])
  g.output(logits, 'logits', 'float32', ['N', C])
  if (spec.landmarks) {
    const lw = new Float32Array(3 * 136)
    for (let i = 0; i < lw.length; i++) lw[i] = ((i % 7) - 3) / 10
    const lm = g.node('Sigmoid', [g.node('MatMul', [mean, g.weight('lw', lw, [3, 136])])])
    const shaped = g.node('Reshape', [lm, g.int64([-1, 68, 2])])
    g.output(shaped, 'landmarks', 'float32', ['N', 68, 2])
  }
  const meta: Record<string, string> = {}
  if (spec.labels) meta.labels = JSON.stringify(spec.labels)
  return serializeModel(g.build(meta))
}

export async function writeTinyModel(path: string, spec: TinyModelSpec): Promise<string> {
  await writeFile(path, tinyModelBytes(spec))
  return path
}

/** The normalised channel means of a solid-colour image, in float32 as torchvision computes them. */
export function solidChannelMeans(rgb: [number, number, number]): number[] {
  return rgb.map((v, c) => Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(IMAGENET_MEAN[c])) / Math.fround(IMAGENET_STD[c])))
}

/** Expected logits for a solid-colour image, by the formula above. */
export function expectedLogits(spec: TinyModelSpec, rgb: [number, number, number]): number[] {
  const m = solidChannelMeans(rgb)
  const C = spec.weights[0].length
  return Array.from({length: C}, (_, k) => m[0] * spec.weights[0][k] + m[1] * spec.weights[1][k] + m[2] * spec.weights[2][k] + (spec.bias?.[k] ?? 0))
}

/** Expected landmark output (normalised) for a solid-colour image. */
export function expectedLandmarks(rgb: [number, number, number]): number[] {
  const m = solidChannelMeans(rgb)
  const out: number[] = []
  for (let j = 0; j < 136; j++) {
    let s = 0
    for (let c = 0; c < 3; c++) s += m[c] * (((c * 136 + j) % 7) - 3) / 10
    out.push(1 / (1 + Math.exp(-s)))
  }
  return out
}

/** Solid colours that SEVEN_CLASS_SPEC maps to seven distinct classes with wide margins. */
export const SEVEN_COLORS: Array<[number, number, number]> = [
  [250, 20, 20], // red
  [20, 250, 20], // green
  [20, 20, 250], // blue
  [250, 250, 20], // yellow
  [20, 250, 250], // cyan
  [250, 20, 250], // magenta
  [128, 128, 128], // grey
]

/** A 7-class model named in RAF-DB order; each of SEVEN_COLORS wins a different class. */
export const SEVEN_CLASS_SPEC: TinyModelSpec = {
  weights: [
    [3, -2, -2, 1.5, -3, 1.5, 0],
    [-2, 3, -2, 1.5, 1.5, -3, 0],
    [-2, -2, 3, -3, 1.5, 1.5, 0],
  ],
  bias: [0, 0, 0, 0, 0, 0, 1],
  labels: RAFDB.names,
}
