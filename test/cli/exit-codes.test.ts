/**
 * The documented exit codes, as a shell sees them: the built CLI (`npm test` builds first) run in a child process.
 * 0 ok, 1 error, 2 usage, 3 regression.
 */
import {spawnSync} from 'node:child_process'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function poster(...args: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** A metrics.json over two classes with the given per-class recalls (100 images each). */
async function run(dir: string, recalls: [number, number]): Promise<string> {
  await mkdir(dir, {recursive: true})
  const per_class = ['Happy', 'Sad'].map((name, i) => ({name, precision: recalls[i], recall: recalls[i], f1: recalls[i], support: 100}))
  const mean = (recalls[0] + recalls[1]) / 2
  const metrics = {accuracy: mean, mean_class_accuracy: mean, macro_f1: mean, per_class, labels: ['Happy', 'Sad'], split: 'test', n_images: 200, dataset: {benchmark: 'rafdb'}}
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(metrics))
  return dir
}

describe('exit codes of the built CLI', () => {
  let work: string
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'poster-exit-'))
  })

  it('0: help, and a check that holds', async () => {
    expect(poster('--help').status).toBe(0)
    const base = await run(join(work, 'base0'), [0.9, 0.8])
    const now = await run(join(work, 'now0'), [0.9, 0.8])
    const r = poster('check', now, '--baseline', base)
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/verdict: pass/)
  })

  it('1: an error the user can act on, said on stderr', () => {
    const r = poster('check', join(work, 'nope'), '--baseline', join(work, 'nope2'))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/no such run folder or metrics file/)
  })

  it('2: usage (missing argument, bad flag value, unknown flag)', () => {
    expect(poster('check').status).toBe(2)
    expect(poster('eval', 'x', '--model', 'm.onnx', '--batch-size', '0').status).toBe(2)
    expect(poster('eval', 'x', '--model', 'm.onnx', '--no-such-flag').status).toBe(2)
  })

  it('3: a regression, with --json still printing the result', async () => {
    const base = await run(join(work, 'base3'), [0.9, 0.8])
    const now = await run(join(work, 'now3'), [0.9, 0.6])
    const r = poster('check', now, '--baseline', base, '--json')
    expect(r.status).toBe(3)
    expect(JSON.parse(r.stdout).verdict).toBe('fail')
  })
})
