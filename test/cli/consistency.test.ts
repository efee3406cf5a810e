/**
 * What every command shares, as a shell sees it (the built CLI in a child process): the same mistake gets the
 * same exit code and the same kind of message in every command that can make it; the root help has examples;
 * `poster help COMMAND` works; progress goes to stderr as plain lines when stderr is not a terminal.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RAFDB} from '../../src/datasets/labels.js'
import {bmpBytes} from '../helpers/predict-fixtures.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Ran {
  status: number | null
  stdout: string
  stderr: string
}

function poster(args: string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1', ...env}})
  // oclif wraps long error messages onto ` ›   ` continuation lines; join them so a message reads as one line.
  return {status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n ›\s+/g, ' ')}
}

let work: string
let model: string
let dataset: string
let images: string
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'poster-consistency-'))
  model = await writeTinyModel(join(work, 'tiny.onnx'), SEVEN_CLASS_SPEC)
  // An ImageFolder test split, folders 1..7 (RAF-DB codes), one small BMP each; and a flat folder of 3 BMPs.
  dataset = join(work, 'raf')
  for (let c = 1; c <= 7; c++) {
    mkdirSync(join(dataset, 'test', String(c)), {recursive: true})
    writeFileSync(join(dataset, 'test', String(c), 'a.bmp'), bmpBytes(8, 8))
  }
  images = join(work, 'images')
  mkdirSync(images)
  for (const n of ['a', 'b', 'c']) writeFileSync(join(images, `${n}.bmp`), bmpBytes(8, 8))
})
afterAll(() => {
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('the same mistake, the same exit code in every command', () => {
  it('a model that does not exist: exit 1 in eval, predict and bench, with the same message', () => {
    const missing = join(work, 'no-such-model.onnx')
    const runs = {
      eval: poster(['eval', dataset, '--model', missing, '--out', join(work, 'e1')]),
      predict: poster(['predict', images, '--model', missing, '--out', join(work, 'p1.csv')]),
      bench: poster(['bench', '--model', missing, '--quick', '--out', join(work, 'b1.json')]),
    }
    for (const [name, r] of Object.entries(runs)) {
      expect(r.status, `${name}: ${r.stderr}`).toBe(1)
      expect(r.stderr, name).toMatch(/no such model file: .*no-such-model\.onnx/)
    }
  })

  it('a --labels that does not fit the model: exit 1 in convert, eval and predict', () => {
    const convert = poster(['convert', join(work, 'whatever.pth'), '--classes', '7', '--labels', 'affectnet8'])
    expect(convert.status, convert.stderr).toBe(1)
    expect(convert.stderr).toMatch(/--labels names 8 classes .* but --classes is 7/)
    const wrong = 'a,b,c'
    const ev = poster(['eval', dataset, '--model', model, '--labels', wrong, '--out', join(work, 'e2')])
    expect(ev.status, ev.stderr).toBe(1)
    expect(ev.stderr).toMatch(/the model outputs 7 classes but --labels names 3/)
    const pr = poster(['predict', images, '--model', model, '--labels', wrong, '--out', join(work, 'p2.csv')])
    expect(pr.status, pr.stderr).toBe(1)
    expect(pr.stderr).toMatch(/the model outputs 7 classes but --labels names 3/)
  })

  it('a --labels that is no label set at all: exit 2 in convert, eval and predict, before anything is read', () => {
    for (const args of [
      ['convert', join(work, 'whatever.pth'), '--labels', 'happy'],
      ['eval', join(work, 'nowhere'), '--model', model, '--labels', 'happy'],
      ['predict', join(work, 'nowhere'), '--model', model, '--labels', 'happy'],
    ]) {
      const r = poster(args)
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(2)
      expect(r.stderr, args[0]).toMatch(/--labels expects a label set/)
    }
  })

  it('an unknown --device and a threshold that is not a number: exit 2 wherever the flag exists', () => {
    for (const args of [
      ['eval', dataset, '--model', model, '--device', 'tpu'],
      ['predict', images, '--model', model, '--device', 'tpu'],
    ]) {
      const r = poster(args)
      expect(r.status, args[0]).toBe(2)
      expect(r.stderr, args[0]).toMatch(/Expected --device=tpu to be one of: cpu, cuda, webgpu/)
    }
    for (const args of [
      ['check', join(work, 'run'), '--baseline', join(work, 'base'), '--max-drop', 'lots'],
      ['eval', dataset, '--model', model, '--baseline', join(work, 'base'), '--max-drop', 'lots'],
    ]) {
      const r = poster(args)
      expect(r.status, args[0]).toBe(2)
      expect(r.stderr, args[0]).toMatch(/--max-drop expects a non-negative number, got "lots"/)
    }
  })
})

describe('help', () => {
  it('poster --help lists examples of the common commands and the exit codes', () => {
    const r = poster(['--help'])
    expect(r.status).toBe(0)
    const examples = r.stdout.slice(r.stdout.indexOf('EXAMPLES'))
    expect(r.stdout).toContain('EXAMPLES')
    for (const c of ['demo', 'eval', 'predict', 'convert', 'check', 'bench']) expect(examples).toMatch(new RegExp(`\\$ poster ${c}\\b`))
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 error, 2 usage, 3 regression/)
  })

  it('poster help eval prints the eval page, as poster eval --help does', () => {
    const viaHelp = poster(['help', 'eval'])
    const viaFlag = poster(['eval', '--help'])
    expect(viaHelp.status).toBe(0)
    expect(viaHelp.stdout).toMatch(/USAGE\s+\$ poster eval DATASET/)
    expect(viaHelp.stdout).toContain('--max-class-drop')
    expect(viaHelp.stdout).toBe(viaFlag.stdout)
  })
})

describe('progress for logs', () => {
  it('stderr that is not a terminal gets plain progress lines, no control characters; --json gets none', () => {
    const r = poster(['predict', images, '--model', model, '--batch-size', '1', '--out', join(work, 'p3.csv')], {POSTER_PROGRESS_INTERVAL: '0'})
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress '))
    expect(lines.length).toBeGreaterThanOrEqual(2)
    expect(lines.at(-1)).toMatch(/^progress 3\/3 images \(100\.0%\)/)
    expect(r.stderr).not.toMatch(/\x1b/)
    const j = poster(['predict', images, '--model', model, '--out', join(work, 'p4.csv'), '--json'], {POSTER_PROGRESS_INTERVAL: '0'})
    expect(j.status).toBe(0)
    expect(j.stderr).toBe('')
    expect(JSON.parse(j.stdout).classes).toEqual(RAFDB.names)
  })
})
