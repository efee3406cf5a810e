/**
 * A local stand-in for Google Drive's download endpoints, on 127.0.0.1 only, for the downloader tests.
 * It bounds the number of requests it answers and shuts itself down after a while even if a test forgets.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export type Mode =
  | 'direct' // /uc serves the file
  | 'redirect' // /uc redirects (303) to /download, which serves the file
  | 'form' // /uc: virus-scan page with <form id="download-form" action=".../download">, then the file
  | 'token' // /uc: older page with a confirm=TOKEN link, then the file
  | 'cookie' // /uc: older page, token only in a download_warning_* cookie, then the file
  | 'quota' // /uc: the form page; /download: "Quota exceeded" page
  | 'quota-direct' // /uc: "Quota exceeded" page straight away
  | 'denied' // /uc: 403 with an access-denied page
  | 'missing' // /uc: 404

export interface FakeFile {
  id: string
  data: Buffer
  mode: Mode
  /** On the first file response, send this many bytes and then drop the connection. */
  dropAfter?: number
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean
  /** Announce this total in Content-Range instead of the real size (206 responses). */
  rangeTotal?: number
}

export interface LoggedRequest {
  method: string
  path: string
  query: Record<string, string>
  range?: string
  cookie?: string
  status?: number
}

export interface FakeDrive {
  baseUrl: string
  requests: LoggedRequest[]
  close(): Promise<void>
}

const TOKEN = 'Ab3_x-9'
const UUID = '6f1c1e0a-0b7e-4bd1-9a0c-1c2d3e4f5a6b'
const COOKIE_TOKEN = 'Zq81'
const MAX_REQUESTS = 100
const LIFETIME_MS = 60_000

function virusScanForm(base: string, id: string): string {
  // Shape of the page Drive serves in 2024 for files too large to scan.
  return `<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title><meta http-equiv="content-type" content="text/html; charset=utf-8"/></head>
<body><div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<p class="uc-warning-subcaption"><span class="uc-name-size"><a href="/open?id=${id}">model_best.pth</a> (237M)</span> is too large for Google to scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="${base}/download" method="get"><input type="submit" id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>
<input type="hidden" name="id" value="${id}"><input type="hidden" name="export" value="download"><input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="${UUID}"></form></div></div></body></html>`
}

function oldTokenPage(id: string): string {
  return `<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<a id="uc-download-link" class="goog-inline-block jfk-button jfk-button-action" href="/uc?export=download&amp;confirm=${TOKEN}&amp;id=${id}">Download anyway</a>
</body></html>`
}

function oldCookiePage(): string {
  return `<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p><p>Would you still like to download this file?</p></body></html>`
}

function quotaPage(): string {
  return `<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head><body>
<div class="uc-main"><div id="uc-text"><p class="uc-error-caption">Sorry, you can't view or download this file at this time.</p>
<p class="uc-error-subcaption">Too many users have viewed or downloaded this file recently. Please try accessing the file again later. If the file you are trying to access is particularly large or is shared with many people, it may take up to 24 hours to be able to view or download the file.</p></div></div></body></html>`
}

function deniedPage(): string {
  return `<!DOCTYPE html><html><head><title>Google Drive - Access Denied</title></head><body><p>You need access</p><p>Request access, or switch to an account with access.</p></body></html>`
}

export async function startFakeDrive(files: FakeFile[]): Promise<FakeDrive> {
  const byId = new Map(files.map((f) => [f.id, f]))
  const bodiesServed = new Map<string, number>()
  const requests: LoggedRequest[] = []
  let base = ''

  function html(res: ServerResponse, status: number, body: string, headers: Record<string, string | string[]> = {}): void {
    res.writeHead(status, {'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers})
    res.end(body)
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, f: FakeFile, log: LoggedRequest): void {
    const size = f.data.length
    const served = bodiesServed.get(f.id) ?? 0
    bodiesServed.set(f.id, served + 1)
    const common = {
      'content-type': 'application/octet-stream',
      'content-disposition': 'attachment; filename="model_best.pth"',
      'accept-ranges': 'bytes',
    }
    let start = 0
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (m && !f.ignoreRange) {
      start = Number(m[1])
      if (start >= size) {
        log.status = 416
        res.writeHead(416, {'content-range': `bytes */${size}`, 'content-length': 0})
        res.end()
        return
      }
      log.status = 206
      res.writeHead(206, {
        ...common,
        'content-range': `bytes ${start}-${size - 1}/${f.rangeTotal ?? size}`,
        'content-length': size - start,
      })
    } else {
      log.status = 200
      res.writeHead(200, {...common, 'content-length': size})
    }
    const body = f.data.subarray(start)
    if (served === 0 && f.dropAfter !== undefined) {
      res.write(body.subarray(0, f.dropAfter), () => {
        // Give the bytes time to leave, then cut the connection mid-body.
        setTimeout(() => res.socket?.destroy(), 20)
      })
      return
    }
    res.end(body)
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base)
    const log: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      range: req.headers.range,
      cookie: req.headers.cookie,
    }
    requests.push(log)
    if (requests.length > MAX_REQUESTS) {
      log.status = 503
      res.writeHead(503, {connection: 'close'})
      res.end()
      return
    }
    const f = byId.get(url.searchParams.get('id') ?? '')
    if (!f || f.mode === 'missing') {
      log.status = 404
      html(res, 404, '<!DOCTYPE html><html><head><title>Not Found</title></head><body>Error 404 (Not Found)</body></html>')
      return
    }
    if (url.pathname === '/uc') {
      const confirm = url.searchParams.get('confirm')
      switch (f.mode) {
        case 'direct':
          return serveFile(req, res, f, log)
        case 'redirect':
          log.status = 303
          res.writeHead(303, {location: `/download?id=${f.id}&export=download`, 'content-length': 0})
          res.end()
          return
        case 'form':
        case 'quota':
          log.status = 200
          return html(res, 200, virusScanForm(base, f.id))
        case 'token':
          if (confirm === TOKEN) return serveFile(req, res, f, log)
          log.status = 200
          return html(res, 200, oldTokenPage(f.id))
        case 'cookie': {
          const cookieName = `download_warning_13058876669334088843_${f.id}`
          if (confirm === COOKIE_TOKEN && (req.headers.cookie ?? '').includes(`${cookieName}=${COOKIE_TOKEN}`)) {
            return serveFile(req, res, f, log)
          }
          log.status = 200
          return html(res, 200, oldCookiePage(), {
            'set-cookie': [`${cookieName}=${COOKIE_TOKEN}; Path=/; HttpOnly`, 'NID=511=abc; Path=/; HttpOnly'],
          })
        }
        case 'quota-direct':
          log.status = 200
          return html(res, 200, quotaPage())
        case 'denied':
          log.status = 403
          return html(res, 403, deniedPage())
      }
    }
    if (url.pathname === '/download') {
      if (f.mode === 'redirect') return serveFile(req, res, f, log)
      const ok =
        url.searchParams.get('confirm') === 't' &&
        url.searchParams.get('uuid') === UUID &&
        url.searchParams.get('export') === 'download'
      if (!ok) {
        log.status = 400
        return html(res, 400, '<html><body>Bad Request</body></html>')
      }
      if (f.mode === 'quota') {
        log.status = 200
        return html(res, 200, quotaPage())
      }
      if (f.mode === 'form') return serveFile(req, res, f, log)
    }
    log.status = 404
    html(res, 404, '<html><body>Not Found</body></html>')
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  base = `http://127.0.0.1:${port}`
  server.unref()
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    clearTimeout(timer)
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  // Stop by itself even if a test never calls close().
  const timer = setTimeout(() => void close(), LIFETIME_MS)
  timer.unref()
  return {baseUrl: base, requests, close}
}
