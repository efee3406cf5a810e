import {spawn} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {parsePredictionsCsv} from '../../src/report/predictions-csv.js'
import {cleanupTmp, makeZoo, tinyModel, tmpDir, type Zoo} from '../helpers/predict-fixtures.js'

const REPO = path.resolve(import.meta.dirname, '../..')
const CHILD = path.join(REPO, 'test/helpers/predict-child.ts')

let zoo: Zoo
let work: string
let base: PredictOptions
let reference: string

function rowsOnDisk(file: string): number {
  try {
    return parsePredictionsCsv(readFileSync(file)).rows.length
  } catch {
    return 0
  }
}

/** Start the pipeline in a child process and SIGKILL it once `killAfterRows` rows are on disk (if it is still running). */
async function runAndKill(
  opts: PredictOptions,
  killAfterRows: number,
  pace: {delayMs?: number; stallAfterRows?: number},
): Promise<{killed: boolean; rows: number}> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({...opts, ...pace})], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('exit', (code, signal) => resolve({code, signal})),
  )
  let exit: {code: number | null; signal: NodeJS.Signals | null} | undefined
  void exited.then((e) => (exit = e))
  const deadline = Date.now() + 90_000
  while (!exit && Date.now() < deadline && rowsOnDisk(opts.out!) < killAfterRows) await new Promise((r) => setTimeout(r, 10))
  if (!exit) child.kill('SIGKILL')
  const e = await exited
  if (e.code !== null && e.code !== 0) throw new Error(`child failed (${e.code}): ${stderr}`)
  return {killed: e.signal === 'SIGKILL', rows: rowsOnDisk(opts.out!)}
}

beforeAll(async () => {
  zoo = await makeZoo()
  work = tmpDir()
  const model = await tinyModel(work)
  base = {inputs: [zoo.root], recursive: true, model, landmarks: true, batchSize: 2, maxPixels: zoo.maxPixels, threads: 1}
  const out = path.join(work, 'reference.csv')
  await predict({...base, out})
  reference = readFileSync(out, 'utf8')
})

afterAll(() => cleanupTmp())

describe('predict interrupted and resumed', () => {
  it('a run SIGKILLed twice part-way and resumed writes the same file as an uninterrupted run', async () => {
    const out = path.join(work, 'killed.csv')
    const total = zoo.expected.size
    // First kill at a known point: the child stops making progress once it has written 6 rows.
    const first = await runAndKill({...base, out}, 6, {stallAfterRows: 6})
    expect(first.killed).toBe(true)
    expect(first.rows).toBe(6)
    // Without --resume the partial file is refused and left alone.
    const partial = readFileSync(out)
    await expect(predict({...base, out})).rejects.toThrow(/already exists; pass --resume/)
    expect(readFileSync(out).equals(partial)).toBe(true)

    // Second kill at whatever moment the poll notices a few more rows (mid-batch or between batches).
    const second = await runAndKill({...base, out, resume: true}, first.rows + 3, {delayMs: 40})
    expect(second.rows).toBeGreaterThanOrEqual(first.rows)
    if (!second.killed) expect(second.rows).toBe(total) // it finished before the kill: fine too

    const s = await predict({...base, out, resume: true})
    expect(s.skipped_resumed).toBe(second.rows)
    expect(s.images).toBe(total)
    expect(s.ok + s.errors).toBe(total)
    expect(readFileSync(out, 'utf8')).toBe(reference)
  })

  it('a file cut at any byte (a kill mid-write) resumes to the same file', async () => {
    const bytes = Buffer.from(reference, 'utf8')
    const header = bytes.indexOf('\r\n') + 2
    const quotedNewline = bytes.indexOf('new\nline') + 3 // inside a quoted field that holds a newline
    const rowEnd = bytes.indexOf('\r\n', header + 10) + 2
    const cuts = [0, 5, header - 1, header, header + 1, rowEnd - 1, rowEnd, quotedNewline, quotedNewline + 1]
    for (let i = 1; i <= 8; i++) cuts.push(Math.floor((bytes.length * i) / 9) + (i % 3))
    const mb = bytes.indexOf(Buffer.from('表', 'utf8'))
    if (mb > 0) cuts.push(mb + 1) // inside a multi-byte character
    for (const cut of cuts) {
      const out = path.join(work, `cut-${cut}.csv`)
      writeFileSync(out, bytes.subarray(0, cut))
      await predict({...base, out, resume: true})
      expect(readFileSync(out, 'utf8'), `cut at byte ${cut}`).toBe(reference)
    }
  })
})
