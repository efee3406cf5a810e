import {createHash, randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {copyFile, mkdtemp, readFile, rm, utimes, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {RAFDB} from '../../src/datasets/labels.js'
import type {DownloadOptions} from '../../src/models/download.js'
import {resolveModel, type ConvertOptions, type ResolveStage} from '../../src/models/resolve.js'
import {startFakeDrive, type FakeDrive} from './fake-drive.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

let dir: string
let cache: string
let drive: FakeDrive | undefined

interface Call {
  pth: string
  onnx: string
  opts: ConvertOptions
}

function fakeConverter(calls: Call[], fail = false) {
  return async (pth: string, onnx: string, opts: ConvertOptions) => {
    calls.push({pth, onnx, opts})
    await new Promise((r) => setTimeout(r, 5))
    if (fail) throw new Error('converter exploded')
    await writeFile(onnx, `ONNX of ${sha(await readFile(pth))}`)
  }
}

function fakeDownload(calls: Array<{id: string; dest: string}>, body: Buffer = Buffer.from('PK\u0003\u0004checkpoint')) {
  return async (id: string, dest: string, _opts: DownloadOptions) => {
    calls.push({id, dest})
    await writeFile(dest, body)
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-resolve-'))
  cache = join(dir, 'cache')
})

afterEach(async () => {
  await drive?.close()
  drive = undefined
  await rm(dir, {recursive: true, force: true})
})

describe('resolveModel: files', () => {
  it('uses an .onnx path as is', async () => {
    const calls: Call[] = []
    const p = join(dir, 'model.onnx')
    await writeFile(p, 'onnx')
    const r = await resolveModel(p, {convert: fakeConverter(calls), cacheDir: cache})
    expect(r).toMatchObject({onnxPath: p, source: 'file', converted: false})
    expect(r.labels).toBeUndefined()
    expect(calls).toHaveLength(0)
    await expect(resolveModel(join(dir, 'nope.onnx'), {convert: fakeConverter(calls), cacheDir: cache})).rejects.toThrow(
      /no such model file/,
    )
  })

  it('converts a .pth once into the cache and reuses it', async () => {
    const calls: Call[] = []
    const stages: ResolveStage[] = []
    const pth = join(dir, 'mine.pth')
    const bytes = randomBytes(10_000)
    await writeFile(pth, bytes)
    const opts = {
      convert: fakeConverter(calls),
      cacheDir: cache,
      onStatus: (s: ResolveStage) => stages.push(s),
      convertOptions: {labels: ['a', 'b']},
    }
    const a = await resolveModel(pth, opts)
    expect(a.source).toBe('checkpoint')
    expect(a.converted).toBe(true)
    expect(a.sha256).toBe(sha(bytes))
    expect(a.checkpointPath).toBe(pth)
    expect(a.onnxPath.startsWith(cache)).toBe(true)
    expect(await readFile(a.onnxPath, 'utf8')).toBe(`ONNX of ${sha(bytes)}`)
    expect(calls).toHaveLength(1)
    expect(calls[0].opts).toEqual({labels: ['a', 'b'], sha256: sha(bytes)})

    const b = await resolveModel(pth, opts)
    expect(b).toMatchObject({onnxPath: a.onnxPath, converted: false, source: 'checkpoint'})
    expect(calls).toHaveLength(1)
    // Hashed once: the second call knew the hash from path + size + mtime.
    expect(stages.filter((s) => s === 'hash')).toHaveLength(1)

    // The same bytes elsewhere reuse the same conversion (keyed by content).
    const copy = join(dir, 'copy.pth')
    await copyFile(pth, copy)
    const c = await resolveModel(copy, opts)
    expect(c).toMatchObject({onnxPath: a.onnxPath, converted: false})
    expect(calls).toHaveLength(1)

    // New contents → a new conversion.
    await writeFile(pth, randomBytes(10_000))
    const later = new Date(Date.now() + 5000)
    await utimes(pth, later, later)
    const d = await resolveModel(pth, opts)
    expect(d.converted).toBe(true)
    expect(d.onnxPath).not.toBe(a.onnxPath)
    expect(calls).toHaveLength(2)
  })

  it('converts again with force or a new converter version', async () => {
    const calls: Call[] = []
    const pth = join(dir, 'mine.pth')
    await writeFile(pth, 'PK\u0003\u0004x')
    await resolveModel(pth, {convert: fakeConverter(calls), cacheDir: cache})
    await resolveModel(pth, {convert: fakeConverter(calls), cacheDir: cache, force: true})
    expect(calls).toHaveLength(2)
    await resolveModel(pth, {convert: fakeConverter(calls), cacheDir: cache, converterVersion: '2'})
    expect(calls).toHaveLength(3)
    await resolveModel(pth, {convert: fakeConverter(calls), cacheDir: cache, converterVersion: '2'})
    expect(calls).toHaveLength(3)
  })

  it('does not trust the output of a failed conversion', async () => {
    const calls: Call[] = []
    const pth = join(dir, 'mine.pth')
    await writeFile(pth, 'PK\u0003\u0004x')
    await expect(resolveModel(pth, {convert: fakeConverter(calls, true), cacheDir: cache})).rejects.toThrow(/exploded/)
    const r = await resolveModel(pth, {convert: fakeConverter(calls), cacheDir: cache})
    expect(r.converted).toBe(true)
    expect(calls).toHaveLength(2)
  })

  it('tells a checkpoint from an ONNX file by its bytes when there is no known extension', async () => {
    const calls: Call[] = []
    const ckpt = join(dir, 'model_best')
    await writeFile(ckpt, 'PK\u0003\u0004zip')
    expect((await resolveModel(ckpt, {convert: fakeConverter(calls), cacheDir: cache})).source).toBe('checkpoint')
    const onnx = join(dir, 'graph')
    await writeFile(onnx, Buffer.from([0x08, 0x08, 0x12, 0x04]))
    expect((await resolveModel(onnx, {convert: fakeConverter(calls), cacheDir: cache})).source).toBe('file')
  })
})

describe('resolveModel: registry names', () => {
  it('downloads and converts once, then reuses the ONNX', async () => {
    const calls: Call[] = []
    const downloads: Array<{id: string; dest: string}> = []
    const opts = {convert: fakeConverter(calls), download: fakeDownload(downloads), cacheDir: cache}
    const a = await resolveModel('rafdb', opts)
    expect(a).toMatchObject({
      source: 'registry',
      name: 'rafdb',
      labels: RAFDB.names,
      numClasses: 7,
      paperAccuracy: 92.21,
      benchmark: 'rafdb',
      onnxPath: join(cache, 'rafdb.onnx'),
      checkpointPath: join(cache, 'rafdb.pth'),
      downloaded: true,
      converted: true,
    })
    expect(downloads).toEqual([{id: '1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv', dest: join(cache, 'rafdb.pth')}])
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({pth: join(cache, 'rafdb.pth'), onnx: join(cache, 'rafdb.onnx')})
    expect(calls[0].opts).toEqual({name: 'rafdb', numClasses: 7, labels: RAFDB.names})

    const b = await resolveModel('RAF-DB', opts)
    expect(b).toMatchObject({name: 'rafdb', onnxPath: a.onnxPath, downloaded: false, converted: false})
    expect(downloads).toHaveLength(1)
    expect(calls).toHaveLength(1)

    // Deleting the .pth to save space keeps the ONNX usable.
    await rm(join(cache, 'rafdb.pth'))
    expect((await resolveModel('rafdb', opts)).converted).toBe(false)
    expect(downloads).toHaveLength(1)

    const e = await resolveModel('affectnet8', opts)
    expect(e).toMatchObject({name: 'affectnet8', numClasses: 8, paperAccuracy: 63.77})
    expect(e.labels).toContain('Contempt')
    expect(downloads.map((d) => d.id)).toEqual(['1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv', '1tdYH12vgWnIWfupuBkP3jmWS0pJtDxvh'])
  })

  it('uses a checkpoint put in the cache by hand without downloading', async () => {
    const calls: Call[] = []
    const downloads: Array<{id: string; dest: string}> = []
    const opts = {convert: fakeConverter(calls), download: fakeDownload(downloads), env: {POSTER_CACHE: cache}}
    const {mkdir} = await import('node:fs/promises')
    await mkdir(cache, {recursive: true})
    await writeFile(join(cache, 'caers.pth'), 'PK\u0003\u0004hand')
    const r = await resolveModel('caers', opts)
    expect(r).toMatchObject({downloaded: false, converted: true, onnxPath: join(cache, 'caers.onnx'), paperAccuracy: 93})
    expect(downloads).toHaveLength(0)
  })

  it('does the work once when two runs ask at the same time', async () => {
    const calls: Call[] = []
    const downloads: Array<{id: string; dest: string}> = []
    const opts = {convert: fakeConverter(calls), download: fakeDownload(downloads), cacheDir: cache}
    const [a, b] = await Promise.all([resolveModel('affectnet7', opts), resolveModel('affectnet7', opts)])
    expect(a.onnxPath).toBe(b.onnxPath)
    expect(downloads).toHaveLength(1)
    expect(calls).toHaveLength(1)
    expect(existsSync(`${a.onnxPath}.lock`)).toBe(false)
  })

  it('downloads from (fake) Drive through the confirmation page, once', async () => {
    const body = Buffer.concat([Buffer.from('PK\u0003\u0004'), randomBytes(200_000)])
    drive = await startFakeDrive([{id: '1c_gp5UdlcMjIB2dZtdhXFfHOQg1OqU-D', data: body, mode: 'form'}])
    const calls: Call[] = []
    const progress: number[] = []
    const opts = {
      convert: fakeConverter(calls),
      env: {POSTER_CACHE: cache, POSTER_DRIVE_URL: drive.baseUrl},
      onProgress: (n: number) => progress.push(n),
    }
    const a = await resolveModel('affectnet7', opts)
    expect(a.downloaded).toBe(true)
    expect(sha(await readFile(join(cache, 'affectnet7.pth')))).toBe(sha(body))
    expect(await readFile(a.onnxPath, 'utf8')).toBe(`ONNX of ${sha(body)}`)
    expect(progress.at(-1)).toBe(body.length)
    expect(drive.requests).toHaveLength(2)

    const b = await resolveModel('affectnet7', opts)
    expect(b.converted).toBe(false)
    expect(drive.requests).toHaveLength(2)
    expect(calls).toHaveLength(1)
  })

  it('passes a download failure through and converts nothing', async () => {
    drive = await startFakeDrive([{id: '1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv', data: Buffer.from('x'), mode: 'quota'}])
    const calls: Call[] = []
    const p = resolveModel('rafdb', {convert: fakeConverter(calls), cacheDir: cache, downloadOptions: {baseUrl: drive.baseUrl}})
    await expect(p).rejects.toThrow(/quota.*drive\.google\.com\/file\/d\/1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv.*rafdb\.pth/s)
    expect(calls).toHaveLength(0)
    expect(existsSync(join(cache, 'rafdb.onnx.lock'))).toBe(false)
  })

  it('lists the known names for an unknown one', async () => {
    await expect(resolveModel('fer2013', {convert: fakeConverter([]), cacheDir: cache})).rejects.toThrow(
      /unknown model "fer2013".*rafdb, affectnet7, affectnet8, caers/,
    )
  })
})
