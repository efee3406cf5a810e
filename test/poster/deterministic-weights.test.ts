import {describe, expect, it} from 'vitest'
import {relativePositionIndex} from '../../src/poster/cross-attention.js'
import {
  deterministicInput,
  deterministicPosterWeights,
  deterministicTensor,
  deterministicWeights,
  fnv1a32,
  posterManifest,
  uniformAt,
} from '../../src/poster/deterministic-weights.js'
import {expected, manifest} from './helpers.js'

describe('deterministic weight rule', () => {
  it('fnv1a32 matches the reference values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })

  it('uniform values lie in [-1, 1)', () => {
    for (let i = 0; i < 1000; i++) {
      const u = uniformAt(12345, i)
      expect(u).toBeGreaterThanOrEqual(-1)
      expect(u).toBeLessThan(1)
    }
  })

  for (const c of [7, 8]) {
    it(`reproduces weight_samples of expected-${c}cls.json exactly`, () => {
      const exp = expected(c)
      const byKey = new Map(manifest(c).map((e) => [e.key, e]))
      const keys = Object.keys(exp.weight_samples)
      expect(keys.length).toBeGreaterThan(0)
      for (const key of keys) {
        const t = deterministicTensor(byKey.get(key)!)
        expect(Array.from(t.data.slice(0, 8) as Float32Array), key).toEqual(exp.weight_samples[key])
      }
    })

    it(`derives the fixture manifest for ${c} classes from the architecture (keys, order, shapes, rule)`, () => {
      const fixture = manifest(c)
      const mine = posterManifest(c)
      expect(mine.map((e) => e.key)).toEqual(fixture.map((e) => e.key))
      for (let i = 0; i < fixture.length; i++) {
        const f = fixture[i]!
        const m = mine[i]!
        expect([m.key, m.shape, m.dtype, m.center, m.scale]).toEqual([f.key, f.shape, f.dtype, f.center, f.scale])
      }
    })
  }

  it('fills buffers: num_batches_tracked = 0 and the derived relative_position_index', () => {
    const nbt = deterministicTensor({key: 'x.num_batches_tracked', shape: [], dtype: 'int64', center: null, scale: null})
    expect(nbt.dtype).toBe('int64')
    expect(Array.from(nbt.data as BigInt64Array)).toEqual([0n])
    const rpi = deterministicTensor({key: 'attn3.relative_position_index', shape: [49, 49], dtype: 'int64', center: null, scale: null})
    expect(rpi.data.length).toBe(49 * 49)
    expect(Number((rpi.data as BigInt64Array)[0])).toBe(84) // (0-0+6)·13 + (0-0+6)
  })

  it('relative_position_index follows Swin/GCViT for a 2×2 window', () => {
    // coords (0,0) (0,1) (1,0) (1,1); index = (dh + 1)·3 + (dw + 1)
    expect(Array.from(relativePositionIndex(2))).toEqual([4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4])
  })

  it('generates the whole 7-class state dict quickly and identically from the manifest or the architecture', () => {
    const t0 = performance.now()
    const fromFixture = deterministicWeights(manifest(7))
    const ms = performance.now() - t0
    expect(fromFixture.size).toBe(747)
    const fromArch = deterministicPosterWeights(7)
    for (const key of ['VIT.blocks.1.mlp.fc2.weight', 'ir_back.body3.13.res_layer.3.weight', 'attn1.relative_position_index']) {
      const a = fromArch.get(key)!.data
      const b = fromFixture.get(key)!.data
      // byte comparison: a deep toEqual over millions of elements is very slow
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), key).toBe(true)
      expect(a.length, key).toBeGreaterThan(0)
    }
    // 59M values; generous bound for a shared CI core.
    expect(ms).toBeLessThan(10_000)
  })

  it('builds the deterministic input batch', () => {
    const a = deterministicInput(3)
    expect(a.shape).toEqual([3, 3, 224, 224])
    expect(a.data.length).toBe(3 * 3 * 224 * 224)
    const seed = fnv1a32('parity-input-v1')
    for (const i of [0, 1, 150527, 451583]) expect(a.data[i]).toBe(Math.fround(2 * uniformAt(seed, i)))
    // batch 1 is the first item of batch 3
    const one = deterministicInput(1).data
    expect(Buffer.from(one.buffer).equals(Buffer.from(a.data.buffer, 0, one.byteLength))).toBe(true)
  })
})
