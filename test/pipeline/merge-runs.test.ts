/**
 * `poster merge` and the runs that wrote its shards (issue 14 item 9, merge side): shards of one run merge and the
 * merged file carries their common identity record; shards of different runs (another model, other
 * preprocessing) are refused, naming both files and what differs; a shard without a record is merged with a
 * warning, and the merged file then has no record (a stale one beside a replaced output is removed).
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mergePredictions} from '../../src/pipeline/merge.js'
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {readRunIdentity, sidecarPath} from '../../src/pipeline/run-output.js'
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
