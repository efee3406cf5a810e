/**
 * The few things every layer uses, at the ground floor of the house (no imports of poster's own):
 * - the model's input size (POSTER++ and every model poster runs take [N, 3, 224, 224]);
 * - crash-safe file writes (readers see the old content or the new, never a mix), and the removal of the
 *   temporary files a killed writer leaves behind;
 * - a file's SHA-256 (models and checkpoints are identified by it);
 * - text from files made safe to show on a terminal.
 */
import {createHash, randomBytes} from 'node:crypto'
import {promises as fsp, constants as fsc} from 'node:fs'
import * as fs from 'node:fs'
import {hostname} from 'node:os'
import * as path from 'node:path'

import {openRegularFile} from './files.js'

/** Height and width of the model input: POSTER++'s 224×224 crops. */
export const INPUT_SIZE = 224

/** Floats of one image in the model input: 3 × INPUT_SIZE × INPUT_SIZE. */
export const INPUT_NUMEL = 3 * INPUT_SIZE * INPUT_SIZE

/** SHA-256 of a file's bytes, hex, streamed (a 240 MB checkpoint is never held in memory). */
export async function sha256File(file: string | Buffer, opts: {signal?: AbortSignal} = {}): Promise<string> {
  // Regular files only: a FIFO named as a model would block the hash forever.
  const {handle} = await openRegularFile(file)
  const hash = createHash('sha256')
  try {
    for await (const chunk of handle.createReadStream({highWaterMark: 1 << 20, signal: opts.signal, autoClose: false})) hash.update(chunk as Buffer)
  } finally {
    await handle.close().catch(() => undefined)
  }
  return hash.digest('hex')
}

/** SHA-256 of bytes or a string (UTF-8) in memory: hex, or the raw digest. */
export function sha256Of(data: string | Uint8Array): string
export function sha256Of(data: string | Uint8Array, as: 'bytes'): Buffer
export function sha256Of(data: string | Uint8Array, as: 'hex' | 'bytes' = 'hex'): string | Buffer {
  const digest = createHash('sha256').update(data)
  return as === 'hex' ? digest.digest('hex') : digest.digest()
}

/** 8 hex digits naming this host in temporary file names (a shared folder may be written from several hosts). */
const HOST_TAG = sha256Of(hostname()).slice(0, 8)

/**
 * The temporary file a crash-safe write of `target` goes through, in the same folder:
 * `.<name>.<pid>-<host tag>.<random>.tmp`. The pid and host say whose it is, so a file left by a killed run can
 * be told from one being written (removeStaleTemps).
 */
export function tempFileFor(target: string): string {
  const dir = path.dirname(target)
  const base = path.basename(target)
  return path.join(dir, `.${base}.${process.pid}-${HOST_TAG}.${randomBytes(6).toString('hex')}.tmp`)
}

/** Temporary files of poster's writes: this version's (pid and host) and earlier ones' (`.<name>.<pid>.<digits or hex>.tmp`). */
const TEMP_NAME = /^\.(.+)\.(\d+)-([0-9a-f]{8})\.[0-9a-f]+\.tmp$/
const OLD_TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/

/** What a temporary file's name says: the file it was to become, and who was writing it (host unknown for old names). */
export function parseTempName(name: string): {target: string; pid: number; host?: string} | undefined {
  const m = TEMP_NAME.exec(name)
  if (m) return {target: m[1]!, pid: Number(m[2]), host: m[3]!}
  const o = OLD_TEMP_NAME.exec(name)
  return o ? {target: o[1]!, pid: Number(o[2])} : undefined
}

/**
 * A temporary file not written for this long is left by a dead run, whoever wrote it: a live writer streams into
 * it continuously (a model is written in seconds), so an hour without a change means nobody is writing.
 */
export const STALE_TEMP_MS = 60 * 60 * 1000

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether a temporary file (by its name and modification time) was left by a run that is gone: written on this
 * host by a process that no longer exists, or (other hosts, earlier versions' names) not modified for STALE_TEMP_MS.
 */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const owner = parseTempName(name)
  if (!owner) return false
  if (now - mtimeMs > STALE_TEMP_MS) return true
  return owner.host === HOST_TAG && owner.pid !== process.pid && !processAlive(owner.pid)
}

/**
 * Remove the temporary files in `dir` that runs killed while writing left behind (see isStaleTemp): those of
 * `target` only when given (a user's folder: only names poster made for that file), else all of them (a folder
 * that is poster's own, such as the model cache). Files being written are left alone. Returns what was removed;
 * a folder that cannot be read removes nothing.
 */
export async function removeStaleTemps(dir: string, opts: {target?: string; now?: number} = {}): Promise<{path: string; bytes: number}[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[])
  const removed: {path: string; bytes: number}[] = []
  for (const name of names) {
    const owner = parseTempName(name)
    if (!owner || (opts.target !== undefined && owner.target !== path.basename(opts.target))) continue
    const file = path.join(dir, name)
    const st = await fsp.lstat(file).catch(() => undefined)
    if (!st?.isFile() || !isStaleTemp(name, st.mtimeMs, opts.now)) continue
    try {
      await fsp.unlink(file)
      removed.push({path: file, bytes: st.size})
    } catch {
      // Removed meanwhile by another run, or not ours to remove: nothing to do.
    }
  }
  return removed
}

/** fsync a directory so a rename inside it is durable; best effort (not possible on every platform). */
async function fsyncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined
  try {
    h = await fsp.open(dir, fsc.O_RDONLY)
    await h.sync()
  } catch {
    // Windows cannot open directories; some filesystems refuse fsync on them. The data itself is synced.
  } finally {
    await h?.close().catch(() => undefined)
  }
}

/**
 * Write a file so that readers see either the old content or the new content, never a mix or a truncated file:
 * write a temporary file in the same folder, fsync it, rename it over the target, fsync the folder.
 * On error the temporary file is removed and the target is left as it was.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempFileFor(target)
  let handle: fsp.FileHandle | undefined
  try {
    handle = await fsp.open(tmp, 'wx', 0o644)
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    await fsp.rename(tmp, target)
  } catch (err) {
    await handle?.close().catch(() => undefined)
    await fsp.rm(tmp, {force: true}).catch(() => undefined)
    throw err
  }
  await fsyncDir(path.dirname(target))
}

/** Synchronous writeFileAtomic, for exit handlers and other places that cannot await. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  const tmp = tempFileFor(target)
  let fd: number | undefined
  try {
    fd = fs.openSync(tmp, 'wx', 0o644)
    fs.writeFileSync(fd, data)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fd = undefined
    fs.renameSync(tmp, target)
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd)
      } catch {
        /* already failing */
      }
    }
    fs.rmSync(tmp, {force: true})
    throw err
  }
  try {
    const dfd = fs.openSync(path.dirname(target), fsc.O_RDONLY)
    try {
      fs.fsyncSync(dfd)
    } finally {
      fs.closeSync(dfd)
    }
  } catch {
    /* best effort, as in fsyncDir */
  }
}

/**
 * Characters that must not reach a terminal raw: C0 controls (ESC starts escape sequences; CR and BS overwrite what
 * was shown), DEL, C1 controls (U+009B is a one-character CSI), the bidirectional overrides and isolates that reorder
 * what is shown, line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
const UNSAFE_KEEPING_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  if (code === 0x0a) return '\\n'
  if (code === 0x0d) return '\\r'
  if (code === 0x09) return '\\t'
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `text` (a key name, an epoch string, a message quoting them) with every character that could drive or deceive a
 * terminal written as an escape (`\x1b`, `\u202e`). Everything shown that came from a file goes through here.
 * `keepLines` leaves newlines and tabs (for whole messages whose lines are poster's own).
 */
export function printable(text: string, opts: {keepLines?: boolean} = {}): string {
  return text.replace(opts.keepLines ? UNSAFE_KEEPING_LINES : UNSAFE, escapeChar)
}
