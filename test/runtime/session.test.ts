import {existsSync} from 'node:fs'
import {mkdtemp, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {openSession, runtimeFingerprint, validateSignature} from '../../src/runtime/session.js'
import {solidChannelMeans, writeTinyModel} from '../helpers/tiny-model.js'

const SPEC = {weights: [[1, 0, -1], [0, 2, 0], [0.5, 0, 1]], bias: [0.1, 0, -0.1]}

function solidBatch(colors: Array<[number, number, number]>): Float32Array {
  const batch = new Float32Array(colors.length * 3 * 224 * 224)
  colors.forEach((rgb, i) => solidChannelMeans(rgb).forEach((m, c) => batch.fill(m, (i * 3 + c) * 224 * 224, (i * 3 + c + 1) * 224 * 224)))
  return batch
}

describe('openSession', () => {
  it('keeps ORT\'s optimised graph in the cache: written once, reused with the same outputs, rebuilt when corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poster-session-'))
    const model = await writeTinyModel(join(dir, 'm.onnx'), SPEC)
    const cache = join(dir, 'opt', `m-${await runtimeFingerprint()}.onnx`)
    const batch = solidBatch([[200, 30, 40], [10, 250, 90]])

    const plain = await openSession(model)
    const want = (await plain.run(batch, 2)).logits
    await plain.release()

    const first = await openSession(model, {optimizedCache: cache})
    expect(existsSync(cache)).toBe(true)
    expect(Array.from((await first.run(batch, 2)).logits)).toEqual(Array.from(want))
    await first.release()
    expect((await readdir(join(dir, 'opt'))).filter((f) => f.includes('.tmp-'))).toEqual([])

    const second = await openSession(model, {optimizedCache: cache})
    expect(Array.from((await second.run(batch, 2)).logits)).toEqual(Array.from(want))
    await second.release()

    await writeFile(cache, 'half a protobuf')
    const third = await openSession(model, {optimizedCache: cache})
    expect(Array.from((await third.run(batch, 2)).logits)).toEqual(Array.from(want))
    await third.release()
  })

  it('still opens when the cache folder cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poster-session-'))
    const model = await writeTinyModel(join(dir, 'm.onnx'), SPEC)
    await writeFile(join(dir, 'file'), 'a file where a folder should be')
    const s = await openSession(model, {optimizedCache: join(dir, 'file', 'sub', 'opt.onnx')})
    expect((await s.run(solidBatch([[1, 2, 3]]), 1)).logits).toHaveLength(3)
    await s.release()
  })

  it('names what it expected and found when a model is not an image classifier', () => {
    expect(() => validateSignature({inputs: [{name: 'x', type: 'float32', shape: ['N', 3, 112, 112]}], outputs: [{name: 'y', type: 'float32', shape: ['N', 7]}]})).toThrow(
      'expected the model input to be float32 [N, 3, 224, 224]; found x: float32 [N, 3, 112, 112]',
    )
    expect(() => validateSignature({inputs: [{name: 'a', type: 'float32', shape: [1]}, {name: 'b', type: 'float32', shape: [1]}], outputs: []})).toThrow(/one image input.*found 2 inputs/)
    expect(() => validateSignature({inputs: [{name: 'x', type: 'float32', shape: ['N', 3, 224, 224]}], outputs: [{name: 'y', type: 'float32', shape: ['N', 7, 7, 3]}]})).toThrow(/logits output \[N, C\]/)
    expect(validateSignature({inputs: [{name: 'x', type: 'float32', shape: [-1, 3, 224, 224]}], outputs: [{name: 'logits', type: 'float32', shape: [-1, 8]}, {name: 'landmarks', type: 'float32', shape: [-1, 68, 2]}]})).toEqual({input: 'x', logits: 'logits', landmarks: 'landmarks'})
  })
})
