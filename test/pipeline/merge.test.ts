import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mergePredictions, MissingInputsError} from '../../src/pipeline/merge.js'
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {readPredictions} from '../../src/report/predictions-csv.js'
import {cleanupTmp, makeZoo, tinyModel, tmpDir, type Zoo} from '../helpers/predict-fixtures.js'

const N = 3
let zoo: Zoo
let work: string
let base: PredictOptions
let unsharded: string
const shardFiles: string[] = []

beforeAll(async () => {
  zoo = await makeZoo({nonUtf8: true})
  work = tmpDir()
  const model = await tinyModel(work)
  base = {inputs: [zoo.root], recursive: true, model, landmarks: true, batchSize: 3, maxPixels: zoo.maxPixels, threads: 1}
  await predict({...base, out: path.join(work, 'all.csv')})
  unsharded = readFileSync(path.join(work, 'all.csv'), 'utf8')
  for (let k = 0; k < N; k++) {
    const s = await predict({...base, out: path.join(work, 'part-{shard}.csv'), shard: {index: k, count: N, source: `--shard ${k + 1}/${N}`}})
    expect(s.output).toBe(path.join(work, `part-${k + 1}-of-${N}.csv`))
    expect(s.shard).toEqual({index: k + 1, count: N, source: `--shard ${k + 1}/${N}`})
    shardFiles.push(s.output)
  }
})

afterAll(() => cleanupTmp())

describe('shards and merge', () => {
  it('shards split the inputs without overlap, and each is a non-trivial share', async () => {
    const sets = await Promise.all(shardFiles.map(async (f) => (await readPredictions(f)).rows.map((r) => r.path)))
    const all = sets.flat()
    expect(all.length).toBe(zoo.expected.size)
    expect(new Set(all).size).toBe(all.length)
    for (const s of sets) expect(s.length).toBeGreaterThan(0)
  })

  it('merging shards 1..N gives the unsharded file byte for byte, whatever the file order', async () => {
    const out = path.join(work, 'merged.csv')
    const s = await mergePredictions({files: shardFiles, out, inputs: [zoo.root], recursive: true})
    expect(readFileSync(out, 'utf8')).toBe(unsharded)
    expect(s).toMatchObject({rows: zoo.expected.size, duplicates: 0, missing: 0, unexpected: 0, files: N})
    const out2 = path.join(work, 'merged-reversed.csv')
    await mergePredictions({files: [...shardFiles].reverse(), out: out2})
    expect(readFileSync(out2, 'utf8')).toBe(unsharded)
  })

  it('reports duplicates and keeps one row per path, an ok row over an error row', async () => {
    const copy = path.join(work, 'copy-of-1.csv')
    copyFileSync(shardFiles[0]!, copy)
    const out = path.join(work, 'dups.csv')
    const n1 = (await readPredictions(shardFiles[0]!)).rows.length
    const s = await mergePredictions({files: [...shardFiles, copy], out})
    expect(readFileSync(out, 'utf8')).toBe(unsharded)
    expect(s.duplicates).toBe(n1)
    expect(s.conflicting_duplicates).toBe(0)
    expect(s.duplicate_paths.length).toBe(n1)
    expect(s.warnings.join('\n')).toMatch(new RegExp(`${n1} duplicate rows dropped`))

    // A conflicting copy: one ok row turned into an error row in a file given first. The ok row wins.
    const file = await readPredictions(shardFiles[0]!)
    const okRow = file.rows.find((r) => r.status === 'ok')!
    const text = readFileSync(shardFiles[0]!, 'utf8')
    const header = text.slice(0, text.indexOf('\r\n') + 2)
    const {csvLines} = await import('../../src/report/predictions-csv.js')
    const bad = file.columns.map((c) => (c === 'path' ? okRow.path : c === 'status' ? 'error' : c === 'error' ? 'flaky disk' : ''))
    const conflicting = path.join(work, 'conflicting.csv')
    writeFileSync(conflicting, header + csvLines([bad]))
    const out2 = path.join(work, 'dups2.csv')
    const s2 = await mergePredictions({files: [conflicting, ...shardFiles], out: out2})
    expect(readFileSync(out2, 'utf8')).toBe(unsharded)
    expect(s2).toMatchObject({duplicates: 1, conflicting_duplicates: 1, duplicate_paths: [okRow.path]})
  })

  it('with --inputs, reports inputs no shard covered (error unless allowMissing), the file still written', async () => {
    const lost = (await readPredictions(shardFiles[1]!)).rows.map((r) => r.path)
    const out = path.join(work, 'partial.csv')
    const err = await mergePredictions({files: [shardFiles[0]!, shardFiles[2]!], out, inputs: [zoo.root], recursive: true}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MissingInputsError)
    expect((err as Error).message).toMatch(new RegExp(`^${lost.length} inputs have no row`))
    expect((err as MissingInputsError).summary.missing_paths).toEqual(lost)
    expect(existsSync(out)).toBe(true)
    expect((await readPredictions(out)).rows.length).toBe(zoo.expected.size - lost.length)

    const out2 = path.join(work, 'partial2.csv')
    const s = await mergePredictions({files: [shardFiles[0]!, shardFiles[2]!], out: out2, inputs: [zoo.root], recursive: true, allowMissing: true})
    expect(s.missing).toBe(lost.length)
    // Without --inputs there is nothing to compare with: missing is unknown.
    const s3 = await mergePredictions({files: [shardFiles[0]!], out: path.join(work, 'one.csv')})
    expect(s3.missing).toBeNull()
  })

  it('refuses files whose headers differ, and an existing output unless forced', async () => {
    const noLm = path.join(work, 'nolm.csv')
    await predict({...base, landmarks: false, out: noLm, shard: {index: 0, count: N, source: 'test'}})
    await expect(mergePredictions({files: [shardFiles[0]!, noLm], out: path.join(work, 'x.csv')})).rejects.toThrow(/headers differ/)
    expect(existsSync(path.join(work, 'x.csv'))).toBe(false)
    const out = path.join(work, 'exists.csv')
    writeFileSync(out, 'keep me')
    await expect(mergePredictions({files: shardFiles, out})).rejects.toThrow(/already exists; remove it or pass --force/)
    expect(readFileSync(out, 'utf8')).toBe('keep me')
    await mergePredictions({files: shardFiles, out, force: true})
    expect(readFileSync(out, 'utf8')).toBe(unsharded)
  })

  it('tolerates a shard cut short by a kill (its partial last row dropped, reported)', async () => {
    const text = readFileSync(shardFiles[0]!)
    const cut = path.join(work, 'cut.csv')
    writeFileSync(cut, text.subarray(0, text.length - 7))
    const s = await mergePredictions({files: [cut, shardFiles[1]!, shardFiles[2]!], out: path.join(work, 'cutm.csv'), inputs: [zoo.root], recursive: true, allowMissing: true})
    expect(s.missing).toBe(1)
    expect(s.warnings.join('\n')).toMatch(/incomplete last row/)
  })
})
