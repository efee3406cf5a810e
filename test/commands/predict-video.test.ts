/** `poster predict` on a video as a user runs it: the flags, the terminal summary, --json, usage errors. */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import Predict from '../../src/commands/predict.js'
import type {VideoRunSummary} from '../../src/pipeline/video.js'
import {readPredictions} from '../../src/report/predictions-csv.js'
import {cleanupTmp, tmpDir} from '../helpers/predict-fixtures.js'
import {SEVEN_CLASS_SPEC, SEVEN_COLORS, writeTinyModel} from '../helpers/tiny-model.js'
import {makeClip} from '../helpers/video-clips.js'

const ROOT = new URL('../..', import.meta.url).pathname
let work: string
let model: string
let clip: string

type Captured = Awaited<ReturnType<typeof captureOutput>>
const exitOf = (r: Captured): number => r.error?.oclif?.exit ?? (typeof process.exitCode === 'number' ? process.exitCode : 0)
const run = (argv: string[]) => captureOutput(() => Predict.run(argv, {root: ROOT}))

beforeAll(async () => {
  work = tmpDir('poster-predict-video-')
  model = await writeTinyModel(path.join(work, 'tiny7.onnx'), SEVEN_CLASS_SPEC)
  clip = path.join(work, 'clip.mp4')
  // 2 s at 10 fps: Happiness (yellow) for 1.2 s, then Neutral (grey).
  await makeClip(clip, {width: 48, height: 48, frames: 20, fps: 10, draw: (n) => (n < 12 ? SEVEN_COLORS[3]! : SEVEN_COLORS[6]!)})
}, 60_000)
afterEach(() => {
  process.exitCode = undefined
})
afterAll(() => cleanupTmp())

describe('poster predict on a video', () => {
  it('prints each track with seconds per expression and writes the CSV and the timeline', async () => {
    const out = path.join(work, 'clip.csv')
    const r = await run([clip, '--model', model, '--faces', 'whole', '--fps', '5', '--smooth', '0.2', '--out', out, '--threads', '1'])
    expect(exitOf(r)).toBe(0)
    expect(r.stdout, r.stdout).toMatch(/Wrote .*clip\.csv: 1 inputs, 1 of them videos \(10 ok, 10 frames, 0 errors\)/)
    expect(r.stdout).toMatch(/clip\.mp4: 10 sampled frames over 2\.00 s, 1 face track/)
    // With --smooth the summary counts the smoothed prediction, which turns to Neutral a frame or two after the clip.
    const file0 = await readPredictions(out)
    const happy = file0.rows.filter((x) => x.smooth_pred_name === 'Happiness').length
    expect(happy).toBeGreaterThanOrEqual(6)
    expect(file0.rows.filter((x) => x.pred_name === 'Happiness').length).toBe(6)
    const pc = (k: number) => `${((k / 10) * 100).toFixed(0)}%`
    expect(r.stdout).toContain(`track 0: 2.0 s from 0.00 s: Happiness ${(happy * 0.2).toFixed(1)} s (${pc(happy)}), Neutral ${((10 - happy) * 0.2).toFixed(1)} s (${pc(10 - happy)})`)
    expect(r.stdout).toMatch(/timeline: .*clip\.timelines\/clip\.timeline\.png/)
    expect(r.stderr).toMatch(/videos: ffmpeg \S+ \((bundled with poster, @ffmpeg-installer\/ffmpeg|POSTER_FFMPEG|PATH): .*; set POSTER_FFMPEG to use another\)/)
    const file = await readPredictions(out)
    expect(file.columns).toContain('smooth_Happiness')
    expect(file.rows.map((x) => x.frame)).toEqual(['0', '2', '4', '6', '8', '10', '12', '14', '16', '18'])
    expect(existsSync(path.join(work, 'clip.timelines', 'clip.timeline.png'))).toBe(true)
    expect(existsSync(path.join(work, 'clip.timelines', 'clip.timeline.svg'))).toBe(true)
  })

  it('--json has the per-track summary', async () => {
    const out = path.join(work, 'clip-json.csv')
    const r = await run([clip, '--model', model, '--faces', 'whole', '--every', '4', '--out', out, '--timeline', path.join(work, 'tl'), '--json'])
    expect(exitOf(r)).toBe(0)
    const s = JSON.parse(r.stdout) as VideoRunSummary
    expect(s.frames).toBe(5)
    expect(s.sampling).toBe('every 4th frame (--every 4)')
    expect(s.videos[0]!.tracks[0]!.expressions).toEqual([{name: 'Happiness', seconds: 1.2, share: 0.6}, {name: 'Neutral', seconds: 0.8, share: 0.4}])
    expect(s.videos[0]!.timeline!.png).toBe(path.join(work, 'tl', 'clip.timeline.png'))
  })

  it('bad --fps / --every / --smooth values are usage errors (exit 2); an ffmpeg that cannot be found is exit 1', async () => {
    for (const argv of [['--fps', '0'], ['--fps', 'fast'], ['--fps', '5', '--every', '2'], ['--smooth', '-1'], ['--every', '0']]) {
      const r = await run([clip, '--model', model, '--out', path.join(work, 'x.csv'), ...argv])
      expect(exitOf(r), argv.join(' ')).toBe(2)
      process.exitCode = undefined
    }
    const saved = process.env.POSTER_FFMPEG
    process.env.POSTER_FFMPEG = path.join(work, 'no-ffmpeg')
    try {
      const r = await run([clip, '--model', model, '--out', path.join(work, 'y.csv')])
      expect(exitOf(r)).toBe(1)
      expect(r.error?.message).toMatch(/POSTER_FFMPEG=.*no-ffmpeg is not an executable file/)
    } finally {
      if (saved === undefined) delete process.env.POSTER_FFMPEG
      else process.env.POSTER_FFMPEG = saved
    }
  })
})
