/** `poster bench` flag handling (the measurements themselves are covered in measure.test.ts). */
import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import Bench from '../../src/commands/bench.js'

const ROOT = new URL('../..', import.meta.url).pathname

describe('poster bench flags', () => {
  it('refuses a --model that is not an existing .onnx file, with exit 2', async () => {
    const r = await captureOutput(() => Bench.run(['--model', 'no-such-model.onnx'], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(2)
    expect(r.error?.message).toMatch(/existing \.onnx file/)
    const j = await captureOutput(() => Bench.run(['--model', 'model.pth', '--json'], {root: ROOT}))
    expect(JSON.parse(j.stdout)).toEqual({error: {message: expect.stringContaining('.onnx'), exitCode: 2}})
    process.exitCode = undefined
  })

  it('refuses --runs 0', async () => {
    const r = await captureOutput(() => Bench.run(['--runs', '0'], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(2)
  })
})
