/**
 * `poster predict` and `poster merge` as a user runs them: flags, --json summaries, exit codes, messages on stderr,
 * sharding from the environment, and --help.
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {captureOutput, runCommand} from '@oclif/test'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import Merge from '../../src/commands/merge.js'
import Predict from '../../src/commands/predict.js'
import {readPredictions} from '../../src/report/predictions-csv.js'
import {bombPng, cleanupTmp, makeZoo, SPEC, solidImage, tinyModel, tmpDir, type Zoo} from '../helpers/predict-fixtures.js'

const ROOT = new URL('../..', import.meta.url).pathname

let zoo: Zoo
let work: string
let model: string

type Captured = Awaited<ReturnType<typeof captureOutput>>
/** The exit code a command would end with: a thrown CLIError's, else process.exitCode (--json errors), else 0. */
function exitOf(r: Captured): number {
  return r.error?.oclif?.exit ?? (typeof process.exitCode === 'number' ? process.exitCode : 0)
}

const SHARD_ENV = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_STEP']
const savedEnv = Object.fromEntries(SHARD_ENV.map((k) => [k, process.env[k]]))

beforeAll(async () => {
  for (const k of SHARD_ENV) delete process.env[k]
  zoo = await makeZoo()
  work = tmpDir()
  model = await tinyModel(work)
})

afterEach(() => {
  process.exitCode = undefined
  for (const k of SHARD_ENV) delete process.env[k]
})

afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) if (v !== undefined) process.env[k] = v
  cleanupTmp()
})

const run = (argv: string[]) => captureOutput(() => Predict.run(argv, {root: ROOT}))

describe('poster predict', () => {
  it('--help shows examples, among them a Kubernetes Indexed Job and a Slurm array', async () => {
    const {stdout} = await runCommand(['predict', '--help'], {root: ROOT})
    expect(stdout).toMatch(/EXAMPLES/)
    expect(stdout).toMatch(/Kubernetes Indexed Job/)
    expect(stdout).toMatch(/--shards 8/)
    expect(stdout).toMatch(/sbatch --array=0-7/)
    expect(stdout).toMatch(/--resume/)
    expect(stdout).toMatch(/Exit codes: 0 ok, 1 error, 2 usage/)
    const merge = await runCommand(['merge', '--help'], {root: ROOT})
    expect(merge.stdout).toMatch(/EXAMPLES/)
    expect(merge.stdout).toMatch(/--inputs/)
  })

  it('--json prints the summary only, rows go to --out, and error rows still exit 0', async () => {
    const out = path.join(work, 'cmd.csv')
    const r = await run([zoo.root, '--recursive', '--model', model, '--out', out, '--landmarks', '--max-pixels', String(zoo.maxPixels), '-b', '5', '--threads', '1', '--json'])
    expect(r.error).toBeUndefined()
    expect(exitOf(r)).toBe(0)
    const summary = JSON.parse(r.stdout)
    const nOk = [...zoo.expected.values()].filter((e) => e.status === 'ok').length
    expect(summary).toMatchObject({output: out, images: zoo.expected.size, ok: nOk, errors: zoo.expected.size - nOk, skipped_resumed: 0, shard: null, classes: SPEC.labels})
    expect(typeof summary.images_per_s).toBe('number')
    expect((await readPredictions(out)).rows.length).toBe(zoo.expected.size)
    expect(r.stderr).toBe('') // --json: nothing but the JSON, not even status lines

    // Again without --resume: refused, exit 1, file untouched.
    const before = readFileSync(out)
    const again = await run([zoo.root, '-r', '--model', model, '--out', out])
    expect(exitOf(again)).toBe(1)
    expect(again.error?.message).toMatch(/already exists; pass --resume to continue it, or remove it/)
    expect(readFileSync(out).equals(before)).toBe(true)

    // With --resume: nothing to do.
    const resumed = await run([zoo.root, '-r', '--model', model, '--out', out, '--landmarks', '--max-pixels', String(zoo.maxPixels), '--resume', '--json'])
    expect(JSON.parse(resumed.stdout)).toMatchObject({skipped_resumed: zoo.expected.size, images: zoo.expected.size})
    expect(readFileSync(out).equals(before)).toBe(true)
  })

  it('human output: a one-line summary on stdout, status lines on stderr, and the default --out', async () => {
    const dir = tmpDir()
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      const r = await run([path.join(zoo.root, 'red.png'), path.join(zoo.root, 'empty.png'), '--model', model])
      expect(r.error).toBeUndefined()
      expect(r.stdout).toMatch(/^Wrote predictions\.csv: 2 images \(1 ok, 1 errors\)/)
      expect(r.stderr).toMatch(/1 of 2 images could not be read/)
      expect(existsSync(path.join(dir, 'predictions.csv'))).toBe(true)
    } finally {
      process.chdir(cwd)
    }
  })

  it('an empty input set is an error (exit 1) that says so', async () => {
    const empty = tmpDir()
    writeFileSync(path.join(empty, 'README.md'), 'no images here')
    const r = await run([empty, '--model', model, '--out', path.join(work, 'empty.csv')])
    expect(exitOf(r)).toBe(1)
    expect(r.error?.message).toMatch(/no images found/)
    const missing = await run([path.join(work, 'nope'), '--model', model, '--out', path.join(work, 'nope.csv')])
    expect(exitOf(missing)).toBe(1)
    expect(missing.error?.message).toMatch(/no such file or folder/)
  })

  it('usage errors exit 2: no input, a bad --shard, --shards without an index', async () => {
    expect(exitOf(await run(['--model', model]))).toBe(2)
    process.exitCode = undefined
    const bad = await run([zoo.root, '--model', model, '--shard', '5/4'])
    expect(exitOf(bad)).toBe(2)
    expect(bad.error?.message).toMatch(/K must be between 1 and 4/)
    process.exitCode = undefined
    const noIndex = await run([zoo.root, '--model', model, '--shards', '3'])
    expect(exitOf(noIndex)).toBe(2)
    expect(noIndex.error?.message).toMatch(/JOB_COMPLETION_INDEX/)
  })

  it('takes its shard from a Kubernetes Indexed Job or a Slurm array, says so on stderr, and the parts merge', async () => {
    const dir = tmpDir()
    const out = path.join(dir, 'part-{shard}.csv')
    process.env.JOB_COMPLETION_INDEX = '1'
    const k8s = await run([zoo.root, '-r', '--model', model, '--shards', '3', '--out', out])
    expect(k8s.error).toBeUndefined()
    expect(k8s.stderr).toMatch(/shard 2\/3 \(from JOB_COMPLETION_INDEX=1 with --shards 3\): \d+ of \d+ images/)
    expect(existsSync(path.join(dir, 'part-2-of-3.csv'))).toBe(true)
    delete process.env.JOB_COMPLETION_INDEX

    // Slurm --array=1-3: task ids 1..3, MIN 1.
    for (const id of ['1', '3']) {
      Object.assign(process.env, {SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1'})
      const r = await run([zoo.root, '-r', '--model', model, '--out', out, '--json'])
      expect(r.error).toBeUndefined()
      const s = JSON.parse(r.stdout)
      expect(s.shard).toMatchObject({index: Number(id), count: 3})
      expect(s.shard.source).toMatch(new RegExp(`SLURM_ARRAY_TASK_ID=${id}`))
    }
    for (const k of SHARD_ENV) delete process.env[k]

    const whole = path.join(dir, 'whole.csv')
    await run([zoo.root, '-r', '--model', model, '--out', whole])
    const merged = path.join(dir, 'merged.csv')
    const parts = [1, 2, 3].map((k) => path.join(dir, `part-${k}-of-3.csv`))
    const m = await captureOutput(() => Merge.run([...parts, '--out', merged, '--inputs', zoo.root, '--recursive', '--json'], {root: ROOT}))
    expect(m.error).toBeUndefined()
    expect(JSON.parse(m.stdout)).toMatchObject({rows: zoo.expected.size, duplicates: 0, missing: 0, files: 3})
    expect(readFileSync(merged, 'utf8')).toBe(readFileSync(whole, 'utf8'))
  })

  it('a decompression bomb is an error row with the default pixel limit; --max-pixels lowers it', async () => {
    const dir = tmpDir()
    mkdirSync(path.join(dir, 'in'))
    writeFileSync(path.join(dir, 'in', 'bomb.png'), bombPng(30000, 30000))
    writeFileSync(path.join(dir, 'in', 'ok.png'), await solidImage('png', [10, 20, 30], 50, 40))
    const r = await run([path.join(dir, 'in'), '--model', model, '--out', path.join(dir, 'a.csv'), '--json'])
    expect(JSON.parse(r.stdout)).toMatchObject({ok: 1, errors: 1})
    const rows = (await readPredictions(path.join(dir, 'a.csv'))).rows
    expect(rows.map((x) => [path.basename(x.path), x.status])).toEqual([['bomb.png', 'error'], ['ok.png', 'ok']])
    expect(rows[0]!.error).toMatch(/image too large: 30000×30000 exceeds the 178956970-pixel limit/)
    const low = await run([path.join(dir, 'in'), '--model', model, '--out', path.join(dir, 'b.csv'), '--max-pixels', '1000', '--json'])
    expect(JSON.parse(low.stdout)).toMatchObject({ok: 0, errors: 2})
  })
})

describe('poster merge', () => {
  it('reports duplicates (exit 0) and missing inputs (exit 1, --json keeps the summary)', async () => {
    const dir = tmpDir()
    const a = path.join(dir, 'a.csv')
    const b = path.join(dir, 'b.csv')
    await run([zoo.root, '-r', '--model', model, '--shard', '1/2', '--out', a])
    await run([zoo.root, '-r', '--model', model, '--shard', '2/2', '--out', b])
    const nA = (await readPredictions(a)).rows.length

    const dup = await captureOutput(() => Merge.run([a, b, a, '--out', path.join(dir, 'm1.csv')], {root: ROOT}))
    expect(exitOf(dup)).toBe(0)
    expect(dup.stdout).toMatch(new RegExp(`Wrote .*m1\\.csv: ${zoo.expected.size} rows from 2 files`))
    expect(dup.stderr).toMatch(/given twice/)
    const copy = path.join(dir, 'a-again.csv')
    writeFileSync(copy, readFileSync(a))
    const dup2 = await captureOutput(() => Merge.run([a, b, copy, '--out', path.join(dir, 'm2.csv'), '--json'], {root: ROOT}))
    expect(JSON.parse(dup2.stdout)).toMatchObject({duplicates: nA, rows: zoo.expected.size, missing: null})

    const miss = await captureOutput(() => Merge.run([a, '--out', path.join(dir, 'm3.csv'), '--inputs', zoo.root, '--recursive', '--json'], {root: ROOT}))
    expect(exitOf(miss)).toBe(1)
    const s = JSON.parse(miss.stdout)
    expect(s.missing).toBe(zoo.expected.size - nA)
    expect(s.error.message).toMatch(/inputs have no row/)
    expect(existsSync(path.join(dir, 'm3.csv'))).toBe(true)
    process.exitCode = undefined

    const allowed = await captureOutput(() => Merge.run([a, '--out', path.join(dir, 'm4.csv'), '--inputs', zoo.root, '-r', '--allow-missing'], {root: ROOT}))
    expect(exitOf(allowed)).toBe(0)
    expect(allowed.stdout).toMatch(new RegExp(`${zoo.expected.size - nA} missing`))

    const exists = await captureOutput(() => Merge.run([a, b, '--out', path.join(dir, 'm4.csv')], {root: ROOT}))
    expect(exitOf(exists)).toBe(1)
    expect(exists.error?.message).toMatch(/already exists/)
  })
})
