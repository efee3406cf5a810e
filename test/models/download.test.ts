import {createHash, randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  confirmationTarget,
  downloadDriveFile,
  driveBaseUrl,
  DriveDownloadError,
  manualDownloadUrl,
} from '../../src/models/download.js'
import {startFakeDrive, type FakeDrive, type FakeFile} from './fake-drive.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const DATA = randomBytes(300_000)
const ID = '1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv'

let dir: string
let drive: FakeDrive | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-dl-'))
})

afterEach(async () => {
  await drive?.close()
  drive = undefined
  await rm(dir, {recursive: true, force: true})
})

async function serve(file: Partial<FakeFile> & Pick<FakeFile, 'mode'>): Promise<FakeDrive> {
  drive = await startFakeDrive([{id: ID, data: DATA, ...file}])
  return drive
}

async function expectFile(path: string): Promise<void> {
  expect(sha(await readFile(path))).toBe(sha(DATA))
  expect(existsSync(`${path}.part`)).toBe(false)
}

async function rejection(p: Promise<unknown>): Promise<DriveDownloadError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(DriveDownloadError)
  return e as DriveDownloadError
}

describe('downloadDriveFile', () => {
  it('downloads a file Drive serves directly, reporting progress up to the total', async () => {
    const d = await serve({mode: 'direct'})
    const dest = join(dir, 'sub', 'rafdb.pth')
    const progress: Array<[number, number | undefined]> = []
    const r = await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, onProgress: (a, b) => progress.push([a, b])})
    await expectFile(dest)
    expect(r).toEqual({path: dest, bytes: DATA.length, resumedFrom: 0})
    expect(d.requests).toHaveLength(1)
    expect(d.requests[0]).toMatchObject({path: '/uc', query: {export: 'download', id: ID}})
    expect(progress.at(-1)).toEqual([DATA.length, DATA.length])
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0])
  })

  it('follows redirects (uc → usercontent)', async () => {
    const d = await serve({mode: 'redirect'})
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl})
    await expectFile(dest)
    expect(d.requests.map((r) => r.path)).toEqual(['/uc', '/download'])
  })

  it('takes the base URL from POSTER_DRIVE_URL', async () => {
    const d = await serve({mode: 'direct'})
    expect(driveBaseUrl({env: {POSTER_DRIVE_URL: `${d.baseUrl}/`}})).toBe(d.baseUrl)
    expect(driveBaseUrl({env: {}})).toBe('https://drive.google.com')
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {env: {POSTER_DRIVE_URL: d.baseUrl}})
    await expectFile(dest)
  })

  it('gets past the virus-scan page (download-form variant)', async () => {
    const d = await serve({mode: 'form'})
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl})
    await expectFile(dest)
    expect(d.requests).toHaveLength(2)
    expect(d.requests[1]).toMatchObject({path: '/download', query: {id: ID, export: 'download', confirm: 't'}, status: 200})
    expect(d.requests[1].query.uuid).toBeTruthy()
  })

  it('gets past the older page with a confirm token link', async () => {
    const d = await serve({mode: 'token'})
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl})
    await expectFile(dest)
    expect(d.requests).toHaveLength(2)
    expect(d.requests[1]).toMatchObject({path: '/uc', query: {id: ID, confirm: 'Ab3_x-9'}, status: 200})
  })

  it('gets past the older page with the token in a download_warning cookie, sending the cookie back', async () => {
    const d = await serve({mode: 'cookie'})
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl})
    await expectFile(dest)
    expect(d.requests).toHaveLength(2)
    expect(d.requests[1].query.confirm).toBe('Zq81')
    expect(d.requests[1].cookie).toContain(`download_warning_13058876669334088843_${ID}=Zq81`)
    expect(d.requests[1].cookie).toContain('NID=511=abc')
  })

  it('resumes with a Range request after the connection drops mid-body (next run)', async () => {
    const d = await serve({mode: 'direct', dropAfter: 120_000})
    const dest = join(dir, 'm.pth')
    const e = await rejection(downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, retries: 0}))
    expect(e.kind).toBe('network')
    expect(e.resumable).toBe(true)
    expect(e.message).toContain(`${dest}.part`)
    expect(existsSync(dest)).toBe(false)
    const kept = (await stat(`${dest}.part`)).size
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThan(DATA.length)
    // The bytes kept are the file's first bytes.
    expect(sha((await readFile(`${dest}.part`)))).toBe(sha(DATA.subarray(0, kept)))

    const progress: number[] = []
    const r = await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, onProgress: (n) => progress.push(n)})
    await expectFile(dest)
    expect(r.resumedFrom).toBe(kept)
    expect(progress[0]).toBe(kept)
    expect(d.requests).toHaveLength(2)
    expect(d.requests[1]).toMatchObject({range: `bytes=${kept}-`, status: 206})
  })

  it('resumes by itself within one call when retries are allowed', async () => {
    const d = await serve({mode: 'direct', dropAfter: 50_000})
    const dest = join(dir, 'm.pth')
    const r = await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, retryDelayMs: 0})
    await expectFile(dest)
    expect(r.resumedFrom).toBeGreaterThan(0)
    expect(d.requests).toHaveLength(2)
    expect(d.requests[0].range).toBeUndefined()
    expect(d.requests[1].range).toMatch(/^bytes=\d+-$/)
    expect(d.requests[1].status).toBe(206)
  })

  it('resumes through the confirmation page too', async () => {
    const d = await serve({mode: 'form', dropAfter: 70_000})
    const dest = join(dir, 'm.pth')
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, retryDelayMs: 0})
    await expectFile(dest)
    expect(d.requests.map((r) => [r.path, r.status])).toEqual([
      ['/uc', 200],
      ['/download', 200],
      ['/uc', 200],
      ['/download', 206],
    ])
  })

  it('restarts from zero when the server answers a Range request with 200', async () => {
    const d = await serve({mode: 'direct', ignoreRange: true})
    const dest = join(dir, 'm.pth')
    await writeFile(`${dest}.part`, Buffer.alloc(5000, 0xab)) // not the file's bytes: must be discarded
    const progress: number[] = []
    const r = await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, onProgress: (n) => progress.push(n)})
    await expectFile(dest)
    expect(r.resumedFrom).toBe(0)
    expect(progress[0]).toBe(0)
    expect(d.requests[0]).toMatchObject({range: 'bytes=5000-', status: 200})
  })

  it('finishes when the .part already holds the whole file (416)', async () => {
    const d = await serve({mode: 'direct'})
    const dest = join(dir, 'm.pth')
    await writeFile(`${dest}.part`, DATA)
    await downloadDriveFile(ID, dest, {baseUrl: d.baseUrl})
    await expectFile(dest)
    expect(d.requests[0].status).toBe(416)
  })

  it('fails clearly on a quota-exceeded page after confirmation', async () => {
    const d = await serve({mode: 'quota'})
    const dest = join(dir, 'rafdb.pth')
    const e = await rejection(downloadDriveFile(ID, dest, {baseUrl: d.baseUrl}))
    expect(e.kind).toBe('quota')
    expect(e.resumable).toBe(false)
    expect(e.message).toMatch(/quota/i)
    expect(e.message).toContain(`https://drive.google.com/file/d/${ID}`)
    expect(e.message).toContain(dest)
    expect(e.message).toContain('--model')
    expect(existsSync(dest)).toBe(false)
    expect(existsSync(`${dest}.part`)).toBe(false)
    expect(d.requests).toHaveLength(2) // no retry loop on a quota page
  })

  it('fails clearly on a quota page served straight away', async () => {
    const d = await serve({mode: 'quota-direct'})
    const e = await rejection(downloadDriveFile(ID, join(dir, 'm.pth'), {baseUrl: d.baseUrl}))
    expect(e.kind).toBe('quota')
    expect(e.message).toContain('Too many users have viewed or downloaded this file recently')
    expect(d.requests).toHaveLength(1)
  })

  it('reports access-denied and missing files with the manual route', async () => {
    let d = await serve({mode: 'denied'})
    let e = await rejection(downloadDriveFile(ID, join(dir, 'm.pth'), {baseUrl: d.baseUrl}))
    expect(e.kind).toBe('denied')
    expect(e.status).toBe(403)
    expect(e.message).toContain(manualDownloadUrl(ID))
    await d.close()

    d = await serve({mode: 'missing'})
    e = await rejection(downloadDriveFile(ID, join(dir, 'm.pth'), {baseUrl: d.baseUrl}))
    expect(e.kind).toBe('http')
    expect(e.status).toBe(404)
    expect(e.message).toContain('HTTP 404')
    expect(e.message).toContain(manualDownloadUrl(ID))
    expect(d.requests).toHaveLength(1)
  })

  it('detects a body shorter than the announced size and keeps it for resuming', async () => {
    const d = await serve({mode: 'direct', rangeTotal: DATA.length + 1000})
    const dest = join(dir, 'm.pth')
    await writeFile(`${dest}.part`, DATA.subarray(0, 1000))
    const e = await rejection(downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, retries: 0}))
    expect(e.kind).toBe('size')
    expect(e.resumable).toBe(true)
    expect(e.message).toMatch(/size mismatch.*300000 of 301000/)
    expect((await stat(`${dest}.part`)).size).toBe(DATA.length)
  })

  it('detects a body longer than the announced size and discards it', async () => {
    const d = await serve({mode: 'direct', rangeTotal: DATA.length - 1000})
    const dest = join(dir, 'm.pth')
    await writeFile(`${dest}.part`, DATA.subarray(0, 1000))
    const e = await rejection(downloadDriveFile(ID, dest, {baseUrl: d.baseUrl, retries: 2, retryDelayMs: 0}))
    expect(e.kind).toBe('size')
    expect(e.resumable).toBe(false)
    expect(existsSync(`${dest}.part`)).toBe(false)
    expect(existsSync(dest)).toBe(false)
    expect(d.requests).toHaveLength(1)
  })

  it('stops on abort and keeps the partial file', async () => {
    const d = await serve({mode: 'direct'})
    const dest = join(dir, 'm.pth')
    const ac = new AbortController()
    const p = downloadDriveFile(ID, dest, {
      baseUrl: d.baseUrl,
      signal: ac.signal,
      onProgress: (n) => {
        if (n > 0) ac.abort()
      },
    })
    await expect(p).rejects.toThrow(/abort/i)
    expect(existsSync(dest)).toBe(false)
    expect(existsSync(`${dest}.part`)).toBe(true)
  })

  it('says how to get the file by hand when Drive cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer()
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as {port: number}).port
        s.close(() => resolve(p))
      })
    })
    const dest = join(dir, 'm.pth')
    const e = await rejection(downloadDriveFile(ID, dest, {baseUrl: `http://127.0.0.1:${port}`, retries: 0}))
    expect(e.kind).toBe('network')
    expect(e.message).toContain(manualDownloadUrl(ID))
    expect(e.message).toContain(dest)
  })
})

describe('confirmationTarget', () => {
  const page = 'https://drive.google.com/uc?export=download&id=abc'

  it('reads the download-form variant, whatever the attribute order and quoting', () => {
    const html = `<form method='get' action='https://drive.usercontent.google.com/download' id="download-form">
      <input type="submit" value="Download anyway"/><input value="abc" name="id" type="hidden">
      <input type=hidden name=export value=download><input type="hidden" name="confirm" value="t">
      <input type="hidden" name="uuid" value="u-1&amp;2"></form>`
    const t = confirmationTarget(html, page, 'abc')!
    expect(t.method).toBe('GET')
    expect(t.url.origin).toBe('https://drive.usercontent.google.com')
    expect(t.url.pathname).toBe('/download')
    expect(Object.fromEntries(t.url.searchParams)).toEqual({id: 'abc', export: 'download', confirm: 't', uuid: 'u-1&2'})
  })

  it('reads the confirm-token link, relative to the page', () => {
    const t = confirmationTarget('<a href="/uc?export=download&amp;confirm=X_y-1&amp;id=abc">Download anyway</a>', page, 'abc')!
    expect(t.url.href).toBe('https://drive.google.com/uc?export=download&confirm=X_y-1&id=abc')
  })

  it('reads an escaped downloadUrl', () => {
    const html = '<script>var x = {"downloadUrl":"https:\\/\\/drive.google.com\\/uc?id\\u003dabc\\u0026export\\u003ddownload\\u0026confirm\\u003dQQ"}</script>'
    const t = confirmationTarget(html, page, 'abc')!
    expect(t.url.searchParams.get('confirm')).toBe('QQ')
    expect(t.url.searchParams.get('id')).toBe('abc')
  })

  it('uses a cookie token on the page URL', () => {
    const t = confirmationTarget('<html><body>Would you still like to download?</body></html>', page, 'abc', 'CK')!
    expect(t.url.searchParams.get('confirm')).toBe('CK')
    expect(t.url.searchParams.get('id')).toBe('abc')
  })

  it('finds nothing on an error page', () => {
    expect(confirmationTarget('<html><title>Google Drive - Quota exceeded</title></html>', page, 'abc')).toBeUndefined()
  })
})
