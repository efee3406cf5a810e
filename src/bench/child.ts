/**
 * Runs one measurement job in a fresh Node process (`process.execPath` on worker.js next to this module), so
 * that `process.resourceUsage().maxRSS` is the peak of that measurement alone.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {BenchJob, Measurement} from './measure.js'

export interface ChildResult<M extends Measurement = Measurement> {
  measurement: M
  /** Peak resident set of the child process, MB (maxRSS / 1024). */
  peakRssMb: number
  /** Wall time of the whole child, start-up included. */
  wallSeconds: number
}

export class ChildJobError extends Error {}

/** The worker script and the Node arguments to run it (under vitest the sources are .ts: load them through tsx). */
export function workerCommand(): {script: string; nodeArgs: string[]} {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url))
  if (existsSync(js)) return {script: js, nodeArgs: []}
  const ts = fileURLToPath(new URL('./worker.ts', import.meta.url))
  return {script: ts, nodeArgs: ['--import', 'tsx']}
}

export async function runInChild<M extends Measurement>(job: BenchJob, opts: {timeoutMs?: number} = {}): Promise<ChildResult<M>> {
  const dir = await mkdtemp(join(tmpdir(), 'poster-bench-job-'))
  const resultFile = join(dir, 'result.json')
  const {script, nodeArgs} = workerCommand()
  const t0 = performance.now()
  try {
    const {code, stderr} = await new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, script, JSON.stringify({job, resultFile})], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: process.env,
      })
      let err = ''
      child.stderr.on('data', (d: Buffer) => {
        err = (err + d.toString('utf8')).slice(-8000)
      })
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
      child.on('error', reject)
      child.on('close', (c) => {
        if (timer) clearTimeout(timer)
        resolve({code: c, stderr: err})
      })
    })
    const wallSeconds = (performance.now() - t0) / 1000
    let parsed: {ok: boolean; error?: string; measurement?: M; peakRssMb?: number} | undefined
    try {
      parsed = JSON.parse(await readFile(resultFile, 'utf8'))
    } catch {
      parsed = undefined
    }
    if (!parsed?.ok || !parsed.measurement) {
      const why = parsed?.error ?? (stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${code}`)
      throw new ChildJobError(`${job.kind} job failed: ${why}`)
    }
    return {measurement: parsed.measurement, peakRssMb: parsed.peakRssMb ?? 0, wallSeconds}
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
