/** The run folder: its name, and creating or reopening it. (Crash-safe writes are src/basics.ts's.) */

import {promises as fsp} from 'node:fs'
import type * as fs from 'node:fs'
import * as path from 'node:path'

import {prepareOutputDir} from '../files.js'

const pad2 = (n: number): string => String(n).padStart(2, '0')

/** Local date-time as YYYYMMDD-HHMMSS. */
export function runTimestamp(date: Date = new Date()): string {
  return (
    `${date.getFullYear()}${pad2(date.getMonth() + 1)}${pad2(date.getDate())}-` +
    `${pad2(date.getHours())}${pad2(date.getMinutes())}${pad2(date.getSeconds())}`
  )
}

/** A dataset name made safe for a folder name: letters, digits, '.', '_' and '-' only. */
export function safeRunName(datasetName: string): string {
  const base = datasetName.trim().replace(/[\\/]+$/, '')
  const s = (base.includes('/') || base.includes('\\') ? path.basename(base.replace(/\\/g, '/')) : base)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
  return s.length > 0 ? s.slice(0, 80) : 'run'
}

/** The default run folder: runs/<dataset>-<YYYYMMDD-HHMMSS> (relative to `runsRoot`, default "runs"). */
export function defaultRunDir(datasetName: string, date: Date = new Date(), runsRoot = 'runs'): string {
  return path.join(runsRoot, `${safeRunName(datasetName)}-${runTimestamp(date)}`)
}

async function dirState(p: string): Promise<'missing' | 'empty' | 'non-empty'> {
  let st: fs.Stats
  try {
    st = await fsp.stat(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw err
  }
  if (!st.isDirectory()) throw new Error(`${p} exists and is not a folder`)
  const entries = await fsp.readdir(p)
  return entries.length === 0 ? 'empty' : 'non-empty'
}

export interface CreateRunDirOptions {
  /** Continue a previous run: an existing non-empty folder is used as it is. Needs an explicit `out`. */
  resume?: boolean
  /** Clock for the default name (tests). */
  now?: Date
  /** Parent of default run folders; default "runs" (relative to the working directory). */
  runsRoot?: string
}

export interface RunDir {
  /** The folder, as given or made (relative paths stay relative). */
  dir: string
  /** True when an existing non-empty folder is being continued (--resume). */
  resumed: boolean
}

/**
 * Make the folder a run writes into. With `out`, that folder (created with its parents if missing; an empty
 * existing folder is fine). Without it, runs/<dataset>-<YYYYMMDD-HHMMSS>, with "-2", "-3"... appended if two
 * runs start in the same second. A non-empty folder is never reused silently: it is an error unless `resume`.
 */
export async function createRunDir(
  out: string | undefined,
  datasetName: string,
  options: CreateRunDirOptions = {},
): Promise<RunDir> {
  if (out !== undefined && out.trim() === '') throw new Error('the output folder name is empty')
  if (out !== undefined) {
    const state = await dirState(out)
    if (state === 'non-empty') {
      if (options.resume) return {dir: out, resumed: true}
      throw new Error(
        `the output folder ${out} already exists and is not empty; pass --resume to continue that run, ` +
          'or choose another --out',
      )
    }
    await prepareOutputDir(out)
    return {dir: out, resumed: false}
  }
  if (options.resume) {
    throw new Error('--resume needs --out: the folder of the run to continue')
  }
  const base = defaultRunDir(datasetName, options.now, options.runsRoot)
  await prepareOutputDir(path.dirname(base), 'the runs folder')
  for (let i = 1; i < 1000; i++) {
    const candidate = i === 1 ? base : `${base}-${i}`
    try {
      // mkdir without recursive fails if the folder exists: the claim is atomic even with concurrent runs.
      await fsp.mkdir(candidate)
      return {dir: candidate, resumed: false}
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      // Taken (possibly by a run that started this same second and has not written yet): try the next name.
    }
  }
  throw new Error(`could not find a free run folder name next to ${base}`)
}
