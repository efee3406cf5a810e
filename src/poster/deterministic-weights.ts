/**
 * Deterministic pseudo-random POSTER++ weights and input, bit-identical to the parity fixtures
 * (test/fixtures/README.md): for every state_dict entry with a (center, scale),
 *   seed = fnv1a32(WEIGHT_SEED + ':' + key)
 *   x = (i·0x9E3779B1 + seed) mod 2³², then the murmur3 finaliser,  u = x / 2³² · 2 − 1
 *   value[i] = float32(center + scale·u)
 * num_batches_tracked is 0 and relative_position_index is derived from the window size. The input batch is
 * float32(2·u) with seed fnv1a32(INPUT_SEED). Used by the parity tests and the built-in demo model.
 */

import {INPUT_SIZE} from '../basics.js'
import type {HostTensor, TensorMap} from '../tensor.js'
import {numel} from '../tensor.js'
import {posterV2Spec} from './architecture.js'
import {relativePositionIndex} from './cross-attention.js'
import {fnv1a32} from '../hash.js'

export const WEIGHT_SEED = 'poster-parity-v1'
export const INPUT_SEED = 'parity-input-v1'

/** One entry of manifest-{7,8}cls.json. */
export interface ManifestEntry {
  key: string
  shape: number[]
  dtype: string
  center: number | null
  scale: number | null
}

export {fnv1a32} from '../hash.js'

/** The i-th uniform value in [-1, 1) of the stream `seed`. */
export function uniformAt(seed: number, i: number): number {
  let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return ((x >>> 0) / 4294967296) * 2 - 1
}

/** Fill `out` with float32(center + scale·u_i), i = 0..n-1 (assignment to a Float32Array rounds once). */
export function fillDeterministic(out: Float32Array, seed: number, center: number, scale: number): Float32Array {
  const n = out.length
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + seed) >>> 0
    x ^= x >>> 16
    x = Math.imul(x, 0x85ebca6b)
    x ^= x >>> 13
    x = Math.imul(x, 0xc2b2ae35)
    x ^= x >>> 16
    out[i] = center + scale * (((x >>> 0) / 4294967296) * 2 - 1)
  }
  return out
}

/** The tensor for one manifest entry. */
export function deterministicTensor(entry: ManifestEntry, weightSeed = WEIGHT_SEED): HostTensor {
  const n = numel(entry.shape)
  if (entry.center !== null && entry.scale !== null) {
    const data = fillDeterministic(new Float32Array(n), fnv1a32(`${weightSeed}:${entry.key}`), entry.center, entry.scale)
    return {dtype: 'float32', shape: [...entry.shape], data}
  }
  if (entry.key.endsWith('num_batches_tracked')) return {dtype: 'int64', shape: [...entry.shape], data: new BigInt64Array(n)}
  if (entry.key.endsWith('relative_position_index')) {
    const w = Math.round(Math.sqrt(entry.shape[0]!))
    const idx = relativePositionIndex(w)
    return {dtype: 'int64', shape: [...entry.shape], data: BigInt64Array.from(idx, (v) => BigInt(v))}
  }
  throw new Error(`no deterministic rule for ${entry.key}`)
}

/** A full state dict (official key order) from a manifest. */
export function deterministicWeights(manifest: readonly ManifestEntry[], weightSeed = WEIGHT_SEED): TensorMap {
  const out: TensorMap = new Map()
  for (const e of manifest) out.set(e.key, deterministicTensor(e, weightSeed))
  return out
}

/** The manifest of pyramid_trans_expr2(numClasses) as the fixtures define it (no fixture file needed). */
export function posterManifest(numClasses: number): ManifestEntry[] {
  return posterV2Spec(numClasses).map((p) => ({key: p.key, shape: p.shape, dtype: p.dtype, center: p.center, scale: p.scale}))
}

/** Deterministic POSTER++ weights for `numClasses` (the parity fixtures' weights for 7 and 8). */
export function deterministicPosterWeights(numClasses = 7, weightSeed = WEIGHT_SEED): TensorMap {
  return deterministicWeights(posterManifest(numClasses), weightSeed)
}

/** The deterministic input batch [batch, 3, 224, 224]: float32(2·u_i). */
export function deterministicInput(batch = 3, seed = INPUT_SEED): {shape: number[]; data: Float32Array} {
  const shape = [batch, 3, INPUT_SIZE, INPUT_SIZE]
  return {shape, data: fillDeterministic(new Float32Array(numel(shape)), fnv1a32(seed), 0, 2)}
}
