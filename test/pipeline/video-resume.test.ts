import {spawn} from 'node:child_process'
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import type {VideoRunSummary} from '../../src/pipeline/video.js'
import {parsePredictionsCsv} from '../../src/report/predictions-csv.js'
import {cleanupTmp, solidImage, tmpDir} from '../helpers/predict-fixtures.js'
import {squareFaceStage} from '../helpers/synthetic-faces.js'
import {SEVEN_CLASS_SPEC, SEVEN_COLORS, writeTinyModel} from '../helpers/tiny-model.js'
import {makeClip} from '../helpers/video-clips.js'

const REPO = path.resolve(import.meta.dirname, '../..')
const CHILD = path.join(REPO, 'test/helpers/video-child.ts')

let work: string
let base: PredictOptions & {squares: true}
let reference: string
let referenceSummary: VideoRunSummary

function rowsOnDisk(file: string): number {
  try {
    return parsePredictionsCsv(readFileSync(file)).rows.length
  } catch {
    return 0
  }
}

async function runAndKill(opts: Record<string, unknown> & {out?: string}, killAfterRows: number, pace: {delayMs?: number; stallAfterRows?: number}) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({...opts, ...pace})], {cwd: REPO, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, signal) => resolve({code, signal})))
  let exit: {code: number | null; signal: NodeJS.Signals | null} | undefined
  void exited.then((e) => (exit = e))
  const deadline = Date.now() + 90_000
  while (!exit && Date.now() < deadline && rowsOnDisk(opts.out!) < killAfterRows) await new Promise((r) => setTimeout(r, 10))
  if (!exit) child.kill('SIGKILL')
  const e = await exited
  if (e.code !== null && e.code !== 0) throw new Error(`child failed (${e.code}): ${stderr}`)
  return {killed: e.signal === 'SIGKILL', rows: rowsOnDisk(opts.out!)}
}

beforeAll(async () => {
  work = tmpDir('poster-video-resume-')
  const inputs = path.join(work, 'in')
  mkdirSync(inputs)
  const model = await writeTinyModel(path.join(work, 'tiny7.onnx'), SEVEN_CLASS_SPEC)
  // Two faces whose colours change over time, one gone for 1.5 s (it comes back as a new track); then an image, a
  // damaged clip, a whole one.
  await makeClip(path.join(inputs, 'a-two.mp4'), {
    width: 240, height: 120, frames: 80, fps: 20,
    draw: (n) => [
      {x: 90 - n, y: 40, size: 32, rgb: SEVEN_COLORS[Math.floor(n / 15) % 7]!},
      ...(n < 25 || n >= 55 ? [{x: 110 + n, y: 40, size: 32, rgb: SEVEN_COLORS[6 - (Math.floor(n / 10) % 7)]!}] : []),
    ],
  })
  writeFileSync(path.join(inputs, 'b.png'), await solidImage('png', SEVEN_COLORS[2]!, 32, 32))
  await makeClip(path.join(work, 'whole.mp4'), {width: 160, height: 96, frames: 40, fps: 20, faststart: true, draw: (n) => [{x: 20 + n, y: 30, size: 30, rgb: SEVEN_COLORS[n % 7]!}]})
  const whole = readFileSync(path.join(work, 'whole.mp4'))
  writeFileSync(path.join(inputs, 'c-cut.mp4'), whole.subarray(0, Math.floor(whole.length * 0.6)))
  copyFileSync(path.join(work, 'whole.mp4'), path.join(inputs, 'd-whole.mp4'))
  base = {inputs: [inputs], model, batchSize: 3, threads: 1, squares: true, video: {fps: 10, smooth: 0.3}}
  const out = path.join(work, 'reference.csv')
  referenceSummary = (await predict({...base, out, video: {...base.video, faceStage: async () => squareFaceStage()}})) as VideoRunSummary
  reference = readFileSync(out, 'utf8')
}, 120_000)

afterAll(() => cleanupTmp())

describe('predict on videos interrupted and resumed', () => {
  it('the reference run covers what the resume must reproduce: tracks, smoothing, no-face frames, a damaged clip', () => {
    const rows = parsePredictionsCsv(reference).rows
    const a = rows.filter((r) => r.path.endsWith('a-two.mp4'))
    expect(new Set(a.map((r) => r.track))).toEqual(new Set(['0', '1', '2']))
    expect(a.filter((r) => r.track === '1').every((r) => Number(r.frame) < 25)).toBe(true)
    expect(a.filter((r) => r.track === '2').every((r) => Number(r.frame) >= 55)).toBe(true)
    expect(rows.some((r) => r.smooth_pred !== '' && r.smooth_pred !== r.pred)).toBe(true)
    const cut = rows.filter((r) => r.path.endsWith('c-cut.mp4'))
    expect(cut.length).toBeGreaterThan(2)
    expect(cut[cut.length - 1]).toMatchObject({status: 'error', frame: ''})
    expect(cut[cut.length - 1]!.error).toMatch(/video broke off after frame \d+ \(truncated or damaged\?\): ffmpeg: .*partial file/)
    expect(referenceSummary.videos.map((v) => [path.basename(v.path), v.status])).toEqual([['a-two.mp4', 'ok'], ['c-cut.mp4', 'damaged'], ['d-whole.mp4', 'ok']])
  })

  it('SIGKILLed twice part-way (once mid-video) and resumed: the same CSV, summary and timelines', async () => {
    const out = path.join(work, 'killed.csv')
    const first = await runAndKill({...base, out}, 7, {stallAfterRows: 7})
    expect(first.killed).toBe(true)
    // Killed inside the first video, with rows of both of its tracks on disk.
    const partial = parsePredictionsCsv(readFileSync(out)).rows
    expect(partial.every((r) => r.path.endsWith('a-two.mp4'))).toBe(true)
    expect(new Set(partial.map((r) => r.track))).toEqual(new Set(['0', '1']))
    const second = await runAndKill({...base, out, resume: true}, first.rows + 20, {delayMs: 30})
    expect(second.rows).toBeGreaterThan(first.rows)
    const s = (await predict({...base, out, resume: true, video: {...base.video, faceStage: async () => squareFaceStage()}})) as VideoRunSummary
    expect(readFileSync(out, 'utf8')).toBe(reference)
    expect(s.skipped_resumed).toBeGreaterThan(0)
    const strip = (v: VideoRunSummary['videos'][number]) => ({...v, stream: null, timeline: v.timeline && path.basename(v.timeline.png)})
    expect(s.videos.map(strip)).toEqual(referenceSummary.videos.map(strip))
    expect(s.ok).toBe(referenceSummary.ok)
    expect(s.errors).toBe(referenceSummary.errors)
    expect(s.frames).toBe(referenceSummary.frames)
    const svg = (p: string) => readFileSync(p.replace(/\.png$/, '.svg'), 'utf8')
    s.videos.forEach((v, k) => v.timeline && expect(svg(v.timeline.svg)).toBe(svg(referenceSummary.videos[k]!.timeline!.svg)))
  }, 180_000)

  it('a file cut at any byte resumes to the same file', async () => {
    const bytes = Buffer.from(reference, 'utf8')
    const cuts = [0, bytes.indexOf('\r\n') + 2]
    for (let i = 1; i <= 6; i++) cuts.push(Math.floor((bytes.length * i) / 7) + (i % 3))
    for (const cut of cuts) {
      const out = path.join(work, `cut-${cut}.csv`)
      writeFileSync(out, bytes.subarray(0, cut))
      await predict({...base, out, resume: true, video: {...base.video, faceStage: async () => squareFaceStage()}})
      expect(readFileSync(out, 'utf8'), `cut at byte ${cut}`).toBe(reference)
    }
  }, 120_000)
})
