import {describe, expect, it} from 'vitest'

import {runBatches, UnitFailure, type PreparedInput, type PreparedUnit} from '../../src/runtime/batches.js'
import type {LoadedSession, RunOutputs} from '../../src/runtime/session.js'

const ITEM = 3 * 224 * 224

/** A session whose single logit per input is the input's first float, recording each call's batch size. */
function fakeSession(calls: number[]): LoadedSession {
  return {
    signature: {inputs: [], outputs: []},
    inputName: 'input',
    logitsName: 'logits',
    providers: ['cpu'],
    device: 'cpu',
    async run(batch: Float32Array, n: number): Promise<RunOutputs> {
      calls.push(n)
      expect(batch.length).toBeGreaterThanOrEqual(n * ITEM)
      const logits = new Float32Array(n)
      for (let i = 0; i < n; i++) logits[i] = batch[i * ITEM]!
      return {logits}
    },
    endProfiling: async () => undefined,
    release: async () => {},
  }
}

interface Tagged extends PreparedInput {
  tag: number
}
const input = (tag: number): Tagged => ({tag, fill: (out, offset) => out.fill(tag, offset, offset + ITEM)})

/** Unit i holds faces[i] inputs tagged 10*i + k; a negative count is a failure. */
function units(faces: number[]): (unit: number) => Promise<PreparedUnit<Tagged>> {
  return async (i) => {
    const k = faces[i]!
    if (k < 0) throw Object.assign(new Error('boom'), {reason: `unit ${i} is unreadable`})
    return {ok: true, inputs: Array.from({length: k}, (_, j) => input(10 * i + j))}
  }
}

describe('runBatches', () => {
  it('gives each unit the outputs of its own inputs, in order, however many each has', async () => {
    const faces = [1, 3, 0, -1, 2, 1, 4]
    const calls: number[] = []
    const seen: Array<{index: number; ok: boolean; error?: string; tags: number[]; logits: number[]}> = []
    for await (const batch of runBatches(fakeSession(calls), faces.keys(), {batchSize: 2, prepare: units(faces)})) {
      for (const o of batch) {
        seen.push({index: o.index, ok: o.ok, error: o.error, tags: o.inputs.map((x) => x.input.tag), logits: o.inputs.map((x) => x.output.logits[0]!)})
      }
    }
    expect(seen.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6])
    for (const s of seen) {
      const k = faces[s.index]!
      if (k < 0) {
        expect(s).toMatchObject({ok: false, error: `unit ${s.index} is unreadable`, tags: []})
        continue
      }
      expect(s.ok).toBe(true)
      expect(s.tags).toEqual(Array.from({length: k}, (_, j) => 10 * s.index + j))
      expect(s.logits).toEqual(s.tags) // each output came from its own input's tensor slot
    }
    // Batches of 2 units: {1,3} inputs → calls of 2 and 2; {0, fail} → none; {2,1} → 2 and 1; {4} → 2 and 2.
    expect(calls).toEqual([2, 2, 2, 1, 2, 2])
    expect(Math.max(...calls)).toBeLessThanOrEqual(2)
  })

  it('under strict, stops at the first unit that fails, naming it', async () => {
    const run = async () => {
      for await (const _ of runBatches(fakeSession([]), [0, 1, 2, 3], {batchSize: 2, prepare: units([1, 1, -1, 1]), strict: true, describe: (i) => `img${i}.jpg`})) {
        // consume
      }
    }
    await expect(run()).rejects.toThrow(UnitFailure)
    await expect(run()).rejects.toThrow('img2.jpg: unit 2 is unreadable')
  })

  it('reads a stream of units in order, a batch at a time, and tells each outcome its unit', async () => {
    async function* frames() {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 1))
        yield {frame: i, faces: i % 2 === 0 ? 1 : 2}
      }
    }
    const calls: number[] = []
    const got: Array<[number, number, number]> = []
    for await (const batch of runBatches(fakeSession(calls), frames(), {
      batchSize: 2,
      prepare: async (u) => ({ok: true, inputs: Array.from({length: u.faces}, (_, j) => input(100 * u.frame + j))}),
    })) {
      for (const o of batch) got.push([o.index, o.unit.frame, o.inputs.length])
    }
    expect(got).toEqual([[0, 0, 1], [1, 1, 2], [2, 2, 1], [3, 3, 2], [4, 4, 1]])
    expect(calls).toEqual([2, 1, 2, 1, 1])
  })

  it('runs nothing for no units', async () => {
    const calls: number[] = []
    const batches = []
    for await (const b of runBatches(fakeSession(calls), [], {batchSize: 4, prepare: units([])})) batches.push(b)
    expect(batches).toEqual([])
    expect(calls).toEqual([])
  })
})
