/**
 * A convert killed while writing leaves its temporary file (as big as the model) beside --out and in the model
 * cache (issue 14, item 12). The writer is killed for real here (test/helpers/write-model-child.ts stalls after its
 * first chunk, then gets SIGKILL); the next convert to that output, and the next conversion into the cache, remove
 * what it left, and nothing that a live run is writing.
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {isStaleTemp, parseTempName, removeStaleTemps, STALE_TEMP_MS, tempFileFor} from '../../src/basics.js'
import {resolveModel} from '../../src/models/resolve.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const WRITER = fileURLToPath(new URL('../helpers/write-model-child.ts', import.meta.url))
const CONVERT = fileURLToPath(new URL('../helpers/convert-child.ts', import.meta.url))
const NOT_A_CHECKPOINT = fileURLToPath(new URL('../fixtures/torch/not-a-checkpoint.pth', import.meta.url))

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poster-stale-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function run(args: string[]): {done: Promise<{code: number | null; signal: NodeJS.Signals | null}>; stdout: () => string; kill: () => void} {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {cwd: REPO, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const done = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})))
  return {done, stdout: () => out, kill: () => child.kill('SIGKILL')}
}

/** Runs the stalling writer on `out`, kills it once it has stalled, and returns the temporary file it left. */
async function killedWrite(out: string): Promise<string> {
  const w = run([WRITER, out])
  const deadline = Date.now() + 60_000
  while (!w.stdout().includes('stalled') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  w.kill()
  const {signal} = await w.done
  expect(signal, w.stdout()).toBe('SIGKILL')
  const dirOf = join(out, '..')
  const left = readdirSync(dirOf).filter((n) => parseTempName(n)?.target === out.split('/').pop())
  expect(left).toHaveLength(1)
  return join(dirOf, left[0]!)
}

describe('temporary files left by a killed convert', () => {
  it('beside --out: the next convert to it removes the file (here one that fails on its checkpoint), and says so', async () => {
    const out = join(dir, 'model.onnx')
    const left = await killedWrite(out)
    expect(statSync(left).size).toBeGreaterThan(0)
    expect(existsSync(out)).toBe(false)
    // Someone else's temporary file and a live one of this process are kept.
    const other = join(dir, '.other.onnx.1-aaaaaaaa.0123456789ab.tmp')
    writeFileSync(other, 'x')
    const live = tempFileFor(out)
    writeFileSync(live, 'being written')

    const c = run([CONVERT, NOT_A_CHECKPOINT, '--out', out])
    expect((await c.done).code).toBe(1)
    expect(c.stdout()).toContain(`removed ${left} (`)
    expect(c.stdout()).toContain('left by an interrupted run')
    expect(existsSync(left)).toBe(false)
    expect(existsSync(other)).toBe(true)
    expect(existsSync(live)).toBe(true)
  })

  it('in the model cache: the next conversion into it removes every stale temporary file there', async () => {
    const cache = join(dir, 'cache')
    const converted = join(cache, 'converted')
    mkdirSync(converted, {recursive: true})
    const left = await killedWrite(join(converted, '0123456789abcdef.onnx'))
    const pth = join(dir, 'user.pth')
    writeFileSync(pth, 'PK\x03\x04 not really a checkpoint')
    const statuses: string[] = []
    const r = await resolveModel(pth, {
      cacheDir: cache,
      convert: async (_p, onnx) => writeFileSync(onnx, 'onnx'),
      onStatus: (_stage, message) => statuses.push(message),
    })
    expect(r.converted).toBe(true)
    expect(existsSync(left)).toBe(false)
    expect(statuses.some((m) => m.startsWith(`removed ${left} (`))).toBe(true)
    expect(readdirSync(converted).filter((n) => parseTempName(n))).toEqual([])
  })
})

describe('removeStaleTemps', () => {
  it('removes temporary files of dead writers on this host, and any not modified for an hour; keeps live ones and other files', async () => {
    const d = mkdtempSync(join(dir, 'rm-'))
    const target = join(d, 'x.onnx')
    // A dead writer on this host: a child that made its temporary file and exited.
    const c = run(['-e', `import('${REPO}src/basics.ts').then(({tempFileFor}) => require('node:fs').writeFileSync(tempFileFor(${JSON.stringify(target)}), 'x'))`])
    expect((await c.done).code).toBe(0)
    const dead = readdirSync(d).map((n) => join(d, n))
    expect(dead).toHaveLength(1)
    const live = tempFileFor(target)
    const otherHost = join(d, '.x.onnx.1-ffffffff.0123456789ab.tmp')
    const oldStyle = join(d, `.x.onnx.${process.pid}.1700000000000.tmp`)
    const oldAndStale = join(d, '.x.onnx.99999999.1700000000001.tmp')
    const otherTarget = tempFileFor(join(d, 'y.onnx'))
    const unrelated = join(d, '.x.onnx.json')
    for (const f of [live, otherHost, oldStyle, oldAndStale, otherTarget, unrelated]) writeFileSync(f, 'y')
    const hoursAgo = new Date(Date.now() - STALE_TEMP_MS - 60_000)
    utimesSync(oldAndStale, hoursAgo, hoursAgo)

    const removed = await removeStaleTemps(d, {target})
    expect(removed.map((r) => r.path).sort()).toEqual([dead[0]!, oldAndStale].sort())
    for (const f of [live, otherHost, oldStyle, otherTarget, unrelated]) expect(existsSync(f), f).toBe(true)
    // Another host's temporary file (and an old-style one) is stale once it has not changed for an hour.
    expect(isStaleTemp('.x.onnx.1-ffffffff.0123456789ab.tmp', Date.now())).toBe(false)
    expect(isStaleTemp('.x.onnx.1-ffffffff.0123456789ab.tmp', Date.now() - STALE_TEMP_MS - 1)).toBe(true)
    expect(isStaleTemp('x.onnx', 0)).toBe(false)
    // Without a target, every stale temporary file of the folder goes, whatever file it was for.
    utimesSync(otherTarget, hoursAgo, hoursAgo)
    expect((await removeStaleTemps(d)).map((r) => r.path)).toEqual([otherTarget])
  })
})
