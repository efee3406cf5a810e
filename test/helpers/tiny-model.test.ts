import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {openSession} from '../../src/runtime/session.js'
import {expectedLandmarks, expectedLogits, solidChannelMeans, writeTinyModel} from './tiny-model.js'

describe('tiny test classifier', () => {
  it('computes the hand formula through onnxruntime, at any batch size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poster-tiny-'))
    const spec = {weights: [[1, 0, -1], [0, 2, 0], [0.5, 0, 1]], bias: [0.1, 0, -0.1], landmarks: true}
    const session = await openSession(await writeTinyModel(join(dir, 'm.onnx'), spec))
    const colors: Array<[number, number, number]> = [[200, 30, 40], [10, 250, 90]]
    const batch = new Float32Array(colors.length * 3 * 224 * 224)
    colors.forEach((rgb, i) => solidChannelMeans(rgb).forEach((m, c) => batch.fill(m, (i * 3 + c) * 224 * 224, (i * 3 + c + 1) * 224 * 224)))
    const out = await session.run(batch, colors.length, {landmarks: true})
    colors.forEach((rgb, i) => {
      expectedLogits(spec, rgb).forEach((v, k) => expect(out.logits[i * 3 + k]).toBeCloseTo(v, 3))
      expectedLandmarks(rgb).forEach((v, j) => expect(out.landmarks![i * 136 + j]).toBeCloseTo(v, 3))
    })
    await session.release()
  })
})
