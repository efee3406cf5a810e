/**
 * `poster check` verdicts and exit codes on crafted runs: metrics.json written by hand (figures computed in the
 * test) and predictions.csv rows so the runs pair image by image.
 */
import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterEach, describe, expect, it} from 'vitest'

import Check from '../../src/commands/check.js'

const ROOT = new URL('../..', import.meta.url).pathname
const NAMES = ['Happy', 'Sad']

/** A run folder from per-image (label, pred) pairs over two classes. */
async function writeRun(
  dir: string,
  pairs: Array<[number, number]>,
  opts: {names?: string[]; rows?: boolean; ids?: number[]; dataset?: Record<string, string>; split?: string} = {},
): Promise<string> {
  const names = opts.names ?? NAMES
  await mkdir(dir, {recursive: true})
  const n = pairs.length
  const correct = pairs.filter(([l, p]) => l === p).length
  const perClass = names.map((name, c) => {
    const support = pairs.filter(([l]) => l === c).length
    const tp = pairs.filter(([l, p]) => l === c && p === c).length
    const predicted = pairs.filter(([, p]) => p === c).length
    const recall = support ? tp / support : 0
    const precision = predicted ? tp / predicted : 0
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0
    return {name, precision, recall, f1, support}
  })
  const present = perClass.filter((c) => c.support > 0)
  const metrics = {
    accuracy: correct / n,
    // Averages over the classes with images, as poster's metrics do.
    mean_class_accuracy: present.reduce((a, c) => a + c.recall, 0) / present.length,
    macro_f1: present.reduce((a, c) => a + c.f1, 0) / present.length,
    per_class: perClass,
    n_images: n,
    labels: names,
    split: opts.split ?? 'test',
    dataset: opts.dataset ?? {benchmark: 'rafdb', format: 'rafdb', root: '/data/raf', split: 'test'},
  }
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(metrics))
  if (opts.rows !== false) {
    const lines = ['path,split,label,label_name,pred,pred_name,confidence,correct,status,error,' + names.map((x) => `p_${x}`).join(',')]
    pairs.forEach(([l, p], i) => {
      const probs = names.map((_, c) => (c === p ? '0.900000' : (0.1 / (names.length - 1)).toFixed(6)))
      lines.push(`img_${opts.ids?.[i] ?? i}.jpg,test,${l},${names[l]},${p},${names[p]},0.900000,${l === p},ok,,${probs.join(',')}`)
    })
    await writeFile(join(dir, 'predictions.csv'), lines.join('\r\n') + '\r\n')
  }
  return dir
}

/** n images, label i % 2; `wrong` lists indices predicted wrongly. */
function pairsWith(n: number, wrong: Set<number>): Array<[number, number]> {
  return Array.from({length: n}, (_, i) => {
    const l = i % 2
    return [l, wrong.has(i) ? 1 - l : l] as [number, number]
  })
}

const range = (a: number, b: number) => Array.from({length: b - a}, (_, i) => a + i)

describe('poster check', () => {
  const saved = process.env.GITHUB_STEP_SUMMARY
  afterEach(() => {
    process.exitCode = undefined
    if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY
    else process.env.GITHUB_STEP_SUMMARY = saved
  })

  it('fails (exit 3) on a significant drop, with JUnit and a job summary', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(200, new Set()))
    const now = await writeRun(join(work, 'now'), pairsWith(200, new Set(range(0, 20))))
    const summary = join(work, 'summary.md')
    process.env.GITHUB_STEP_SUMMARY = summary
    const junit = join(work, 'check.xml')
    const {stdout, error} = await captureOutput(() => Check.run([now, '--baseline', base, '--junit', junit, '--json'], {root: ROOT}))
    // With --json a regression is printed, not thrown, and the exit code set to 3.
    expect(error).toBeUndefined()
    expect(process.exitCode).toBe(3)
    const result = JSON.parse(stdout)
    expect(result.verdict).toBe('fail')
    const acc = result.checks.find((c: {name: string}) => c.name === 'accuracy')
    expect(acc.delta).toBeCloseTo(-10, 9)
    // 20 right→wrong, 0 wrong→right: exact two-sided p = 2 · 0.5^20.
    expect(acc.test.b).toBe(20)
    expect(acc.test.c).toBe(0)
    expect(acc.test.pValue).toBeCloseTo(2 * 0.5 ** 20, 15)
    expect(result.pairing.rightToWrong).toBe(20)
    const xml = await readFile(junit, 'utf8')
    expect(xml).toMatch(/<testcase[^>]*name="accuracy"[^>]*>\s*<failure/)
    expect(await readFile(summary, 'utf8')).toMatch(/\| accuracy \|/)
  })

  it('passes (exit 0) when a drop beyond the threshold is within noise', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    // Baseline wrong on 0..99 of 1000; now 9 more wrong (100..108) and 3 fixed (0..2): −0.6 pp.
    const base = await writeRun(join(work, 'base'), pairsWith(1000, new Set(range(0, 100))))
    const now = await writeRun(join(work, 'now'), pairsWith(1000, new Set([...range(3, 109)])))
    const {stdout, error} = await captureOutput(() => Check.run([now, '--baseline', base, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const result = JSON.parse(stdout)
    expect(result.verdict).toBe('pass')
    const acc = result.checks.find((c: {name: string}) => c.name === 'accuracy')
    expect(acc.delta).toBeCloseTo(-0.6, 9)
    expect(acc.verdict).toBe('noise')
    // b = 9, c = 3: p = 2 · (C(12,0)+C(12,1)+C(12,2)+C(12,3)) / 2^12 = 2 · 299 / 4096.
    expect(acc.test.pValue).toBeCloseTo((2 * 299) / 4096, 12)
  })

  it('without per-image predictions the threshold alone decides', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(1000, new Set(range(0, 100))), {rows: false})
    const now = await writeRun(join(work, 'now'), pairsWith(1000, new Set(range(3, 109))), {rows: false})
    const {stdout, error} = await captureOutput(() => Check.run([join(now, 'metrics.json'), '--baseline', join(base, 'metrics.json'), '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(process.exitCode).toBe(3)
    expect(JSON.parse(stdout).paired).toBe(false)
  })

  it('catches a class collapse hidden by a stable overall accuracy', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    // Baseline: 20 Happy (even indices 0..38) wrong. Now: those fixed, but 20 Sad (odd 1..39) wrong. Same accuracy.
    const evens = range(0, 20).map((i) => 2 * i)
    const odds = range(0, 20).map((i) => 2 * i + 1)
    const base = await writeRun(join(work, 'base'), pairsWith(400, new Set(evens)))
    const now = await writeRun(join(work, 'now'), pairsWith(400, new Set(odds)))
    const {stdout, error} = await captureOutput(() => Check.run([now, '--baseline', base, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(process.exitCode).toBe(3)
    const result = JSON.parse(stdout)
    const verdicts = Object.fromEntries(result.checks.map((c: {name: string; verdict: string}) => [c.name, c.verdict]))
    expect(verdicts.accuracy).toBe('pass')
    expect(verdicts['recall:Sad']).toBe('fail')
    expect(verdicts['recall:Happy']).toBe('pass')
    const sad = result.checks.find((c: {name: string}) => c.name === 'recall:Sad')
    expect(sad.delta).toBeCloseTo(-10, 9) // 20 of 200 Sad images
  })

  it('enforces --min-accuracy as an absolute floor', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(100, new Set(range(0, 10))))
    const now = await writeRun(join(work, 'now'), pairsWith(100, new Set(range(0, 10))))
    const ok = await captureOutput(() => Check.run([now, '--baseline', base, '--min-accuracy', '89.5', '--json'], {root: ROOT}))
    expect(ok.error).toBeUndefined()
    const bad = await captureOutput(() => Check.run([now, '--baseline', base, '--min-accuracy', '91', '--json'], {root: ROOT}))
    expect(bad.error).toBeUndefined()
    expect(process.exitCode).toBe(3)
    expect(JSON.parse(bad.stdout).checks.find((c: {name: string}) => c.name === 'min_accuracy').verdict).toBe('fail')
  })

  it('refuses runs over different label sets (exit 1), naming them', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(10, new Set()))
    const now = await writeRun(join(work, 'now'), pairsWith(10, new Set()), {names: ['Happy', 'Fear']})
    const {error} = await captureOutput(() => Check.run([now, '--baseline', base], {root: ROOT}))
    expect(error?.oclif?.exit).toBe(1)
    expect(error?.message).toMatch(/Sad/)
    expect(error?.message).toMatch(/Fear/)
  })

  it('compares on the images both runs scored: a --limit run against a full baseline, a class it lacks reported, not failed', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    // Baseline: 28 images, 14 Happy (even) and 14 Sad (odd), wrong on images 0 and 1.
    const base = await writeRun(join(work, 'base'), pairsWith(28, new Set([0, 1])))
    // Current: 4 images, all Happy (ids 0, 2, 4, 6), all right now.
    const happy = [0, 2, 4, 6]
    const now = await writeRun(join(work, 'now'), happy.map(() => [0, 0] as [number, number]), {ids: happy})
    const {stdout, error} = await captureOutput(() => Check.run([now, '--baseline', base, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(process.exitCode).toBeUndefined()
    const result = JSON.parse(stdout)
    expect(result.verdict).toBe('pass')
    expect(result.compared).toEqual({basis: 'paired', images: 4, baselineImages: 28, currentImages: 4})
    // On those 4 images the baseline was right on 3 of 4 (image 0 wrong): 75% → 100%.
    const acc = result.checks.find((c: {name: string}) => c.name === 'accuracy')
    expect(acc.baseline).toBeCloseTo(75, 9)
    expect(acc.current).toBeCloseTo(100, 9)
    expect(result.checks.map((c: {name: string}) => c.name)).not.toContain('recall:Sad')
    expect(result.warnings.join('\n')).toMatch(/class Sad has no scored images in either run: not compared/)
    expect(result.warnings.join('\n')).toMatch(/24 baseline and 0 current images could not be paired by path; compared on the 4 images both runs scored/)
    const text = await captureOutput(() => Check.run([now, '--baseline', base], {root: ROOT}))
    expect(text.stdout).toMatch(/Compared on the 4 images both runs scored \(baseline 28, current 4\)/)
  })

  it('a class with no images on one side (no per-image rows): reported as absent, not a 100 pp fall', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(8, new Set()), {rows: false})
    // 8 images, all Happy.
    const now = await writeRun(join(work, 'now'), Array.from({length: 8}, () => [0, 0] as [number, number]), {rows: false})
    const {stdout, error} = await captureOutput(() => Check.run([now, '--baseline', base, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(process.exitCode).toBeUndefined()
    const result = JSON.parse(stdout)
    expect(result.verdict).toBe('pass')
    const sad = result.checks.find((c: {name: string}) => c.name === 'recall:Sad')
    expect(sad).toMatchObject({verdict: 'absent', detail: 'no scored Sad images in the current run (baseline 4, current 0): not compared'})
    const md = await captureOutput(() => Check.run([now, '--baseline', base], {root: ROOT}))
    expect(md.stdout).toMatch(/recall:Sad .*skipped: no scored Sad images in the current run/)
  })

  it('runs over different images are an error (exit 1), naming both: different counts without rows, no image in common with rows', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(28, new Set()), {rows: false})
    const now = await writeRun(join(work, 'now'), pairsWith(4, new Set()), {rows: false})
    const r = await captureOutput(() => Check.run([now, '--baseline', base], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(1)
    expect(r.error?.message).toMatch(/the runs scored different numbers of images \(baseline 28, current 4\)/)
    const b2 = await writeRun(join(work, 'b2'), pairsWith(4, new Set()))
    const n2 = await writeRun(join(work, 'n2'), pairsWith(4, new Set()), {ids: [10, 11, 12, 13]})
    const r2 = await captureOutput(() => Check.run([n2, '--baseline', b2], {root: ROOT}))
    expect(r2.error?.oclif?.exit).toBe(1)
    expect(r2.error?.message).toMatch(/no scored image in common \(baseline 4, current 4 images/)
  })

  it('different datasets or splits are an error (exit 1) naming both', async () => {
    const work = await mkdtemp(join(tmpdir(), 'poster-check-'))
    const base = await writeRun(join(work, 'base'), pairsWith(10, new Set()))
    const now = await writeRun(join(work, 'now'), pairsWith(10, new Set()), {dataset: {benchmark: 'affectnet7', split: 'test'}, split: 'train'})
    const {error} = await captureOutput(() => Check.run([now, '--baseline', base], {root: ROOT}))
    expect(error?.oclif?.exit).toBe(1)
    expect(error?.message).toMatch(/dataset: "rafdb" vs "affectnet7"; split: "test" vs "train"/)
  })
})
