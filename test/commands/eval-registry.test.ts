/**
 * `poster eval --model rafdb` end to end, with a local server that behaves like Google Drive (virus-scan
 * confirmation page) serving a full-size checkpoint in the released layout: downloaded once, converted once with
 * the real converter, then reused; the model's names and the official parity logits come through.
 */
import {readFileSync} from 'node:fs'
import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import Eval from '../../src/commands/eval.js'
import {RAFDB} from '../../src/datasets/labels.js'
import {writeSyntheticRafdb} from '../../src/datasets/synthetic.js'
import {MODELS} from '../../src/models/registry.js'
import {deterministicInput, deterministicPosterWeights} from '../../src/poster/deterministic-weights.js'
import {openSession} from '../../src/runtime/session.js'
import {startFakeDrive, type FakeDrive} from '../models/fake-drive.js'
import {releasedCheckpoint, torchSaveBytes} from '../helpers/torch-save.js'

const ROOT = new URL('../..', import.meta.url).pathname
const EXPECTED = JSON.parse(readFileSync(new URL('../fixtures/parity/expected-7cls.json', import.meta.url), 'utf8')) as {logits: number[][]}

describe('poster eval --model rafdb (registry download + conversion)', () => {
  let drive: FakeDrive
  const saved = {url: process.env.POSTER_DRIVE_URL, cache: process.env.POSTER_CACHE}
  let cache: string

  beforeAll(async () => {
    const ckpt = Buffer.from(torchSaveBytes(releasedCheckpoint(deterministicPosterWeights(7))))
    drive = await startFakeDrive([{id: MODELS.rafdb.driveId, data: ckpt, mode: 'form'}])
    cache = await mkdtemp(join(tmpdir(), 'poster-registry-cache-'))
    process.env.POSTER_DRIVE_URL = drive.baseUrl
    process.env.POSTER_CACHE = cache
  })

  afterAll(async () => {
    await drive?.close()
    for (const [k, v] of [['POSTER_DRIVE_URL', saved.url], ['POSTER_CACHE', saved.cache]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })

  it('downloads through the confirmation page, converts, evaluates, and reuses both next time', async () => {
    const data = await mkdtemp(join(tmpdir(), 'poster-registry-raf-'))
    await writeSyntheticRafdb(data, {perClass: 1, seed: 5})
    const first = await captureOutput(() => Eval.run([data, '--model', 'rafdb', '--out', join(data, 'run1'), '--json', '--no-pictures'], {root: ROOT}))
    expect(first.error).toBeUndefined()
    const m = JSON.parse(first.stdout)
    expect(m.model.source).toBe('registry')
    expect(m.model.labels).toEqual(RAFDB.names)
    expect(m.n_images).toBe(7)
    expect(m.paper).toEqual({accuracy: 0.9221, benchmark: 'rafdb'})
    const fileRequests = drive.requests.filter((r) => r.status === 200 || r.status === 206).length
    expect(fileRequests).toBeGreaterThanOrEqual(1)

    // The converted model gives the official logits for the parity input.
    const session = await openSession(m.model.path)
    const out = await session.run(deterministicInput(3).data, 3)
    await session.release()
    EXPECTED.logits.flat().forEach((v, i) => expect(Math.abs(out.logits[i] - v)).toBeLessThan(1e-4))

    // Second run: nothing downloaded, nothing converted.
    const before = drive.requests.length
    const second = await captureOutput(() => Eval.run([data, '--model', 'rafdb', '--out', join(data, 'run2'), '--json', '--no-pictures'], {root: ROOT}))
    expect(second.error).toBeUndefined()
    expect(drive.requests.length).toBe(before)
    expect(JSON.parse(second.stdout).model.sha256).toBe(m.model.sha256)
    expect(await readFile(join(data, 'run2', 'predictions.csv'), 'utf8')).toBe(await readFile(join(data, 'run1', 'predictions.csv'), 'utf8'))
  })
})
