/**
 * What one predict run must not do to another: share an output at the same time (issue: two runs left mangled
 * records), resume a file another model wrote (rows of two models mixed), commit rows whose overlays failed.
 */
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {overlayNames, predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {parsePredictionsCsv} from '../../src/report/predictions-csv.js'
import {cleanupTmp, makeZoo, SPEC, tinyModel, tmpDir, type Zoo} from '../helpers/predict-fixtures.js'

let zoo: Zoo
let base: PredictOptions
let reference: string
let work: string

beforeAll(async () => {
  zoo = await makeZoo()
  work = tmpDir()
  base = {inputs: [zoo.root], recursive: true, model: await tinyModel(work), batchSize: 2, maxPixels: zoo.maxPixels, threads: 1}
  const out = path.join(work, 'reference.csv')
  await predict({...base, out})
  reference = readFileSync(out, 'utf8')
})

afterAll(() => cleanupTmp())

/** A file's rows as sorted CSV lines: a resumed file holds the same rows, the resumed ones first. */
const sortedRows = (text: string) => text.split('\r\n').slice(1).sort()

describe('predict runs sharing an output', () => {
  it('a second run on the same --out while the first is running is refused, naming the first; the first finishes intact', async () => {
    const out = path.join(tmpDir(), 'shared.csv')
    let release!: () => void
    const paused = new Promise<void>((r) => (release = r))
    let second: unknown
    const first = predict({
      ...base,
      out,
      onBatch: async () => {
        if (second === undefined) {
          second = await predict({...base, out, resume: true}).catch((e: unknown) => e)
          release()
        }
        await paused
      },
    })
    await first
    expect(second).toBeInstanceOf(Error)
    expect((second as Error).message).toMatch(new RegExp(`shared\\.csv is being written by another poster run \\(pid ${process.pid} on `))
    expect(readFileSync(out, 'utf8')).toBe(reference)
    expect(existsSync(`${out}.lock`)).toBe(false)
  })

  it('--resume with another model (same classes) is refused with both SHA-256s named', async () => {
    const out = path.join(tmpDir(), 'a.csv')
    await predict({...base, out, inputs: [`${zoo.root}/red.png`]})
    const other = await tinyModel(tmpDir(), {...SPEC, bias: [0, 0, 0, 0]})
    const before = readFileSync(out, 'utf8')
    await expect(predict({...base, out, model: other, resume: true})).rejects.toThrow(
      /cannot resume .*a\.csv: it was written by a different run \(model\.sha256: [0-9a-f]{64} there, [0-9a-f]{64} now\)/,
    )
    expect(readFileSync(out, 'utf8')).toBe(before)
    // The same model resumes and completes the file with the rows an uninterrupted run writes.
    await predict({...base, out, resume: true})
    expect(sortedRows(readFileSync(out, 'utf8'))).toEqual(sortedRows(reference))
  })

  it('an overlay that cannot be written stops the run before its rows are committed; --resume redoes rows and overlays', async () => {
    const dir = tmpDir()
    const out = path.join(dir, 'o.csv')
    const overlay = path.join(dir, 'overlays')
    // A folder where green.png's overlay must go: the rename onto it fails, as a full disk or a bad mount would.
    mkdirSync(path.join(overlay, 'green.png'), {recursive: true})
    await expect(predict({...base, out, overlay})).rejects.toThrow(/overlay .*green\.png could not be written .*--resume redoes it/)
    const rows = parsePredictionsCsv(readFileSync(out)).rows
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.map((r) => r.path)).not.toContain(`${zoo.root}/green.png`)
    const names = overlayNames(parsePredictionsCsv(reference).rows.map((r) => ({relPath: r.path})))
    // Every committed ok row has its overlay on disk.
    for (const r of rows) if (r.status === 'ok') expect(existsSync(path.join(overlay, names.get(r.path)!)), r.path).toBe(true)
    rmSync(path.join(overlay, 'green.png'), {recursive: true})
    await predict({...base, out, overlay, resume: true})
    expect(readFileSync(out, 'utf8')).toBe(reference)
    const all = parsePredictionsCsv(readFileSync(out)).rows.filter((r) => r.status === 'ok')
    expect(readdirSync(overlay).length).toBe(all.length)
    for (const r of all) expect(existsSync(path.join(overlay, names.get(r.path)!)), r.path).toBe(true)
  })
})
