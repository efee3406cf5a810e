/**
 * Optional end-to-end check on a full-size checkpoint written by test/fixtures/parity/make_checkpoint.py
 * (about 240 MB, never committed). Run with e.g.
 *   /usr/bin/python3 test/fixtures/parity/make_checkpoint.py test/fixtures/parity/manifest-7cls.json poster-parity-v1 /tmp/ckpt7.pth
 *   POSTER_FULL_CHECKPOINT=/tmp/ckpt7.pth npx vitest run test/checkpoint/full.test.ts
 * (POSTER_FULL_CHECKPOINT_CLASSES=8 for a checkpoint made from manifest-8cls.json).
 */
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {readCheckpoint} from '../../src/checkpoint/index.js'

const path = process.env.POSTER_FULL_CHECKPOINT
const classes = process.env.POSTER_FULL_CHECKPOINT_CLASSES ?? '7'
const parity = (name: string) => fileURLToPath(new URL(`../fixtures/parity/${name}`, import.meta.url))

describe.skipIf(!path)('full-size checkpoint (POSTER_FULL_CHECKPOINT)', () => {
  it('reads every tensor of the manifest with the deterministic weights', async () => {
    const manifest = JSON.parse(readFileSync(parity(`manifest-${classes}cls.json`), 'utf8')) as {key: string; shape: number[]; dtype: string}[]
    const expected = JSON.parse(readFileSync(parity(`expected-${classes}cls.json`), 'utf8')) as {weight_samples: Record<string, number[]>}
    const t0 = performance.now()
    const ck = await readCheckpoint(path!)
    const ms = performance.now() - t0
    console.log(`read ${ck.stateDict.size} tensors (${ck.format}) in ${ms.toFixed(0)} ms, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`)
    expect([...ck.stateDict.keys()]).toEqual(manifest.map((e) => e.key))
    for (const e of manifest) {
      const t = ck.stateDict.get(e.key)!
      expect(t.dtype, e.key).toBe(e.dtype)
      expect(t.shape, e.key).toEqual(e.shape)
    }
    for (const [key, sample] of Object.entries(expected.weight_samples)) {
      expect(Array.from(ck.stateDict.get(key)!.data.subarray(0, sample.length) as Float32Array), key).toEqual(sample)
    }
    expect(ck.meta.epoch).toBe(200)
    expect(ck.meta.best_acc).toBe(92.21)
  })
})
