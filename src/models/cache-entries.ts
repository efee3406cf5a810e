/**
 * What the cache folder holds, entry by entry (poster cache list), and removing entries (clear, prune).
 *
 * An entry is one thing a user would name: a downloaded checkpoint, a converted model (with its stamp), an
 * optimised graph (with its record), the demo model, the benchmark's data, the checkpoint hash index, or what an
 * interrupted run left (a partial download, a temporary file). Its `lastUsed` is when poster last used it (the
 * record or stamp is touched on use), else its newest file's modification time.
 *
 * Optimised graphs: ORT's optimised copy of a model is as big as the model (~180 MB for POSTER++) and specific to
 * the model, the onnxruntime version and the CPU. poster keeps one per model: writing one removes the model's copies
 * for other runtimes (keepOneOptimizedCopy), and prune removes copies whose model file is gone.
 */
import {promises as fs, type Stats} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {isStaleTemp, parseTempName} from '../basics.js'
import {FP16_DIR} from './cache.js'
import {findModel} from './registry.js'

export type CacheEntryKind =
  | 'checkpoint'
  | 'model'
  | 'converted'
  | 'optimized'
  | 'fp16'
  | 'demo'
  | 'bench'
  | 'hash-index'
  | 'partial'
  | 'lock'
  | 'other'

export interface CacheEntry {
  kind: CacheEntryKind
  /** What it is, in words. */
  what: string
  /** The files (or one folder) it consists of, absolute. */
  paths: string[]
  bytes: number
  /** ISO time of its last use (see the module comment). */
  lastUsed: string
  /** For optimised graphs: the model it was made from, and whether that file still exists. */
  source?: string
  orphan?: boolean
}

/** The record written next to an optimised graph: which model it is the optimised copy of. */
export interface OptimizedRecord {
  model: string
  sha256: string
  runtime: string
}

const OPTIMIZED_DIR = 'optimized'

/** `<cache>/optimized/<sha256 prefix>-<runtime fingerprint>.onnx`: one model's optimised graph for one runtime. */
export function optimizedPath(dir: string, sha256: string, runtime: string): string {
  return path.join(dir, OPTIMIZED_DIR, `${sha256.slice(0, 24)}-${runtime}.onnx`)
}

function recordPath(file: string): string {
  return `${file}.json`
}

/**
 * After a session used (or wrote) `current`, the optimised graph of the model `sha256`: record which model it
 * belongs to, mark it used, and remove the same model's optimised copies for other runtimes (a previous
 * onnxruntime version or another CPU), so the cache holds one per model. Best effort: a read-only cache is fine.
 */
export async function keepOneOptimizedCopy(current: string, record: OptimizedRecord): Promise<void> {
  const dir = path.dirname(current)
  const prefix = `${record.sha256.slice(0, 24)}-`
  try {
    await fs.access(current)
  } catch {
    return // no optimised copy was written (not CPU, or the cache is not writable)
  }
  try {
    await fs.writeFile(recordPath(current), JSON.stringify(record, null, 2) + '\n')
    for (const name of await fs.readdir(dir)) {
      const other = path.join(dir, name)
      if (name.startsWith(prefix) && name.endsWith('.onnx') && other !== current) {
        await fs.rm(other, {force: true})
        await fs.rm(recordPath(other), {force: true})
      }
    }
  } catch {
    // Only housekeeping.
  }
}

/** Mark a cache entry used now (its stamp or record), so prune --older-than keeps what is in use. */
export async function touchUsed(file: string): Promise<void> {
  const now = new Date()
  await fs.utimes(file, now, now).catch(() => {})
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p)
  } catch {
    return undefined
  }
}

/** Total size and newest modification time of a file or folder tree (symlinks not followed). */
async function measure(p: string): Promise<{bytes: number; mtimeMs: number}> {
  const st = await statOrUndefined(p)
  if (!st) return {bytes: 0, mtimeMs: 0}
  if (!st.isDirectory()) return {bytes: st.size, mtimeMs: st.mtimeMs}
  let bytes = 0
  let mtimeMs = st.mtimeMs
  for (const e of await fs.readdir(p).catch(() => [])) {
    const m = await measure(path.join(p, e))
    bytes += m.bytes
    mtimeMs = Math.max(mtimeMs, m.mtimeMs)
  }
  return {bytes, mtimeMs}
}

async function readJson(p: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(p, 'utf8')) as unknown
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const PARTIAL_SUFFIX = /\.(part|partial-\d+(\.onnx)?|tmp-\d+(-[a-z0-9]+)?)$/
/** What interrupted runs leave: partial downloads, ORT's `.tmp-<pid>` files, and atomic writes' temporary files (basics.ts). */
const PARTIAL = {test: (name: string) => PARTIAL_SUFFIX.test(name) || parseTempName(name) !== undefined}

/** Every entry of the cache folder `dir`, biggest first. A missing folder is an empty cache. */
export async function listCache(dir: string): Promise<CacheEntry[]> {
  const entries: CacheEntry[] = []
  const names = await fs.readdir(dir).catch(() => [] as string[])
  const taken = new Set<string>()
  const add = async (kind: CacheEntryKind, what: string, files: string[], extra: Partial<CacheEntry> = {}, usedFrom?: string) => {
    let bytes = 0
    let mtimeMs = 0
    for (const f of files) {
      taken.add(f)
      const m = await measure(f)
      bytes += m.bytes
      mtimeMs = Math.max(mtimeMs, m.mtimeMs)
    }
    const used = usedFrom ? ((await statOrUndefined(usedFrom))?.mtimeMs ?? mtimeMs) : mtimeMs
    entries.push({kind, what, paths: files, bytes, lastUsed: new Date(used || Date.now()).toISOString(), ...extra})
  }
  const at = (...p: string[]) => path.join(dir, ...p)

  for (const name of names) {
    const file = at(name)
    if (taken.has(file)) continue
    const registry = findModel(name.replace(/\.(pth|onnx)$/, ''))
    if (registry && name.endsWith('.pth')) {
      await add('checkpoint', `${registry.title} checkpoint (${registry.name}), downloaded from Google Drive`, [file])
    } else if (registry && name.endsWith('.onnx')) {
      const stamp = `${file}.json`
      const files = (await statOrUndefined(stamp)) ? [file, stamp] : [file]
      await add('model', `${registry.title} model (${registry.name}), converted from ${registry.name}.pth`, files, {}, files[1])
    } else if (name === 'converted' || name === OPTIMIZED_DIR || name === FP16_DIR) {
      continue // below
    } else if (name === 'demo') {
      await add('demo', 'the demo model (POSTER++ with deterministic untrained weights)', [file])
    } else if (name === 'bench') {
      await add('bench', "poster bench's generated datasets and models", [file])
    } else if (name === 'checkpoint-hashes.json') {
      await add('hash-index', 'SHA-256 of checkpoints and models by path, size and time (saves hashing again)', [file])
    } else if (name.endsWith('.lock')) {
      await add('lock', `lock held while ${name.slice(0, -5)} is downloaded or converted`, [file])
    } else if (PARTIAL.test(name)) {
      await add('partial', name.endsWith('.part') ? 'an interrupted download (resumed by the next run)' : 'a temporary file left by an interrupted run', [file])
    }
  }

  for (const name of await fs.readdir(at('converted')).catch(() => [] as string[])) {
    const file = at('converted', name)
    if (taken.has(file) || name.endsWith('.json')) continue
    if (name.endsWith('.onnx')) {
      const stampFile = `${file}.json`
      const stamp = await readJson(stampFile)
      const pth = typeof (stamp?.pth as {path?: unknown} | undefined)?.path === 'string' ? String((stamp!.pth as {path: string}).path) : undefined
      await add('converted', `model converted from ${pth ?? 'a checkpoint'}`, stamp ? [file, stampFile] : [file], {}, stamp ? stampFile : undefined)
    } else {
      await add(PARTIAL.test(name) || name.endsWith('.lock') ? 'partial' : 'other', `a leftover file in converted/: ${name}`, [file])
    }
  }

  for (const name of await fs.readdir(at(OPTIMIZED_DIR)).catch(() => [] as string[])) {
    const file = at(OPTIMIZED_DIR, name)
    if (taken.has(file) || name.endsWith('.onnx.json')) continue
    if (name.endsWith('.onnx')) {
      const rec = await readJson(recordPath(file))
      const source = typeof rec?.model === 'string' ? rec.model : undefined
      const runtime = typeof rec?.runtime === 'string' ? rec.runtime : name.replace(/^[0-9a-f]+-/, '').replace(/\.onnx$/, '')
      const orphan = source !== undefined && !(await statOrUndefined(source))
      const files = rec ? [file, recordPath(file)] : [file]
      await add('optimized', `onnxruntime's optimised graph of ${source ?? 'a model'} (${runtime})${orphan ? ', whose model is gone' : ''}`, files, {
        ...(source ? {source} : {}),
        orphan,
      }, rec ? recordPath(file) : undefined)
    } else {
      await add('partial', `a temporary file in optimized/: ${name}`, [file])
    }
  }

  for (const name of await fs.readdir(at(FP16_DIR)).catch(() => [] as string[])) {
    const file = at(FP16_DIR, name)
    if (taken.has(file) || name.endsWith('.onnx.json')) continue
    if (name.endsWith('.onnx')) {
      const rec = await readJson(recordPath(file))
      const source = typeof rec?.model === 'string' ? rec.model : undefined
      const orphan = source !== undefined && !(await statOrUndefined(source))
      const files = rec ? [file, recordPath(file)] : [file]
      await add('fp16', `float16-compute copy of ${source ?? 'a model'} (--dtype fp16)${orphan ? ', whose model is gone' : ''}`, files, {
        ...(source ? {source} : {}),
        orphan,
      }, rec ? recordPath(file) : undefined)
    } else {
      await add('partial', `a temporary file in fp16/: ${name}`, [file])
    }
  }

  for (const name of names) {
    const file = at(name)
    if (!taken.has(file) && name !== 'converted' && name !== OPTIMIZED_DIR && name !== FP16_DIR) await add('other', `not poster's: ${name}`, [file])
  }
  return entries.sort((a, b) => b.bytes - a.bytes || a.paths[0]!.localeCompare(b.paths[0]!))
}

/** A lock whose process still runs on this host (or on another host: then it cannot be told, and counts as live). */
async function liveLock(file: string): Promise<boolean> {
  const [pidText, host] = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n')
  const pid = Number(pidText)
  if (host !== hostname()) return true
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface RemovalResult {
  removed: CacheEntry[]
  kept: CacheEntry[]
  bytesFreed: number
}

async function remove(entries: CacheEntry[], all: CacheEntry[]): Promise<RemovalResult> {
  for (const e of entries) for (const p of e.paths) await fs.rm(p, {recursive: true, force: true})
  const gone = new Set(entries)
  return {removed: entries, kept: all.filter((e) => !gone.has(e)), bytesFreed: entries.reduce((a, e) => a + e.bytes, 0)}
}

/** Refuse to touch a cache another poster process is writing to (a live lock), naming it. */
async function assertNoLiveLock(all: CacheEntry[]): Promise<void> {
  for (const e of all) {
    if (e.kind === 'lock' && (await liveLock(e.paths[0]!))) {
      const [pid, host] = (await fs.readFile(e.paths[0]!, 'utf8').catch(() => '')).split('\n')
      throw new Error(`another poster process (pid ${pid} on ${host}) is downloading or converting into the cache (${e.paths[0]}); try again when it is done`)
    }
  }
}

/** Remove every entry poster made (files it does not know are left alone and listed as kept). */
export async function clearCache(dir: string): Promise<RemovalResult> {
  const all = await listCache(dir)
  await assertNoLiveLock(all)
  return remove(all.filter((e) => e.kind !== 'other'), all)
}

/**
 * Remove what is certainly of no use — optimised graphs whose model is gone, files left by interrupted runs, stale
 * locks — and, with `olderThanMs`, every entry not used for that long (its lastUsed before now − olderThanMs).
 */
export async function pruneCache(dir: string, opts: {olderThanMs?: number; now?: number} = {}): Promise<RemovalResult> {
  const all = await listCache(dir)
  await assertNoLiveLock(all)
  const now = opts.now ?? Date.now()
  const stale = (e: CacheEntry) => opts.olderThanMs !== undefined && Date.parse(e.lastUsed) < now - opts.olderThanMs
  // A temporary file named after a process that still runs belongs to that run (a session being optimised, a
  // model being converted).
  const running = (e: CacheEntry) => {
    const name = path.basename(e.paths[0]!)
    if (parseTempName(name)) return !isStaleTemp(name, Date.parse(e.lastUsed), now)
    const pid = Number(/(?:tmp|partial)-(\d+)/.exec(path.basename(e.paths[0]!))?.[1])
    if (!Number.isInteger(pid) || pid <= 0) return false
    try {
      process.kill(pid, 0)
      return true
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  const useless = (e: CacheEntry) => e.orphan === true || (e.kind === 'partial' && !running(e)) || e.kind === 'lock'
  return remove(all.filter((e) => e.kind !== 'other' && (useless(e) || stale(e))), all)
}

/** `30d`, `12h`, `90m`, `2w`, `45s` (or a bare number of days) → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$/i.exec(text)
  if (!m) throw new Error(`expected a duration such as 30d, 12h, 90m or 2w; got "${text}"`)
  const unit = (m[2] ?? 'd').toLowerCase()
  const scale = {s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400}[unit as 's' | 'm' | 'h' | 'd' | 'w']
  return Number(m[1]) * scale * 1000
}
