/**
 * Error reasons must depend only on the file: libvips shares one error buffer across threads, so concurrent failing
 * decodes can swap messages. Every decode goes through DecodeGate, which redoes a failed decode alone.
 */
import {describe, expect, it} from 'vitest'

import {preprocessInto} from '../../src/image/preprocess.js'
import {DecodeGate} from '../../src/image/decode-gate.js'
import {bmpBytes, solidImage} from '../helpers/predict-fixtures.js'

function reasonOf(r: PromiseSettledResult<unknown>): string {
  if (r.status === 'fulfilled') return 'ok'
  const e = r.reason as {reason?: string; message?: string}
  return e.reason ?? e.message ?? String(e)
}

describe('DecodeGate', () => {
  it('gives each bad file the same reason however many fail at once', async () => {
    const rleBmp = bmpBytes(8, 8)
    rleBmp.writeUInt32LE(1, 30) // BI_RLE8 with 24 bits per pixel: Pillow cannot read it
    const jpg = await solidImage('jpeg', [1, 2, 3], 64, 64)
    const png = await solidImage('png', [1, 2, 3], 64, 64)
    const files: Array<[Buffer, string]> = [
      [jpg.subarray(0, Math.floor(jpg.length * 0.6)), 'truncated image'],
      [png.subarray(0, Math.floor(png.length / 2)), 'truncated image'],
      [Buffer.from('this is a text file, not a JPEG\n'), 'not an image (unsupported or unrecognised format)'],
      [rleBmp, 'unsupported image format: bmp (RLE8 with 24 bits per pixel)'],
      [Buffer.alloc(0), 'empty file'],
      [png, 'ok'],
    ]
    const out = new Float32Array(files.length * 3 * 224 * 224)
    for (let round = 0; round < 30; round++) {
      const order = files.map((_, i) => (i + round) % files.length)
      const settled = await Promise.allSettled(order.map((i, slot) => preprocessInto(files[i]![0], out, slot * 3 * 224 * 224)))
      settled.forEach((r, slot) => expect(reasonOf(r), `round ${round}, file ${order[slot]}`).toBe(files[order[slot]!]![1]))
    }
  })

  it('runs a retry alone: after the calls in flight end, before calls that start later', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
    const order: string[] = []
    const gate = new DecodeGate()
    const a = gate.run(async () => {
      await sleep(30)
      order.push('A end')
      return 'A'
    })
    let tries = 0
    const b = gate.run(async () => {
      if (tries++ === 0) throw new Error('first try fails')
      order.push('B retry start')
      await sleep(20)
      order.push('B retry end')
      return 'B'
    })
    await sleep(5)
    const c = gate.run(async () => {
      order.push('C')
      return 'C'
    })
    expect(await Promise.all([a, b, c])).toEqual(['A', 'B', 'C'])
    expect(order).toEqual(['A end', 'B retry start', 'B retry end', 'C'])
    // A call that fails twice reports its second error.
    await expect(gate.run(async () => Promise.reject(new Error(`try ${++tries}`)))).rejects.toThrow('try 4')
  })
})
