/**
 * poster cache list | clear | prune on a cache folder laid out as poster leaves it, and one optimised graph per
 * model (a model opened again after an onnxruntime or CPU change replaces its old optimised copy).
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import CacheClear from '../../src/commands/cache/clear.js'
import CacheList from '../../src/commands/cache/list.js'
import CachePrune from '../../src/commands/cache/prune.js'
import {listCache, parseDuration} from '../../src/models/cache-entries.js'
import {openModel} from '../../src/pipeline/model.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname
const DAY = 86400_000
/** A pid no process has (pid_max is at most 2^22 on Linux). */
const DEAD_PID = 4_194_303 + 1000

let cache: string
let saved: string | undefined
let models: string

function file(rel: string, bytes: number, ageDays = 0): string {
  const p = path.join(cache, rel)
  mkdirSync(path.dirname(p), {recursive: true})
  writeFileSync(p, Buffer.alloc(bytes))
  const t = new Date(Date.now() - ageDays * DAY)
  utimesSync(p, t, t)
  return p
}

beforeEach(() => {
  cache = mkdtempSync(path.join(tmpdir(), 'poster-cache-cmd-'))
  models = mkdtempSync(path.join(tmpdir(), 'poster-cache-models-'))
  saved = process.env.POSTER_CACHE
  process.env.POSTER_CACHE = cache
  const live = path.join(models, 'mine.onnx')
  writeFileSync(live, 'model')
  file('rafdb.pth', 1000, 40)
  file('rafdb.onnx', 900, 40)
  file('rafdb.onnx.json', 10, 40)
  file('converted/0123456789abcdef.onnx', 800, 2)
  writeFileSync(path.join(cache, 'converted/0123456789abcdef.onnx.json'), JSON.stringify({version: 1, pth: {path: '/ckpt/mine.pth'}}))
  file('optimized/aaaa-ort1.30.0-x64-CPU.onnx', 700, 1)
  writeFileSync(path.join(cache, 'optimized/aaaa-ort1.30.0-x64-CPU.onnx.json'), JSON.stringify({model: live, sha256: 'aaaa', runtime: 'ort1.30.0-x64-CPU'}))
  file('optimized/bbbb-ort1.30.0-x64-CPU.onnx', 600, 1)
  writeFileSync(path.join(cache, 'optimized/bbbb-ort1.30.0-x64-CPU.onnx.json'), JSON.stringify({model: path.join(models, 'deleted.onnx'), sha256: 'bbbb', runtime: 'ort1.30.0-x64-CPU'}))
  file('demo/poster-untrained-7cls.onnx', 500, 3)
  file('bench/data/x.jpg', 50, 3)
  file('checkpoint-hashes.json', 20, 0)
  file('affectnet8.pth.part', 300, 5)
  file(`converted/0123.onnx.tmp-${DEAD_PID}`, 30, 5)
  writeFileSync(path.join(cache, 'rafdb.onnx.lock'), `${DEAD_PID}\n${hostname()}\n`)
  file('notes.txt', 5, 100)
})

afterEach(() => {
  if (saved === undefined) delete process.env.POSTER_CACHE
  else process.env.POSTER_CACHE = saved
  process.exitCode = undefined
  rmSync(cache, {recursive: true, force: true})
  rmSync(models, {recursive: true, force: true})
})

describe('poster cache list', () => {
  it('names every entry with its size and what it is, biggest first', async () => {
    const {stdout, error} = await captureOutput(() => CacheList.run(['--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const r = JSON.parse(stdout)
    expect(r.dir).toBe(cache)
    const kinds = r.entries.map((e: {kind: string; bytes: number}) => [e.kind, e.bytes])
    expect(kinds).toEqual([
      ['checkpoint', 1000], ['model', 910], ['converted', 800 + readFileSync(path.join(cache, 'converted/0123456789abcdef.onnx.json')).length],
      ['optimized', expect.any(Number)], ['optimized', expect.any(Number)], ['demo', 500], ['partial', 300], ['bench', 50],
      ['partial', 30], ['hash-index', 20], ['lock', expect.any(Number)], ['other', 5],
    ])
    const byKind = (k: string) => r.entries.filter((e: {kind: string}) => e.kind === k)
    expect(byKind('model')[0].what).toBe('RAF-DB model (rafdb), converted from rafdb.pth')
    expect(byKind('converted')[0].what).toBe('model converted from /ckpt/mine.pth')
    expect(byKind('optimized').map((e: {orphan: boolean; source: string}) => [path.basename(e.source), e.orphan])).toEqual([['mine.onnx', false], ['deleted.onnx', true]])
    expect(r.bytes).toBe(r.entries.reduce((a: number, e: {bytes: number}) => a + e.bytes, 0))
    const text = await captureOutput(() => CacheList.run([], {root: ROOT}))
    expect(text.stdout).toMatch(/ 1\.0 kB {2}\d{4}-\d\d-\d\d {2}RAF-DB checkpoint \(rafdb\), downloaded from Google Drive\n {23}rafdb\.pth/)
    expect(text.stdout).toMatch(/12 entries, .* in /)
  })
})

describe('poster cache prune', () => {
  it('removes what is certainly useless: an orphan optimised graph, interrupted files, a stale lock', async () => {
    const {stdout, error} = await captureOutput(() => CachePrune.run(['--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const r = JSON.parse(stdout)
    expect(r.removed.map((e: {kind: string}) => e.kind).sort()).toEqual(['lock', 'optimized', 'partial', 'partial'])
    expect(existsSync(path.join(cache, 'optimized/bbbb-ort1.30.0-x64-CPU.onnx'))).toBe(false)
    expect(existsSync(path.join(cache, 'optimized/bbbb-ort1.30.0-x64-CPU.onnx.json'))).toBe(false)
    expect(existsSync(path.join(cache, 'optimized/aaaa-ort1.30.0-x64-CPU.onnx'))).toBe(true)
    expect(existsSync(path.join(cache, 'affectnet8.pth.part'))).toBe(false)
    expect(r.bytesFreed).toBe(r.removed.reduce((a: number, e: {bytes: number}) => a + e.bytes, 0))
  })

  it('--older-than also removes what no run used for that long', async () => {
    const {stdout} = await captureOutput(() => CachePrune.run(['--older-than', '30d', '--json'], {root: ROOT}))
    const removed = JSON.parse(stdout).removed.map((e: {paths: string[]}) => path.relative(cache, e.paths[0]!)).sort()
    expect(removed).toEqual([
      'affectnet8.pth.part', `converted/0123.onnx.tmp-${DEAD_PID}`, 'optimized/bbbb-ort1.30.0-x64-CPU.onnx', 'rafdb.onnx', 'rafdb.onnx.lock', 'rafdb.pth',
    ])
    expect(existsSync(path.join(cache, 'notes.txt'))).toBe(true) // not poster's: never touched
    expect(existsSync(path.join(cache, 'demo'))).toBe(true)
    const bad = await captureOutput(() => CachePrune.run(['--older-than', 'a while'], {root: ROOT}))
    expect(bad.error?.oclif?.exit).toBe(2)
    expect(bad.error?.message).toMatch(/expected a duration such as 30d/)
    expect(parseDuration('12h')).toBe(12 * 3600_000)
    expect(parseDuration('2w')).toBe(14 * DAY)
  })

  it('refuses while another poster process holds a lock in the cache', async () => {
    writeFileSync(path.join(cache, 'rafdb.onnx.lock'), `${process.pid}\n${hostname()}\n`)
    const r = await captureOutput(() => CachePrune.run([], {root: ROOT}))
    expect(r.error?.oclif?.exit).toBe(1)
    expect(r.error?.message).toMatch(new RegExp(`another poster process \\(pid ${process.pid} on `))
    expect(existsSync(path.join(cache, 'affectnet8.pth.part'))).toBe(true)
  })
})

describe('poster cache clear', () => {
  it('removes everything poster made and keeps what it did not', async () => {
    const {stdout, error} = await captureOutput(() => CacheClear.run(['--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const r = JSON.parse(stdout)
    expect(r.kept.map((e: {kind: string}) => e.kind)).toEqual(['other'])
    expect((await listCache(cache)).map((e) => path.relative(cache, e.paths[0]!))).toEqual(['notes.txt'])
  })
})

describe('one optimised graph per model', () => {
  it('opening a model records its optimised graph and removes its copies for other runtimes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'poster-opt-'))
    const model = await writeTinyModel(path.join(dir, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    const first = await openModel(model)
    await first.session.release()
    const optimized = () => readdirSorted(path.join(cache, 'optimized')).filter((n) => n.startsWith(first.sha256.slice(0, 24)))
    const current = optimized()
    expect(current).toHaveLength(2) // the graph and its record
    const record = JSON.parse(readFileSync(path.join(cache, 'optimized', current.find((n) => n.endsWith('.json'))!), 'utf8'))
    expect(record).toMatchObject({model, sha256: first.sha256})
    // A copy left by an older onnxruntime for the same model:
    file(`optimized/${first.sha256.slice(0, 24)}-ort1.29.0-x64-Old-CPU.onnx`, 100)
    file(`optimized/${first.sha256.slice(0, 24)}-ort1.29.0-x64-Old-CPU.onnx.json`, 10)
    const again = await openModel(model)
    await again.session.release()
    expect(optimized()).toEqual(current)
    rmSync(dir, {recursive: true, force: true})
  })
})

function readdirSorted(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : []
}
