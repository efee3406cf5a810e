/**
 * One run per output at a time. Two runs appending to the same predictions.csv interleave their records (and
 * two --resume runs redo the same images), so a run holds `<output>.lock` — its pid, host and start time —
 * for as long as it writes, and a second run is refused with the first one named. A lock left by a run that
 * died is taken over: on this host when its pid is gone, on another host when it has not been refreshed for
 * STALE_MS (a live run refreshes it after every batch).
 */
import {promises as fsp} from 'node:fs'
import {hostname} from 'node:os'

import {readRegularText} from '../files.js'
import {processAlive} from '../basics.js'

/** A lock not refreshed for this long, held from another host, is taken to be left by a dead run. */
export const STALE_MS = 10 * 60 * 1000

export interface LockOwner {
  pid: number
  host: string
  started: string
}

export class OutputLockedError extends Error {
  constructor(readonly output: string, readonly owner: LockOwner, readonly lockPath: string) {
    super(
      `${output} is being written by another poster run (pid ${owner.pid} on ${owner.host}, since ${owner.started}); ` +
        `wait for it to finish or choose another --out. If that run is gone, remove ${lockPath}.`,
    )
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>
    if (typeof o.pid === 'number' && typeof o.host === 'string') return {pid: o.pid, host: o.host, started: String(o.started ?? '?')}
  } catch {
    // A lock half-written by a run killed while taking it: treated as stale below.
  }
  return undefined
}

export interface RunLock {
  readonly path: string
  /** Mark the lock as alive (after each batch), so another host can tell a live run from a dead one. */
  refresh(): Promise<void>
  release(): Promise<void>
}

/** Take `<output>.lock` or throw OutputLockedError naming the run that holds it. */
export async function acquireRunLock(output: string, now: () => number = Date.now): Promise<RunLock> {
  const lockPath = `${output}.lock`
  const me: LockOwner = {pid: process.pid, host: hostname(), started: new Date(now()).toISOString()}
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.writeFile(lockPath, JSON.stringify(me) + '\n', {flag: 'wx'})
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e
    }
    const text = await readRegularText(lockPath, {maxBytes: 64 * 1024}).catch(() => '')
    const st = await fsp.stat(lockPath).catch(() => undefined)
    if (!st) continue // released meanwhile
    const owner = parseOwner(text)
    const age = now() - st.mtimeMs
    const stale =
      owner === undefined
        ? age > 5000 // unreadable and not being written right now
        : owner.host === me.host
          ? !processAlive(owner.pid)
          : age > STALE_MS
    if (!stale) throw new OutputLockedError(output, owner ?? {pid: 0, host: '?', started: '?'}, lockPath)
    await fsp.rm(lockPath, {force: true})
  }
  let released = false
  return {
    path: lockPath,
    async refresh() {
      if (released) return
      const t = new Date(now())
      await fsp.utimes(lockPath, t, t).catch(() => undefined)
    },
    async release() {
      if (released) return
      released = true
      await fsp.rm(lockPath, {force: true}).catch(() => undefined)
    },
  }
}
