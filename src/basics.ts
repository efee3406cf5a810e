/**
 * The few things every layer uses, at the ground floor of the house (no imports of poster's own):
 * - the model's input size (POSTER++ and every model poster runs take [N, 3, 224, 224]);
 * - crash-safe file writes (readers see the old content or the new, never a mix);
 * - a file's SHA-256 (models and checkpoints are identified by it).
 */
import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, promises as fsp, constants as fsc} from 'node:fs'
import * as fs from 'node:fs'
import * as path from 'node:path'

/** Height and width of the model input: POSTER++'s 224×224 crops. */
export const INPUT_SIZE = 224

/** Floats of one image in the model input: 3 × INPUT_SIZE × INPUT_SIZE. */
export const INPUT_NUMEL = 3 * INPUT_SIZE * INPUT_SIZE

/** SHA-256 of a file's bytes, hex, streamed (a 240 MB checkpoint is never held in memory). */
export async function sha256File(file: string | Buffer, opts: {signal?: AbortSignal} = {}): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, {highWaterMark: 1 << 20, signal: opts.signal})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function tempNameFor(target: string): string {
  const dir = path.dirname(target)
  const base = path.basename(target)
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
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
  const tmp = tempNameFor(target)
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
  const tmp = tempNameFor(target)
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
