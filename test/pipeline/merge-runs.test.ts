/**
 * `poster merge` and the runs that wrote its shards (issue 14 item 9, merge side): shards of one run merge and the
 * merged file carries their common identity record; shards of different runs (another model, other
 * preprocessing) are refused, naming both files and what differs; a shard without a record is merged with a
 * warning, and the merged file then has no record (a stale one beside a replaced output is removed). And (item 16)
 * the ok rows it copies must hold valid numbers: a probability that is not a number, negative or above 1 is refused.
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mergePredictions} from '../../src/pipeline/merge.js'
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {readRunIdentity, sidecarPath} from '../../src/pipeline/run-output.js'
import {csvLines, readPredictions} from '../../src/report/predictions-csv.js'
import {sha256File} from '../../src/basics.js'
import {bmpBytes, cleanupTmp, SPEC, tmpDir} from '../helpers/predict-fixtures.js'
import {writeTinyModel} from '../helpers/tiny-model.js'

let work: string
let base: PredictOptions
let modelA: string
let modelB: string
const shards: string[] = []

const shard = (k: number, n: number) => ({index: k, count: n, source: `--shard ${k + 1}/${n}`})

beforeAll(async () => {
  work = tmpDir('poster-merge-runs-')
  const images = path.join(work, 'images')
  mkdirSync(images)
  for (let i = 0; i < 8; i++) writeFileSync(path.join(images, `img-${i}.bmp`), bmpBytes(6 + i, 5))
  modelA = await writeTinyModel(path.join(work, 'a.onnx'), SPEC)
  // The same classes, other weights: only the SHA-256 tells the two apart.
  modelB = await writeTinyModel(path.join(work, 'b.onnx'), {...SPEC, bias: [0, 0, 0, 0]})
  base = {inputs: [images], model: modelA, batchSize: 4, threads: 1}
  for (let k = 0; k < 2; k++) shards.push((await predict({...base, out: path.join(work, 'a-{shard}.csv'), shard: shard(k, 2)})).output)
})

afterAll(() => cleanupTmp())

describe('merge checks that its shards come from one run', () => {
  it('shards of one run: merged, and the merged file records their identity', async () => {
    const out = path.join(work, 'merged.csv')
    const s = await mergePredictions({files: shards, out})
    expect(s.rows).toBe(8)
    expect(s.warnings).toEqual([])
    const merged = await readRunIdentity(out)
    expect(merged).toEqual(await readRunIdentity(shards[0]!))
    expect((merged!.model as {sha256: string}).sha256).toBe(await sha256File(modelA))
  })

  it('a shard written with another model is refused, naming both files and both SHA-256s', async () => {
    const other = (await predict({...base, model: modelB, out: path.join(work, 'b-{shard}.csv'), shard: shard(1, 2)})).output
    const out = path.join(work, 'mixed.csv')
    const e = await mergePredictions({files: [shards[0]!, other], out}).catch((err: Error) => err)
    expect(e).toBeInstanceOf(Error)
    const [shaA, shaB] = [await sha256File(modelA), await sha256File(modelB)]
    expect((e as Error).message).toBe(
      `cannot merge ${shards[0]} and ${other}: they were written by different runs (model.sha256: ${shaA} in ${shards[0]}, ${shaB} in ${other}). ` +
        'Merge only the shards of one run (same model, classes, preprocessing and flags).',
    )
    expect(existsSync(out)).toBe(false)
  })

  it('a shard written with other preprocessing (--max-pixels) is refused too', async () => {
    const other = (await predict({...base, maxPixels: 1000, out: path.join(work, 'mp-{shard}.csv'), shard: shard(1, 2)})).output
    const e = await mergePredictions({files: [shards[0]!, other], out: path.join(work, 'mixed2.csv')}).catch((err: Error) => err)
    expect((e as Error).message).toContain(`preprocess.max_pixels: null in ${shards[0]}, 1000 in ${other}`)
  })

  it('a shard without a record: merged with a warning, and no record (not even a stale one) beside the output', async () => {
    const bare = path.join(work, 'bare.csv')
    copyFileSync(shards[1]!, bare)
    const out = path.join(work, 'merged.csv') // written by the first test, with a record
    expect(existsSync(sidecarPath(out))).toBe(true)
    const before = readFileSync(out, 'utf8')
    writeFileSync(out, 'replaced below\n')
    const s = await mergePredictions({files: [shards[0]!, bare], out, force: true})
    expect(s.rows).toBe(8)
    expect(s.warnings).toEqual([
      `"${bare}" has no .run.json record (written by an older poster, or copied without it): the model and flags that wrote it cannot be checked against the other shards`,
    ])
    expect(existsSync(sidecarPath(out))).toBe(false)
    expect(readFileSync(out, 'utf8')).toBe(before)
  })
})

describe('merge checks the numbers of the ok rows it copies (item 16)', () => {
  /** A copy of shard 2 (with its record) whose first ok row has `value` in its first p_ column. */
  async function damaged(name: string, value: string, column?: string): Promise<{file: string; path: string; column: string}> {
    const parsed = await readPredictions(shards[1]!)
    const col = column ?? parsed.columns.find((c) => c.startsWith('p_'))!
    const rows = parsed.rows.map((r) => ({...r}))
    const target = rows.find((r) => r.status === 'ok')!
    target[col] = value
    const file = path.join(work, `${name}.csv`)
    writeFileSync(file, csvLines([parsed.columns, ...rows.map((r) => parsed.columns.map((c) => r[c] ?? ''))]))
    copyFileSync(sidecarPath(shards[1]!), sidecarPath(file))
    return {file, path: target.path!, column: col}
  }

  const cases: Array<[string, string, (c: string) => string]> = [
    ['not-a-number', 'abc', (c) => `${c} "abc" is not a number`],
    ['negative', '-0.250000', (c) => `${c} -0.250000 is not a probability (outside 0..1)`],
    ['above-one', '1.500000', (c) => `${c} 1.500000 is not a probability (outside 0..1)`],
    ['hex', '0x1', (c) => `${c} "0x1" is not a number`],
    ['empty', '', (c) => `${c} is empty`],
  ]
  for (const [name, value, says] of cases) {
    it(`a probability that is ${name} is refused, naming the file, the image and the column`, async () => {
      const d = await damaged(name, value)
      const out = path.join(work, `out-${name}.csv`)
      const e = await mergePredictions({files: [shards[0]!, d.file], out}).catch((err: Error) => err)
      expect(e).toBeInstanceOf(Error)
      expect((e as Error).message).toBe(
        `${d.file} has 1 ok row whose numbers are not valid: ${JSON.stringify(d.path)}: ${says(d.column)}. ` +
          'Run that shard again (poster wrote no such values), or fix the file.',
      )
      expect(existsSync(out)).toBe(false)
    })
  }

  it('probabilities that do not sum to 1, a confidence or pred out of range: refused too', async () => {
    const parsed = await readPredictions(shards[1]!)
    const p0 = parsed.columns.find((c) => c.startsWith('p_'))!
    const first = parsed.rows.find((r) => r.status === 'ok')!
    // Moving 0.1 of mass keeps every cell in 0..1 but breaks the sum.
    const shifted = Number(first[p0]) > 0.5 ? Number(first[p0]) - 0.1 : Number(first[p0]) + 0.1
    const sum = await damaged('sum', shifted.toFixed(6))
    const e1 = await mergePredictions({files: [shards[0]!, sum.file], out: path.join(work, 'out-sum.csv')}).catch((err: Error) => err)
    expect((e1 as Error).message).toMatch(/the p_ columns sum to (0\.9|1\.1)\d+, not 1/)
    const conf = await damaged('conf', '-1', 'confidence')
    const e2 = await mergePredictions({files: [shards[0]!, conf.file], out: path.join(work, 'out-conf.csv')}).catch((err: Error) => err)
    expect((e2 as Error).message).toContain('confidence -1 is not a probability (outside 0..1)')
    const pred = await damaged('pred', '9', 'pred')
    const e3 = await mergePredictions({files: [shards[0]!, pred.file], out: path.join(work, 'out-pred.csv')}).catch((err: Error) => err)
    expect((e3 as Error).message).toContain('pred "9" is not a class index (0..3)')
  })

  it("error rows carry no numbers and merge as they are; the real shards' ok rows all pass", async () => {
    const parsed = await readPredictions(shards[1]!)
    const rows = parsed.rows.map((r) => ({...r}))
    rows[0] = {...rows[0]!, status: 'error', error: 'cannot read file: EIO', pred: '', pred_name: '', confidence: ''}
    for (const c of parsed.columns) if (c.startsWith('p_') || c.startsWith('lm')) rows[0]![c] = ''
    const file = path.join(work, 'with-error.csv')
    writeFileSync(file, csvLines([parsed.columns, ...rows.map((r) => parsed.columns.map((c) => r[c] ?? ''))]))
    copyFileSync(sidecarPath(shards[1]!), sidecarPath(file))
    const s = await mergePredictions({files: [shards[0]!, file], out: path.join(work, 'out-error.csv')})
    expect([s.ok, s.errors]).toEqual([7, 1])
  })
})
