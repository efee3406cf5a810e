/**
 * Turn a `--model` value into an ONNX file to run:
 * - a path to an `.onnx` file: used as is;
 * - a path to a `.pth` checkpoint: converted once into the cache, keyed by the checkpoint's SHA-256 (which is
 *   itself remembered by path + size + mtime, so a big checkpoint is hashed once), and reused afterwards;
 * - a registry name (rafdb, affectnet7, affectnet8, caers): downloaded once into the cache, converted once,
 *   and the ONNX reused afterwards.
 * The converter is injected, so this module knows nothing about the graph code.
 */
import {mkdir, open, readFile, rename, rm, stat, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname, extname, join, resolve as resolvePath} from 'node:path'

import {printable, removeStaleTemps, sha256File, writeFileAtomic, processAlive} from '../basics.js'
import {specialKind} from '../files.js'
import {cacheDir as defaultCacheDir, checkpointPath, convertedDir, hashIndexPath, onnxPath, stampPath} from './cache.js'
import {downloadDriveFile, type DownloadOptions, type ProgressCallback} from './download.js'
import {findModel, modelNames, type ModelEntry} from './registry.js'

export interface ConvertOptions {
  /** Registry name when converting an official checkpoint. */
  name?: string
  /** Class count when known (registry checkpoints); otherwise the converter reads it from the weights. */
  numClasses?: number
  /** Class names in index order when known, for the ONNX metadata. */
  labels?: string[]
  /** SHA-256 of the checkpoint when it was computed (user checkpoints). */
  sha256?: string
}

export type ConvertFn = (pthPath: string, onnxPath: string, opts: ConvertOptions) => Promise<void>
export type DownloadFn = (fileId: string, dest: string, opts: DownloadOptions) => Promise<unknown>

export type ResolveStage = 'download' | 'hash' | 'convert' | 'wait'

export interface ResolveOptions {
  /** Writes an ONNX file for a checkpoint. Called at most once per checkpoint content (per converterVersion). */
  convert: ConvertFn
  /** Drive downloader; default downloadDriveFile. */
  download?: DownloadFn
  /** Cache folder; default cacheDir(env). */
  cacheDir?: string
  /** Environment for the cache folder and POSTER_DRIVE_URL; default process.env. */
  env?: Record<string, string | undefined>
  /** Extra options for the downloader (baseUrl, retries, ...). */
  downloadOptions?: Omit<DownloadOptions, 'onProgress' | 'signal' | 'env'>
  /** Download progress: bytes so far and total when known. */
  onProgress?: ProgressCallback
  /** Told before each slow step, with a line fit to show the user. */
  onStatus?: (stage: ResolveStage, message: string) => void
  signal?: AbortSignal
  /** Options passed to the converter for a user checkpoint (e.g. labels from --labels). */
  convertOptions?: ConvertOptions
  /** Convert again even when a cached ONNX exists. */
  force?: boolean
  /** Cached conversions made with another converter version are redone; default '1'. */
  converterVersion?: string
}

export interface ResolvedModel {
  onnxPath: string
  source: 'file' | 'checkpoint' | 'registry'
  /** Registry name. */
  name?: string
  /** Class names in index order (registry models). */
  labels?: string[]
  numClasses?: number
  /** The paper's top-1 accuracy for this checkpoint, in percent (92.21), registry models only. */
  paperAccuracy?: number
  /** Benchmark the registry checkpoint belongs to (rafdb, affectnet7, affectnet8, caers). */
  benchmark?: string
  /** The .pth the ONNX was made from (checkpoint and registry sources). */
  checkpointPath?: string
  /** SHA-256 of the checkpoint (checkpoint source). */
  sha256?: string
  /** Whether this call downloaded / converted (false when the cache answered). */
  downloaded: boolean
  converted: boolean
}

interface Stamp {
  version: 1
  converter: string
  createdAt: string
  pth: {path: string; size: number; mtimeMs: number; sha256?: string}
}

const ONNX_EXT = new Set(['.onnx', '.ort'])
const CHECKPOINT_EXT = new Set(['.pth', '.pt', '.tar', '.ckpt', '.bin'])

type FileKind = 'onnx' | 'checkpoint'

async function statFile(path: string): Promise<{size: number; mtimeMs: number} | undefined> {
  try {
    const s = await stat(path)
    return s.isFile() ? {size: s.size, mtimeMs: s.mtimeMs} : undefined
  } catch {
    return undefined
  }
}

/** Zip (torch ≥ 1.6) or pickle (legacy torch.save) magic → checkpoint; anything else is taken for ONNX. */
async function sniff(path: string): Promise<FileKind> {
  const fh = await open(path, 'r')
  try {
    const b = Buffer.alloc(4)
    const {bytesRead} = await fh.read(b, 0, 4, 0)
    if (bytesRead >= 2 && b[0] === 0x50 && b[1] === 0x4b) return 'checkpoint'
    if (bytesRead >= 1 && b[0] === 0x80) return 'checkpoint'
    return 'onnx'
  } finally {
    await fh.close()
  }
}

async function readStamp(onnx: string): Promise<Stamp | undefined> {
  try {
    const s = JSON.parse(await readFile(stampPath(onnx), 'utf8')) as Stamp
    return s && s.version === 1 && s.pth ? s : undefined
  } catch {
    return undefined
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`)
}

type HashIndex = Record<string, {size: number; mtimeMs: number; sha256: string}>

/**
 * SHA-256 of a file (checkpoint or model), remembered in the cache by absolute path + size + mtime, so a
 * 180-240 MB file is hashed once rather than at every run.
 */
export async function cachedSha256(path: string, opts: {dir?: string; signal?: AbortSignal} = {}): Promise<string> {
  const abs = resolvePath(path)
  const st = await statFile(abs)
  if (!st) throw new Error(`no such file: ${path}`)
  return fileHash(abs, st, opts.dir ?? defaultCacheDir(), {signal: opts.signal})
}

async function fileHash(
  path: string,
  st: {size: number; mtimeMs: number},
  dir: string,
  opts: Pick<ResolveOptions, 'onStatus' | 'signal'>,
): Promise<string> {
  const indexPath = hashIndexPath(dir)
  let index: HashIndex = {}
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as HashIndex
  } catch {
    index = {}
  }
  const known = index[path]
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs && /^[0-9a-f]{64}$/.test(known.sha256)) {
    return known.sha256
  }
  opts.onStatus?.('hash', `hashing ${path} (${(st.size / 2 ** 20).toFixed(1)} MiB)`)
  const sha256 = await sha256File(path, {signal: opts.signal})
  // Re-read right before writing so that concurrent runs lose as little as possible.
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as HashIndex
  } catch {
    index = {}
  }
  index[path] = {size: st.size, mtimeMs: st.mtimeMs, sha256}
  try {
    await mkdir(dir, {recursive: true})
    await writeJsonAtomic(indexPath, index)
  } catch {
    // The index only saves time: a read-only cache folder means hashing again next run, not failing this one.
  }
  return sha256
}

const LOCK_STALE_MS = 2 * 60 * 60 * 1000

/** Run `fn` holding `<path>.lock`, so that two runs never download or convert the same file at once. */
async function withLock<T>(path: string, opts: ResolveOptions, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`
  const me = `${process.pid}\n${hostname()}\n`
  let told = false
  for (;;) {
    try {
      await writeFile(lock, me, {flag: 'wx'})
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const [pidText, host] = (await readFile(lock, 'utf8').catch(() => '')).split('\n')
    const pid = Number(pidText)
    const age = Date.now() - ((await statFile(lock))?.mtimeMs ?? Date.now())
    const dead = host === hostname() && Number.isInteger(pid) && pid > 0 && !processAlive(pid)
    if (dead || age > LOCK_STALE_MS) {
      await rm(lock, {force: true})
      continue
    }
    if (!told) {
      opts.onStatus?.('wait', `waiting for another poster process (pid ${pidText}) working on ${path}`)
      told = true
    }
    if (opts.signal?.aborted) throw opts.signal.reason
    await new Promise((r) => setTimeout(r, 250))
  }
  try {
    return await fn()
  } finally {
    await rm(lock, {force: true})
  }
}

function stampMatches(stamp: Stamp | undefined, converter: string): stamp is Stamp {
  return stamp !== undefined && stamp.converter === converter
}

/** Convert `pth` into `onnx` and write the stamp that marks the ONNX as complete. */
async function convertInto(
  pth: string,
  onnx: string,
  st: {size: number; mtimeMs: number},
  convertOpts: ConvertOptions,
  opts: ResolveOptions,
  converter: string,
): Promise<void> {
  await mkdir(dirname(onnx), {recursive: true})
  // What conversions killed while writing left in the cache (each as big as a model): the folder is poster's own.
  for (const r of await removeStaleTemps(dirname(onnx))) {
    opts.onStatus?.('convert', `removed ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB), left by an interrupted run`)
  }
  // The stamp goes first and comes back last: an interrupted conversion leaves an ONNX nobody trusts.
  await rm(stampPath(onnx), {force: true})
  opts.onStatus?.('convert', `converting ${pth} to ONNX (once; cached at ${onnx})`)
  await opts.convert(pth, onnx, convertOpts)
  if (!(await statFile(onnx))) throw new Error(`the converter did not write ${onnx}`)
  const stamp: Stamp = {
    version: 1,
    converter,
    createdAt: new Date().toISOString(),
    pth: {path: pth, size: st.size, mtimeMs: st.mtimeMs, ...(convertOpts.sha256 ? {sha256: convertOpts.sha256} : {})},
  }
  await writeJsonAtomic(stampPath(onnx), stamp)
}

async function resolveCheckpoint(path: string, dir: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const converter = opts.converterVersion ?? '1'
  const st = await statFile(path)
  if (!st) throw new Error(`no such checkpoint file: ${path}`)
  const sha256 = await fileHash(path, st, dir, opts)
  const onnx = join(convertedDir(dir), `${sha256.slice(0, 16)}.onnx`)
  const base = {source: 'checkpoint' as const, checkpointPath: path, sha256, onnxPath: onnx, downloaded: false}
  const cached = async () => {
    const stamp = await readStamp(onnx)
    return stampMatches(stamp, converter) && stamp.pth.sha256 === sha256 && (await statFile(onnx)) !== undefined
  }
  if (!opts.force && (await cached())) return {...base, converted: false}
  await mkdir(dirname(onnx), {recursive: true})
  return withLock(onnx, opts, async () => {
    if (!opts.force && (await cached())) return {...base, converted: false}
    await convertInto(path, onnx, st, {...opts.convertOptions, sha256}, opts, converter)
    return {...base, converted: true}
  })
}

async function resolveRegistry(entry: ModelEntry, dir: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const converter = opts.converterVersion ?? '1'
  const pth = checkpointPath(entry.name, dir)
  const onnx = onnxPath(entry.name, dir)
  const info = {
    source: 'registry' as const,
    name: entry.name,
    labels: [...entry.labelSet.names],
    numClasses: entry.numClasses,
    benchmark: entry.dataset,
    checkpointPath: pth,
    onnxPath: onnx,
    ...(entry.paperTop1 === undefined ? {} : {paperAccuracy: entry.paperTop1}),
  }
  // A finished conversion is reused while the .pth it came from is unchanged (or was deleted to save space).
  const cached = async () => {
    const stamp = await readStamp(onnx)
    if (!stampMatches(stamp, converter) || !(await statFile(onnx))) return false
    const st = await statFile(pth)
    return st === undefined || (st.size === stamp.pth.size && st.mtimeMs === stamp.pth.mtimeMs)
  }
  if (!opts.force && (await cached())) return {...info, downloaded: false, converted: false}
  await mkdir(dir, {recursive: true})
  return withLock(onnx, opts, async () => {
    if (!opts.force && (await cached())) return {...info, downloaded: false, converted: false}
    let downloaded = false
    let st = await statFile(pth)
    if (!st) {
      const download = opts.download ?? downloadDriveFile
      opts.onStatus?.('download', `downloading the ${entry.title} checkpoint (${entry.name}) to ${pth}`)
      await download(entry.driveId, pth, {
        ...opts.downloadOptions,
        env: opts.env,
        onProgress: opts.onProgress,
        signal: opts.signal,
      })
      st = await statFile(pth)
      if (!st) throw new Error(`the download of ${entry.name} did not produce ${pth}`)
      downloaded = true
    }
    await convertInto(
      pth,
      onnx,
      st,
      {name: entry.name, numClasses: entry.numClasses, labels: [...entry.labelSet.names]},
      opts,
      converter,
    )
    return {...info, downloaded, converted: true}
  })
}

function unknownModel(spec: string): Error {
  return new Error(
    `unknown model "${spec}": not an existing .onnx or .pth file, and not a known model name ` +
      `(known: ${modelNames().join(', ')})`,
  )
}

/** Resolve a `--model` value (see the module comment) to an ONNX file, converting and downloading as needed. */
export async function resolveModel(spec: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const env = opts.env ?? process.env
  const dir = opts.cacheDir ? resolvePath(opts.cacheDir) : defaultCacheDir(env)
  const trimmed = spec.trim()
  if (trimmed.length === 0) throw unknownModel(spec)
  const ext = extname(trimmed).toLowerCase()
  const looksLikePath = /[\\/]/.test(trimmed) || ONNX_EXT.has(ext) || CHECKPOINT_EXT.has(ext)
  const entry = looksLikePath ? undefined : findModel(trimmed)
  if (entry) return resolveRegistry(entry, dir, {...opts, env})

  const path = resolvePath(trimmed)
  const st = await statFile(path)
  if (!st) {
    const other = await stat(path).catch(() => undefined)
    if (other) throw new Error(`the model ${printable(path)} is not a regular file (${specialKind(other)}): pass an .onnx file or a .pth checkpoint`)
    if (looksLikePath) {
      throw new Error(`no such model file: ${path} (or pass a known model name: ${modelNames().join(', ')})`)
    }
    throw unknownModel(spec)
  }
  const kind: FileKind = ONNX_EXT.has(ext) ? 'onnx' : CHECKPOINT_EXT.has(ext) ? 'checkpoint' : await sniff(path)
  if (kind === 'onnx') return {onnxPath: path, source: 'file', downloaded: false, converted: false}
  return resolveCheckpoint(path, dir, {...opts, env})
}

