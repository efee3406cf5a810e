/**
 * Splitting one evaluation or prediction run across N machines. Membership is a hash of each item's relPath, not
 * its position, so a shard holds the same images whatever `--limit`, listing order or other shards do, and the
 * shards' outputs can simply be concatenated.
 */

import {fnv1a32} from '../hash.js'
import type {DatasetItem} from './types.js'

export {fnv1a32} from '../hash.js'

/** The 0-based shard (0..n-1) that `relPath` belongs to. */
export function shardOf(relPath: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`shard count must be a positive integer; got ${n}`)
  return fnv1a32(relPath) % n
}

export interface Shard {
  /** 0-based index, 0..count-1. */
  index: number
  count: number
  /** Where the numbers came from, for the run's notes: '--shard 2/4', 'JOB_COMPLETION_INDEX=1 with --shards 4', ... */
  source: string
}

/** '2/4': 1-based index over count, as `--shard` takes it. */
export function formatShard(s: Shard): string {
  return `${s.index + 1}/${s.count}`
}

/** The items of `items` in shard `s`, order kept. */
export function selectShard<T extends Pick<DatasetItem, 'relPath'>>(items: T[], s: Shard | undefined): T[] {
  if (!s || s.count === 1) return items
  return items.filter((it) => shardOf(it.relPath, s.count) === s.index)
}

function parseIntStrict(value: string, what: string): number {
  const v = value.trim()
  if (!/^[0-9]+$/.test(v)) throw new Error(`${what} must be a non-negative integer; got "${value}"`)
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new Error(`${what} is too large: "${value}"`)
  return n
}

function envValue(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v
}

/**
 * Which shard this process runs, or undefined when the run is not sharded. In order:
 * 1. `--shard K/N` (K 1-based, 1..N). `--shards`, if also given, must equal N.
 * 2. `--shards N` with `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job; 0-based). Kubernetes does not expose the
 *    completion count, hence `--shards`. Without `--shards` the variable is ignored: an Indexed Job may use its
 *    index for something else.
 * 3. `SLURM_ARRAY_TASK_ID` in a Slurm job array: see slurmShard.
 * 4. `--shards N` alone is an error (nothing says which shard this is).
 * Bad numbers are errors that name the flag or variable.
 */
export function resolveShard(
  flags: {shard?: string; shards?: number},
  env: Record<string, string | undefined> = process.env,
): Shard | undefined {
  const {shard, shards} = flags
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1)) {
    throw new Error(`--shards must be a positive integer; got ${shards}`)
  }

  if (shard !== undefined) {
    const m = /^\s*([0-9]+)\s*\/\s*([0-9]+)\s*$/.exec(shard)
    if (!m) throw new Error(`--shard expects K/N with 1 <= K <= N (e.g. 2/4); got "${shard}"`)
    const k = parseIntStrict(m[1]!, '--shard K')
    const n = parseIntStrict(m[2]!, '--shard N')
    if (n < 1) throw new Error(`--shard ${shard}: N must be at least 1`)
    if (k < 1 || k > n) throw new Error(`--shard ${shard}: K must be between 1 and ${n} (shards are numbered from 1)`)
    if (shards !== undefined && shards !== n) {
      throw new Error(`--shard ${shard} and --shards ${shards} disagree on the number of shards`)
    }
    return {index: k - 1, count: n, source: `--shard ${k}/${n}`}
  }

  const jobIndex = envValue(env, 'JOB_COMPLETION_INDEX')
  if (shards !== undefined && jobIndex !== undefined) {
    const i = parseIntStrict(jobIndex, 'JOB_COMPLETION_INDEX')
    if (i >= shards) {
      throw new Error(
        `JOB_COMPLETION_INDEX=${jobIndex} is out of range for --shards ${shards} (expected 0..${shards - 1}); ` +
          `set the Job's completions to ${shards} or --shards to the completion count`,
      )
    }
    return {index: i, count: shards, source: `JOB_COMPLETION_INDEX=${i} with --shards ${shards}`}
  }

  const taskId = envValue(env, 'SLURM_ARRAY_TASK_ID')
  if (taskId !== undefined) return slurmShard(env, taskId, shards)

  if (shards !== undefined) {
    if (shards === 1) return {index: 0, count: 1, source: '--shards 1'}
    throw new Error(
      `--shards ${shards} needs JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID to say which ` +
        `shard this is; neither is set. Use --shard K/N to choose one by hand.`,
    )
  }
  return undefined
}

/**
 * The shard of one task of a Slurm job array. Slurm sets, for every task (slurmctld's job array creation):
 *   SLURM_ARRAY_TASK_COUNT  how many indices the array has,
 *   SLURM_ARRAY_TASK_MIN / MAX  its smallest and largest index,
 *   SLURM_ARRAY_TASK_STEP   the number after the first ':' of --array, else 1 — so 1 for a list such as
 *                           --array=0,2,4, and 2 for --array=0-6:2,10: it does not describe the array.
 * An array whose COUNT indices run evenly from MIN to MAX has step (MAX - MIN) / (COUNT - 1), whatever the reported
 * STEP, and task ID is shard (ID - MIN) / step: --array=0-15, 1-8, 0-14:2 and 0,2,4 all map onto shards 0..COUNT-1.
 * Any other array (--array=0,1,5) cannot be mapped from these variables: refused, in every task, rather than
 * guessed. And if an array of COUNT indices passes the check but is not that progression after all (only possible
 * with an odd --array such as 0-0:2,1,4), the indices that do not fit it are refused, so at least one task fails
 * loudly: no shard is silently run twice or left out. Without MAX (older Slurm, or variables set by hand) the
 * reported STEP is used. `--shards`, if given, must equal COUNT.
 */
export function slurmShard(env: Record<string, string | undefined>, taskId: string, shards: number | undefined): Shard {
  const id = parseIntStrict(taskId, 'SLURM_ARRAY_TASK_ID')
  const countVar = envValue(env, 'SLURM_ARRAY_TASK_COUNT')
  let count: number | undefined
  if (countVar !== undefined) {
    count = parseIntStrict(countVar, 'SLURM_ARRAY_TASK_COUNT')
    if (count < 1) throw new Error(`SLURM_ARRAY_TASK_COUNT must be at least 1; got "${countVar}"`)
    if (shards !== undefined && shards !== count) {
      throw new Error(
        `--shards ${shards} disagrees with SLURM_ARRAY_TASK_COUNT=${count} (the array has ${count} tasks). To run a few shards of ` +
          `a bigger split again, pass each task its shard by hand: --shard "$((SLURM_ARRAY_TASK_ID + 1))/${shards}"`,
      )
    }
  } else {
    count = shards
  }
  if (count === undefined) {
    throw new Error('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shards N or --shard K/N')
  }
  const minVar = envValue(env, 'SLURM_ARRAY_TASK_MIN')
  const min = minVar === undefined ? 0 : parseIntStrict(minVar, 'SLURM_ARRAY_TASK_MIN')
  const maxVar = envValue(env, 'SLURM_ARRAY_TASK_MAX')
  const max = maxVar === undefined ? undefined : parseIntStrict(maxVar, 'SLURM_ARRAY_TASK_MAX')
  const stepVar = envValue(env, 'SLURM_ARRAY_TASK_STEP')
  let step: number
  if (max !== undefined) {
    if (max < min) throw new Error(`SLURM_ARRAY_TASK_MAX=${max} is below SLURM_ARRAY_TASK_MIN=${min}`)
    if (count === 1) {
      if (max !== min) throw new Error(`SLURM_ARRAY_TASK_COUNT=1 but the array runs from ${min} to ${max}`)
      step = 1
    } else if ((max - min) % (count - 1) !== 0 || max === min) {
      throw new Error(
        `this Slurm array has ${count} tasks from ${min} to ${max} (SLURM_ARRAY_TASK_COUNT/MIN/MAX) that are not evenly spaced ` +
          `(as --array=0,1,5), so which shard task ${id} is cannot be told from Slurm's variables. Submit an evenly spaced ` +
          `--array (0-${count - 1}, or a list with one step such as 0,2,4), or pass each task its shard with --shard K/N.`,
      )
    } else {
      step = (max - min) / (count - 1)
    }
  } else {
    step = stepVar === undefined ? 1 : parseIntStrict(stepVar, 'SLURM_ARRAY_TASK_STEP')
    if (step < 1) throw new Error(`SLURM_ARRAY_TASK_STEP must be at least 1; got "${stepVar}"`)
  }
  const describe = `SLURM_ARRAY_TASK_MIN=${min}${max !== undefined ? `, MAX=${max}` : ''}, ${countVar !== undefined ? `COUNT=${count}` : `--shards ${count}`}`
  if (id < min || (id - min) % step !== 0) {
    throw new Error(
      `SLURM_ARRAY_TASK_ID=${id} does not fit an evenly spaced array (${describe}, step ${step}); ` +
        'this array cannot be mapped onto shards: submit an evenly spaced --array, or pass --shard K/N',
    )
  }
  const index = (id - min) / step
  if (index >= count) {
    throw new Error(
      `SLURM_ARRAY_TASK_ID=${id} would be task ${index + 1} of an array of ${count} (${describe}, step ${step}); ` +
        'set --array to the shards you want, or pass --shard K/N',
    )
  }
  const parts = [`SLURM_ARRAY_TASK_ID=${id}`]
  if (min !== 0) parts.push(`MIN=${min}`)
  if (step !== 1) parts.push(`step ${step}`)
  parts.push(countVar !== undefined ? `COUNT=${count}` : `--shards ${count}`)
  return {index, count, source: parts.join(', ')}
}
