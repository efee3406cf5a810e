/**
 * --batch-size auto and --dtype fp16 as a shell uses them (the built CLI): usage errors exit 2 before anything is
 * read; auto on the CPU is the default batch and writes the same CSV; on WebGPU (when a Vulkan adapter is present)
 * fp16 runs the model's float16 copy, close to float32, and a run is never resumed under the other dtype.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {probeDevice} from '../../src/runtime/session.js'
import {bmpBytes} from '../helpers/predict-fixtures.js'

/** An 8×8 BMP of one colour (24-bit rows are BGR, padded to 4 bytes). */
function solidBmp(rgb: readonly [number, number, number]): Buffer {
  const b = bmpBytes(8, 8)
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) b.set([rgb[2], rgb[1], rgb[0]], 54 + y * 24 + x * 3)
  return b
}
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'poster-gpu-flags-'))
const cache = join(work, 'cache')

function poster(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1', POSTER_CACHE: cache}})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n ›\s+/g, ' ')}
}

function probabilities(csv: string): number[][] {
  const [head, ...rows] = readFileSync(csv, 'utf8').trim().split('\n')
  const cols = head!.split(',').map((c, i) => [c, i] as const).filter(([c]) => c.startsWith('p_')).map(([, i]) => i)
  return rows.map((r) => cols.map((i) => Number(r.split(',')[i])))
}

let model: string
let images: string
beforeAll(async () => {
  model = await writeTinyModel(join(work, 'tiny.onnx'), SEVEN_CLASS_SPEC)
  images = join(work, 'images')
  mkdirSync(images)
  for (const [i, rgb] of ([[200, 30, 40], [10, 250, 90], [90, 90, 240]] as const).entries()) writeFileSync(join(images, `${i}.bmp`), solidBmp(rgb))
})
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('--batch-size and --dtype', () => {
  it('refuses a malformed batch size and fp16 on the CPU with exit 2', () => {
    for (const bad of ['0', '-1', '2.5', 'big']) {
      const r = poster(['predict', images, '--model', model, '--batch-size', bad, '--out', join(work, `bad-${bad}.csv`)])
      expect(r.status, bad).toBe(2)
      expect(r.stderr).toContain(`--batch-size expects a positive integer or auto, got "${bad}"`)
    }
    for (const cmd of [['predict', images], ['eval', images]]) {
      const r = poster([...cmd, '--model', model, '--dtype', 'fp16', '--out', join(work, 'fp16-cpu')])
      expect(r.status).toBe(2)
      expect(r.stderr).toContain('--dtype fp16 needs --device cuda or --device webgpu')
    }
  })

  it('auto on the CPU is the default batch: the same CSV as --batch-size 32', () => {
    const a = poster(['predict', images, '--model', model, '--batch-size', 'auto', '--out', join(work, 'auto.csv')])
    const b = poster(['predict', images, '--model', model, '--out', join(work, 'default.csv')])
    expect([a.status, b.status]).toEqual([0, 0])
    expect(a.stderr).not.toContain('--batch-size auto:')
    expect(readFileSync(join(work, 'auto.csv'), 'utf8')).toBe(readFileSync(join(work, 'default.csv'), 'utf8'))
  })

  it('on WebGPU: auto picks by the adapter, fp16 stays within 1e-2 of float32, and resuming across dtypes is refused', async (ctx) => {
    const probe = await probeDevice('webgpu')
    if (!probe.loads) return ctx.skip(`no WebGPU adapter: ${probe.error}`)
    const fp32 = join(work, 'webgpu-fp32.csv')
    const fp16 = join(work, 'webgpu-fp16.csv')
    const r32 = poster(['predict', images, '--model', model, '--device', 'webgpu', '--out', fp32])
    const r16 = poster(['predict', images, '--model', model, '--device', 'webgpu', '--dtype', 'fp16', '--batch-size', 'auto', '--out', fp16])
    expect([r32.status, r16.status], r32.stderr + r16.stderr).toEqual([0, 0])
    expect(r16.stderr).toMatch(/--batch-size auto: \d+ \(webgpu/)
    expect(r16.stderr).toContain('writing the float16-compute copy')
    const [p32, p16] = [probabilities(fp32), probabilities(fp16)]
    expect(p16).toHaveLength(3)
    let max = 0
    p32.forEach((row, i) => row.forEach((v, k) => (max = Math.max(max, Math.abs(v - p16[i]![k]!)))))
    expect(max).toBeLessThan(1e-2)
    p32.forEach((row, i) => expect(p16[i]!.indexOf(Math.max(...p16[i]!))).toBe(row.indexOf(Math.max(...row))))
    const resumed = poster(['predict', images, '--model', model, '--device', 'webgpu', '--dtype', 'fp16', '--out', fp32, '--resume'])
    expect(resumed.status).toBe(1)
    expect(resumed.stderr).toMatch(/model\.dtype/)
  })
})
