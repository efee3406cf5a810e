/**
 * Download a file shared on Google Drive, the way the official POSTER++ checkpoints are published.
 *
 * Handles: a direct file response; the "Google Drive can't scan this file for viruses" page that large files
 * get (the current `<form id="download-form">` variant and the older `confirm=TOKEN` link / `download_warning_*`
 * cookie variants); resuming a broken download from `<dest>.part` with an HTTP Range request (206 appends,
 * 200 restarts from zero); and turns quota/permission pages, HTTP errors and short or long bodies into
 * errors that say how to fetch the file by hand. Uses Node's built-in fetch only.
 */
import {mkdir, open, rename, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

export const DEFAULT_DRIVE_URL = 'https://drive.google.com'

export type ProgressCallback = (received: number, total: number | undefined) => void

export interface DownloadOptions {
  /** Where the `/uc?export=download&id=…` endpoint lives; default `$POSTER_DRIVE_URL` or https://drive.google.com. */
  baseUrl?: string
  /** Called with bytes on disk so far (a resumed download starts above 0) and the full size when known. */
  onProgress?: ProgressCallback
  signal?: AbortSignal
  /** How many times to resume automatically after a dropped connection or a 5xx; default 3. */
  retries?: number
  /** Wait before retry n is n × this many milliseconds; default 1000. */
  retryDelayMs?: number
  /** Environment to read POSTER_DRIVE_URL from; default process.env. */
  env?: Record<string, string | undefined>
}

export interface DownloadResult {
  path: string
  bytes: number
  /** Byte offset the final, successful response started at: 0 when the whole file came in one response. */
  resumedFrom: number
}

export type DriveErrorKind = 'quota' | 'denied' | 'page' | 'http' | 'size' | 'network'

export class DriveDownloadError extends Error {
  readonly kind: DriveErrorKind
  readonly fileId: string
  readonly dest: string
  readonly status?: number
  /** True when running again resumes from the kept `.part` file. */
  readonly resumable: boolean

  constructor(
    kind: DriveErrorKind,
    message: string,
    info: {fileId: string; dest: string; status?: number; resumable?: boolean; cause?: unknown},
  ) {
    super(message, info.cause === undefined ? undefined : {cause: info.cause})
    this.name = 'DriveDownloadError'
    this.kind = kind
    this.fileId = info.fileId
    this.dest = info.dest
    this.status = info.status
    this.resumable = info.resumable ?? false
  }
}

/** The page a person opens to download a Drive file by hand. */
export function manualDownloadUrl(fileId: string): string {
  return `https://drive.google.com/file/d/${fileId}`
}

function manualHint(fileId: string, dest: string): string {
  return (
    `Download it by hand from ${manualDownloadUrl(fileId)} and put it at ${dest} ` +
    `(or pass the downloaded .pth path to --model).`
  )
}

/** The Drive endpoint base URL in effect: option, then $POSTER_DRIVE_URL, then https://drive.google.com. */
export function driveBaseUrl(opts: Pick<DownloadOptions, 'baseUrl' | 'env'> = {}): string {
  const env = opts.env ?? process.env
  const base = opts.baseUrl ?? (env.POSTER_DRIVE_URL?.trim() || DEFAULT_DRIVE_URL)
  return base.replace(/\/+$/, '')
}

// ---------------------------------------------------------------------------------------------------------
// Cookies: Drive's older confirmation flow puts the token in a download_warning_* cookie and expects it back.

interface Cookie {
  name: string
  value: string
  domain: string
  hostOnly: boolean
}

class CookieJar {
  private readonly cookies = new Map<string, Cookie>()

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      let domain = url.hostname
      let hostOnly = true
      let expired = false
      for (const a of attrs) {
        const [k, ...v] = a.split('=')
        const key = k.trim().toLowerCase()
        const val = v.join('=').trim()
        if (key === 'domain' && val) {
          const d = val.replace(/^\./, '').toLowerCase()
          // Ignore a Domain the response's host does not belong to.
          if (url.hostname === d || url.hostname.endsWith(`.${d}`)) {
            domain = d
            hostOnly = false
          }
        } else if (key === 'max-age' && Number(val) <= 0) {
          expired = true
        } else if (key === 'expires' && Date.parse(val) < Date.now()) {
          expired = true
        }
      }
      const id = `${domain}\u0000${name}`
      if (expired) this.cookies.delete(id)
      else this.cookies.set(id, {name, value, domain, hostOnly})
    }
  }

  private matching(url: URL): Cookie[] {
    const host = url.hostname
    return [...this.cookies.values()].filter((c) =>
      c.hostOnly ? host === c.domain : host === c.domain || host.endsWith(`.${c.domain}`),
    )
  }

  header(url: URL): string | undefined {
    const list = this.matching(url)
    return list.length > 0 ? list.map((c) => `${c.name}=${c.value}`).join('; ') : undefined
  }

  /** Value of a `download_warning*` cookie visible to this URL. */
  downloadWarning(url: URL): string | undefined {
    return this.matching(url).find((c) => c.name.startsWith('download_warning'))?.value
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTML scraping of the confirmation page.

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|quot|apos|lt|gt|nbsp);/gi, (_m, e: string) => {
    const k = e.toLowerCase()
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16))
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10))
    return ({amp: '&', quot: '"', apos: "'", lt: '<', gt: '>', nbsp: ' '} as Record<string, string>)[k] ?? _m
  })
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g
  // Skip the tag name.
  const body = tag.replace(/^<\s*[a-zA-Z0-9]+/, '').replace(/\/?>$/, '')
  for (const m of body.matchAll(re)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '')
  }
  return out
}

interface Target {
  url: URL
  method: 'GET' | 'POST'
  body?: string
}

/** Where the confirmation page says to go for the file, or undefined when it is not a confirmation page. */
export function confirmationTarget(
  html: string,
  pageUrl: string | URL,
  fileId: string,
  cookieToken?: string,
): Target | undefined {
  const page = new URL(pageUrl)
  // (1) Current variant: <form id="download-form" action="https://drive.usercontent.google.com/download">
  //     with hidden inputs id, export, confirm, uuid.
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const open = /^<form\b[^>]*>/i.exec(m[0])![0]
    const attrs = attributes(open)
    if (attrs.id !== 'download-form') continue
    const params = new URLSearchParams()
    for (const inp of m[1].matchAll(/<input\b[^>]*>/gi)) {
      const a = attributes(inp[0])
      const type = (a.type ?? 'text').toLowerCase()
      if (!a.name || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue
      params.append(a.name, a.value ?? '')
    }
    const url = new URL(attrs.action || page.href, page)
    if ((attrs.method ?? 'get').toLowerCase() === 'post') {
      return {url, method: 'POST', body: params.toString()}
    }
    url.search = params.toString()
    return {url, method: 'GET'}
  }
  // (2) Older variant: a link carrying the token, href="/uc?export=download&amp;confirm=XXXX&amp;id=…".
  const link = /href\s*=\s*"([^"]*[?&;]confirm=[^"]*)"/i.exec(html) ?? /href\s*=\s*'([^']*[?&;]confirm=[^']*)'/i.exec(html)
  if (link) return {url: new URL(decodeEntities(link[1]), page), method: 'GET'}
  // (2b) The same link as an escaped JSON string: "downloadUrl":"https:\/\/…\u003d…".
  const json = /"downloadUrl"\s*:\s*"([^"]+)"/.exec(html)
  if (json) {
    const href = json[1].replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
    return {url: new URL(href.replace(/\\\//g, '/'), page), method: 'GET'}
  }
  // (3) Token in a download_warning_* cookie, or loose in the page text.
  const token = cookieToken ?? /[?&;]confirm=([0-9A-Za-z_-]+)/.exec(html)?.[1]
  if (token) {
    const url = new URL(page)
    if (!url.searchParams.has('id')) url.searchParams.set('id', fileId)
    if (!url.searchParams.has('export')) url.searchParams.set('export', 'download')
    url.searchParams.set('confirm', token)
    return {url, method: 'GET'}
  }
  return undefined
}

function pageText(html: string, re: RegExp): string | undefined {
  const m = re.exec(html)
  if (!m) return undefined
  const t = decodeEntities(m[1].replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim()
  return t.length > 0 ? t.slice(0, 300) : undefined
}

/** The error for an HTML page where a file was expected. */
function pageError(html: string, fileId: string, dest: string, status: number): DriveDownloadError {
  const title = pageText(html, /<title[^>]*>([\s\S]*?)<\/title>/i)
  const detail =
    pageText(html, /<p[^>]*class="[^"]*uc-error-subcaption[^"]*"[^>]*>([\s\S]*?)<\/p>/i) ??
    pageText(html, /<p[^>]*class="[^"]*uc-error-caption[^"]*"[^>]*>([\s\S]*?)<\/p>/i)
  const said = [title, detail].filter(Boolean).join(': ')
  const text = html.replace(/<[^>]*>/g, ' ')
  let kind: DriveErrorKind = 'page'
  let what = 'Google Drive returned a web page instead of the file'
  if (/quota|too many users have viewed or downloaded/i.test(text)) {
    kind = 'quota'
    what = "Google Drive refused the download: the file's download quota is exceeded (too many downloads recently)"
  } else if (/access denied|you need access|request access|need permission|sign in|not have permission/i.test(text)) {
    kind = 'denied'
    what = 'Google Drive refused the download: access denied'
  }
  return new DriveDownloadError(
    kind,
    `${what}${said ? ` ("${said}")` : ''}. ${manualHint(fileId, dest)}`,
    {fileId, dest, status},
  )
}

// ---------------------------------------------------------------------------------------------------------

const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 poster'
const MAX_REDIRECTS = 10
const MAX_HTML_BYTES = 4 << 20

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (e instanceof Error && e.name === 'AbortError')
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e)
  const cause = e.cause instanceof Error ? (e.cause as Error & {code?: string}) : undefined
  const extra = cause ? `: ${cause.code ?? cause.message}` : ''
  return `${e.message}${extra}`
}

async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path)
    return s.isFile() ? s.size : 0
  } catch {
    return 0
  }
}

/** GET/POST with redirects followed by hand, so that cookies set along the way are kept and sent. */
async function request(
  target: Target,
  offset: number,
  jar: CookieJar,
  signal: AbortSignal | undefined,
): Promise<{res: Response; url: URL}> {
  let {url, method, body} = target
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      accept: '*/*',
      'accept-encoding': 'identity',
    }
    if (offset > 0) headers.range = `bytes=${offset}-`
    const cookie = jar.header(url)
    if (cookie) headers.cookie = cookie
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, {method, headers, body, redirect: 'manual', signal})
    jar.store(url, res.headers.getSetCookie())
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel().catch(() => {})
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects (last: ${url.href})`)
      url = new URL(location, url)
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      continue
    }
    return {res, url}
  }
}

type Reader = ReadableStreamDefaultReader<Uint8Array>

async function readText(reader: Reader, first: Uint8Array | undefined): Promise<string> {
  const chunks: Uint8Array[] = first ? [first] : []
  let n = first?.length ?? 0
  while (n < MAX_HTML_BYTES) {
    const {value, done} = await reader.read()
    if (done) break
    chunks.push(value)
    n += value.length
  }
  await reader.cancel().catch(() => {})
  return Buffer.concat(chunks).toString('utf8')
}

function looksLikeHtml(res: Response, first: Uint8Array | undefined): boolean {
  const type = (res.headers.get('content-type') ?? '').toLowerCase()
  if (type.includes('text/html')) return true
  if (res.status !== 200 || /attachment/i.test(res.headers.get('content-disposition') ?? '')) return false
  if (!first) return false
  const head = Buffer.from(first.subarray(0, 64)).toString('latin1').replace(/^\uFEFF|^[\s\u00EF\u00BB\u00BF]+/, '')
  return /^<!doctype html|^<html/i.test(head)
}

function parseContentRange(v: string | null): {start: number; end: number; total?: number} | undefined {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v ?? '')
  if (!m) return undefined
  return {start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3])}
}

function contentLength(res: Response): number | undefined {
  const enc = (res.headers.get('content-encoding') ?? 'identity').toLowerCase()
  if (enc !== 'identity') return undefined
  const v = res.headers.get('content-length')
  if (v === null || !/^\d+$/.test(v.trim())) return undefined
  return Number(v)
}

async function attempt(
  fileId: string,
  dest: string,
  part: string,
  start: Target,
  jar: CookieJar,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const {signal, onProgress} = opts
  let offset = await fileSize(part)
  let target = start
  let confirmations = 0
  let restarts = 0
  const info = {fileId, dest}

  for (;;) {
    let res: Response
    let url: URL
    try {
      ;({res, url} = await request(target, offset, jar, signal))
    } catch (e) {
      if (isAbort(e, signal)) throw e
      throw new DriveDownloadError(
        'network',
        `could not reach Google Drive at ${target.url.origin} (${describe(e)}). ${manualHint(fileId, dest)}`,
        {...info, resumable: true, cause: e},
      )
    }

    if (res.status === 416 && offset > 0) {
      // Range not satisfiable: the .part may already hold the whole file.
      await res.body?.cancel().catch(() => {})
      const m = /\/\s*(\d+)\s*$/.exec(res.headers.get('content-range') ?? '')
      const total = m ? Number(m[1]) : undefined
      if (total !== undefined && total === offset) {
        await rename(part, dest)
        onProgress?.(offset, total)
        return {path: dest, bytes: offset, resumedFrom: offset}
      }
      if (restarts++ > 0) throw new DriveDownloadError('http', `Google Drive answered 416 twice for ${fileId}`, {...info, status: 416})
      await rm(part, {force: true})
      offset = 0
      continue
    }

    if (!res.ok) {
      const html = res.body ? await readText(res.body.getReader(), undefined).catch(() => '') : ''
      if (/<html|<!doctype/i.test(html) && /quota|too many users|access denied|you need access/i.test(html)) {
        throw pageError(html, fileId, dest, res.status)
      }
      const why =
        res.status === 404 ? 'the file was not found (is the id right, is it still shared?)'
        : res.status === 403 ? 'access denied'
        : res.status === 429 ? 'too many requests'
        : res.statusText || 'error'
      throw new DriveDownloadError(
        'http',
        `Google Drive answered HTTP ${res.status} (${why}) for ${url.href}. ${manualHint(fileId, dest)}`,
        {...info, status: res.status, resumable: res.status >= 500},
      )
    }

    const reader: Reader | undefined = res.body?.getReader()
    let first: Uint8Array | undefined
    if (reader) {
      try {
        const r = await reader.read()
        first = r.done ? undefined : r.value
      } catch (e) {
        if (isAbort(e, signal)) throw e
        throw new DriveDownloadError('network', `the connection to Google Drive broke (${describe(e)})`, {
          ...info,
          resumable: true,
          cause: e,
        })
      }
    }

    if (looksLikeHtml(res, first)) {
      const html = reader ? await readText(reader, first) : ''
      // A page after we already confirmed, or one with nothing to confirm, is an error page.
      const next = confirmations === 0 ? confirmationTarget(html, url, fileId, jar.downloadWarning(url)) : undefined
      if (!next) throw pageError(html, fileId, dest, res.status)
      confirmations++
      target = next
      continue
    }

    // The file itself.
    let total: number | undefined
    let append = false
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'))
      if (!range || range.start !== offset) {
        // Not the range we asked for: start over cleanly.
        await reader?.cancel().catch(() => {})
        if (restarts++ > 0) {
          throw new DriveDownloadError('http', `Google Drive sent an unexpected range (${res.headers.get('content-range')})`, {
            ...info,
            status: 206,
          })
        }
        await rm(part, {force: true})
        offset = 0
        continue
      }
      append = true
      const len = contentLength(res)
      total = range.total ?? (len === undefined ? undefined : offset + len)
    } else {
      // 200 (or another 2xx): the whole file from byte 0, whatever we asked for.
      offset = 0
      total = contentLength(res)
    }

    return await writeBody(reader, first, {part, dest, append, offset, total, signal, onProgress, fileId})
  }
}

async function writeBody(
  reader: Reader | undefined,
  first: Uint8Array | undefined,
  o: {
    part: string
    dest: string
    append: boolean
    offset: number
    total: number | undefined
    signal?: AbortSignal
    onProgress?: ProgressCallback
    fileId: string
  },
): Promise<DownloadResult> {
  const {part, dest, total, onProgress, fileId} = o
  const fh = await open(part, o.append ? 'a' : 'w')
  let received = o.offset
  onProgress?.(received, total)
  try {
    let chunk = first
    for (;;) {
      if (chunk && chunk.length > 0) {
        await fh.write(chunk)
        received += chunk.length
        onProgress?.(received, total)
      }
      if (!reader) break
      const r = await reader.read()
      if (r.done) break
      chunk = r.value
    }
  } catch (e) {
    if (isAbort(e, o.signal)) throw e
    throw new DriveDownloadError(
      'network',
      `the download of ${fileId} broke off after ${received}${total === undefined ? '' : ` of ${total}`} bytes ` +
        `(${describe(e)}); run again to resume from ${part}`,
      {fileId, dest, resumable: true, cause: e},
    )
  } finally {
    await fh.close()
  }

  if (total !== undefined && received !== total) {
    if (received > total) {
      await rm(part, {force: true})
      throw new DriveDownloadError(
        'size',
        `size mismatch downloading ${fileId}: got ${received} bytes but the server announced ${total}; ` +
          `the partial file was removed. ${manualHint(fileId, dest)}`,
        {fileId, dest},
      )
    }
    throw new DriveDownloadError(
      'size',
      `size mismatch downloading ${fileId}: got ${received} of ${total} bytes; run again to resume from ${part}`,
      {fileId, dest, resumable: true},
    )
  }
  await rename(part, dest)
  return {path: dest, bytes: received, resumedFrom: o.append ? o.offset : 0}
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ms <= 0) return resolve()
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

/**
 * Download Drive file `fileId` to `dest`. Bytes go to `<dest>.part`, which is renamed to `dest` once complete;
 * an existing `.part` is resumed with a Range request. Throws DriveDownloadError (or the abort reason).
 */
export async function downloadDriveFile(
  fileId: string,
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const base = driveBaseUrl(opts)
  const start: Target = {
    url: new URL(`${base}/uc?export=download&id=${encodeURIComponent(fileId)}`),
    method: 'GET',
  }
  const part = `${dest}.part`
  await mkdir(dirname(dest), {recursive: true})
  const jar = new CookieJar()
  const retries = Math.max(0, opts.retries ?? 3)
  const delay = opts.retryDelayMs ?? 1000
  for (let n = 0; ; n++) {
    try {
      return await attempt(fileId, dest, part, start, jar, opts)
    } catch (e) {
      if (!(e instanceof DriveDownloadError) || !e.resumable || n >= retries || opts.signal?.aborted) throw e
      await sleep(delay * (n + 1), opts.signal)
    }
  }
}
