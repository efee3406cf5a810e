/** `poster bench` flag handling (the measurements themselves are covered in measure.test.ts). */
import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import Bench from '../../src/commands/bench.js'

const ROOT = new URL('../..', import.meta.url).pathname

describe('poster bench flags', () => {
  it('a --model that does not exist: exit 1, as in eval and predict (the same model resolution)', async () => {
    const r = await captureOutput(() => Bench.run(['--model', 'no-such-model.onnx'], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(1)
    expect(r.error?.message).toMatch(/no such model file: .*no-such-model\.onnx/)
    const j = await captureOutput(() => Bench.run(['--model', 'no-such-model.pth', '--json'], {root: ROOT}))
    expect(JSON.parse(j.stdout)).toEqual({error: {message: expect.stringMatching(/no such model file: .*no-such-model\.pth/), exitCode: 1}})
    process.exitCode = undefined
  })

  it('refuses --runs 0 as a usage error, naming the flag', async () => {
    const r = await captureOutput(() => Bench.run(['--runs', '0'], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(2)
    expect(r.error?.message).toMatch(/--runs/)
  })
})
