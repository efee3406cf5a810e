/**
 * The scan of `poster dataset check`: every listed image read once, its SHA-256 taken, decoded exactly as eval
 * decodes it and hashed under the 49 crop hypotheses (phash.ts). Large scans run in worker threads (one per CPU
 * this process may use, at most 4), so the JavaScript hashing runs on every core beside libvips' decoding; small
 * ones in this thread. An image whose read or decode fails in a worker is done again here, alone, for a reason
 * that does not depend on what else was decoding.
 */
import {existsSync} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import {fileURLToPath} from 'node:url'

import {specialKind} from '../datasets/fsutil.js'
import {HYPOTHESIS_COUNT, hashImage} from './phash.js'
import {sha256Of} from '../basics.js'

/** Files larger than this are not read (no FER image comes near it). */
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024

export interface ScanTask {
  i: number
  path: string
  relPath: string
  /** The path's bytes when it is not valid UTF-8. */
  rawPath?: Uint8Array
  notRegular?: string
}

export type ScanOutcome =
  | {i: number; ok: true; sha: string; hi: Uint32Array; lo: Uint32Array}
  | {i: number; ok: false; kind: 'missing' | 'truncated' | 'unreadable'; reason?: string}

/** Read, hash, decode and hash one image. */
export async function scanOne(t: ScanTask): Promise<ScanOutcome> {
  const file = t.rawPath ? Buffer.from(t.rawPath) : t.path
  if (t.notRegular) return {i: t.i, ok: false, kind: 'unreadable', reason: `not a regular file (${t.notRegular})`}
  let bytes: Buffer
  try {
    const st = await stat(file)
    if (!st.isFile()) return {i: t.i, ok: false, kind: 'unreadable', reason: `not a regular file (${specialKind(st)})`}
    if (st.size > MAX_IMAGE_BYTES) return {i: t.i, ok: false, kind: 'unreadable', reason: `file too large (${st.size} bytes; images are read up to ${MAX_IMAGE_BYTES})`}
    bytes = await readFile(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO'
    return code === 'ENOENT' ? {i: t.i, ok: false, kind: 'missing'} : {i: t.i, ok: false, kind: 'unreadable', reason: `cannot read file: ${code}`}
  }
  const sha = sha256Of(bytes)
  try {
    const {decodeRgb} = await import('../image/sharp.js')
    const img = await decodeRgb(bytes, {path: t.relPath})
    const hi = new Uint32Array(HYPOTHESIS_COUNT)
    const lo = new Uint32Array(HYPOTHESIS_COUNT)
    hashImage(img, hi, lo)
    return {i: t.i, ok: true, sha, hi, lo}
  } catch (e) {
    const kind = (e as {kind?: string}).kind
    return kind === 'truncated'
      ? {i: t.i, ok: false, kind: 'truncated'}
      : {i: t.i, ok: false, kind: 'unreadable', reason: (e as {reason?: string}).reason ?? (e as Error).message}
  }
}

/** The worker: the compiled .js, or under the TypeScript sources (tests, bin/dev.js) the .ts through tsx's loader. */
function startWorker(): Worker {
  const js = new URL('./scan-worker.js', import.meta.url)
  if (existsSync(fileURLToPath(js))) return new Worker(js)
  const ts = new URL('./scan-worker.ts', import.meta.url).href
  // tsx is a dev dependency, loaded only here, when the compiled worker is absent (never in dist/).
  const devLoader = 'tsx/esm/api'
  return new Worker(`import(${JSON.stringify(devLoader)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}) })`, {eval: true})
}

/**
 * Scan `tasks`, calling `onResult` for each (in completion order) and `onProgress` as they finish. `workers` 0
 * scans in this thread; default: one per available CPU (at most 4) when there are 256 images or more.
 */
export async function scanImages(
  tasks: readonly ScanTask[],
  opts: {workers?: number; inFlight?: number; onResult: (r: ScanOutcome) => void; onProgress?: () => void},
): Promise<{workers: number}> {
  const workers = opts.workers ?? (tasks.length >= 256 ? Math.min(4, Math.max(1, availableParallelism())) : 0)
  const inFlight = opts.inFlight ?? 4
  const failed: ScanTask[] = []
  if (workers === 0) {
    let next = 0
    await Promise.all(
      Array.from({length: Math.min(8, tasks.length)}, async () => {
        for (;;) {
          const t = tasks[next++]
          if (!t) return
          opts.onResult(await scanOne(t))
          opts.onProgress?.()
        }
      }),
    )
    return {workers: 0}
  }
  let next = 0
  const byIndex = new Map(tasks.map((t) => [t.i, t]))
  await Promise.all(
    Array.from({length: workers}, () =>
      new Promise<void>((resolve, reject) => {
        const w = startWorker()
        const send = () => {
          const batch = tasks.slice(next, next + inFlight)
          next += batch.length
          if (batch.length === 0) {
            w.postMessage('exit')
            return false
          }
          w.postMessage({tasks: batch})
          return true
        }
        w.on('message', (results: ScanOutcome[]) => {
          for (const r of results) {
            if (r.ok || r.kind === 'missing') {
              opts.onResult(r)
              opts.onProgress?.()
            } else failed.push(byIndex.get(r.i)!)
          }
          send()
        })
        w.on('error', reject)
        w.on('exit', () => resolve())
        send()
      }),
    ),
  )
  // Failures again, one at a time in this thread: their reasons depend on their own bytes only.
  for (const t of failed.sort((a, b) => a.i - b.i)) {
    opts.onResult(await scanOne(t))
    opts.onProgress?.()
  }
  return {workers}
}
