import {readFileSync} from 'node:fs'
import type {ManifestEntry} from '../../src/poster/deterministic-weights.js'
import {deterministicTensor, posterManifest} from '../../src/poster/deterministic-weights.js'
import type {TensorMap} from '../../src/tensor.js'
import {numel} from '../../src/tensor.js'

export const FIXTURES = new URL('../fixtures/', import.meta.url)

export function readFixtureJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(new URL(rel, FIXTURES), 'utf8')) as T
}

export interface ExpectedParity {
  num_classes: number
  logits: number[][]
  landmarks: number[][]
  weight_samples: Record<string, number[]>
  intermediates: Record<string, {shape: number[]; sum: number; abs_sum: number; first: number[]}>
  image_inputs: string[]
  image_logits: number[][]
}

export function manifest(numClasses: number): ManifestEntry[] {
  return readFixtureJson<ManifestEntry[]>(`parity/manifest-${numClasses}cls.json`)
}

export function expected(numClasses: number): ExpectedParity {
  return readFixtureJson<ExpectedParity>(`parity/expected-${numClasses}cls.json`)
}

/**
 * A state dict with the right keys and shapes but all-zero float values, each a view of one shared buffer, so
 * validation tests need no 240 MB of weights. Integer buffers are real (the relative position index is checked).
 */
export function shapeOnlyWeights(numClasses = 7): TensorMap {
  const entries = posterManifest(numClasses)
  let max = 0
  for (const e of entries) max = Math.max(max, numel(e.shape))
  const shared = new Float32Array(max)
  const out: TensorMap = new Map()
  for (const e of entries) {
    if (e.center === null) out.set(e.key, deterministicTensor(e))
    else out.set(e.key, {dtype: 'float32', shape: [...e.shape], data: shared.subarray(0, numel(e.shape))})
  }
  return out
}

export function maxAbsDiff(actual: ArrayLike<number>, expectedValues: ArrayLike<number>): number {
  if (actual.length !== expectedValues.length) throw new Error(`length ${actual.length} != ${expectedValues.length}`)
  let m = 0
  for (let i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i]! - expectedValues[i]!))
  return m
}
