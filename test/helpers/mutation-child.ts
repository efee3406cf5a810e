/**
 * Reads mutated copies of checkpoints, for hostile files no test foresaw:
 *   node --max-old-space-size=256 --import tsx test/helpers/mutation-child.ts SEED COUNT DIR BASE...
 * Each mutant is a base file with a few random changes (byte flips, 16/32-bit fields set to extreme values,
 * truncation, a copied run of bytes), written to DIR and read. Prints one JSON summary: outcomes by error code,
 * the slowest read, peak memory, and every mutant whose error was not a CheckpointError about the file
 * ('bug': an io error caused by a JavaScript error rather than the file system).
 */
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'

import {CheckpointError, readCheckpoint} from '../../src/checkpoint/index.js'

const [seedText, countText, dir, ...bases] = process.argv.slice(2)
let state = Number(seedText) >>> 0 || 1
const rand = () => {
  state ^= state << 13
  state >>>= 0
  state ^= state >>> 17
  state ^= state << 5
  state >>>= 0
  return state / 2 ** 32
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
const EXTREMES = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]

function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src)
  const edits = 1 + Math.floor(rand() * 3)
  for (let e = 0; e < edits; e++) {
    const kind = rand()
    const at = Math.floor(rand() * b.length)
    if (kind < 0.3) b[at] = Math.floor(rand() * 256)
    else if (kind < 0.6 && at + 4 <= b.length) b.writeUInt32LE(pick(EXTREMES), at)
    else if (kind < 0.75 && at + 2 <= b.length) b.writeUInt16LE(pick(EXTREMES) & 0xffff, at)
    else if (kind < 0.85) b = b.subarray(0, at)
    else {
      const len = Math.floor(rand() * 64)
      const from = Math.floor(rand() * Math.max(1, b.length - len))
      b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)])
    }
  }
  return b
}

const outcomes: Record<string, number> = {}
const bugs: {mutant: number; base: string; message: string}[] = []
let slowest = {ms: 0, mutant: -1}
const sources = bases.map((p) => ({name: basename(p), bytes: readFileSync(p)}))
for (let i = 0; i < Number(countText); i++) {
  const base = pick(sources)
  const file = join(dir, `mutant-${i}.pth`)
  writeFileSync(file, mutate(base.bytes))
  const t0 = performance.now()
  let outcome: string
  try {
    await readCheckpoint(file)
    outcome = 'ok'
  } catch (err) {
    const cause = (err as {cause?: unknown}).cause
    if (!(err instanceof CheckpointError)) outcome = 'bug'
    else if (err.code === 'io' && !(cause instanceof Error && 'code' in cause)) outcome = 'bug'
    else outcome = err.code
    if (outcome === 'bug') bugs.push({mutant: i, base: base.name, message: String((err as Error).message)})
  }
  const ms = performance.now() - t0
  if (ms > slowest.ms) slowest = {ms: Math.round(ms), mutant: i}
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
  if (outcome !== 'bug') rmSync(file, {force: true})
}
process.stdout.write(JSON.stringify({outcomes, bugs, slowest, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024)}) + '\n')
