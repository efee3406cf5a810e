import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {softmax} from '../../src/metrics/classification.js'
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import type {VideoRunSummary} from '../../src/pipeline/video.js'
import {parsePredictionsCsv, probColumn} from '../../src/report/predictions-csv.js'
import {cleanupTmp, solidImage, tmpDir} from '../helpers/predict-fixtures.js'
import {squareFaceStage} from '../helpers/synthetic-faces.js'
import {expectedLogits, SEVEN_CLASS_SPEC, SEVEN_COLORS, writeTinyModel} from '../helpers/tiny-model.js'
import {VFR_PTS_MS, framesSampledAt, makeClip, vfrTime, type Rgb} from '../helpers/video-clips.js'

const NAMES = SEVEN_CLASS_SPEC.labels!
let work: string
let model: string

/** Colour k of frame n in the CFR clip: changes every 5 frames. */
const cfrColour = (n: number): number => Math.floor(n / 5) % 7

beforeAll(async () => {
  work = tmpDir('poster-video-')
  model = await writeTinyModel(path.join(work, 'tiny7.onnx'), SEVEN_CLASS_SPEC)
  await makeClip(path.join(work, 'cfr.mp4'), {width: 96, height: 64, frames: 50, fps: 25, draw: (n) => SEVEN_COLORS[cfrColour(n)]!})
  await makeClip(path.join(work, 'vfr.mkv'), {
    width: 64, height: 48, frames: 24, fps: 25, ptsMs: VFR_PTS_MS, codec: 'lossless',
    draw: (n) => SEVEN_COLORS[n % 7]!,
  })
}, 120_000)

afterAll(() => cleanupTmp())

const run = (opts: Partial<PredictOptions> & {out: string; inputs: string[]}) =>
  predict({model, batchSize: 4, threads: 1, ...opts}) as Promise<VideoRunSummary>

function rowsOf(file: string) {
  return parsePredictionsCsv(readFileSync(file)).rows
}

describe('predict on videos: sampled frames, times and predictions', () => {
  it('--fps 5 on a 25 fps clip: frames 0, 5, 10, ... once each, at their real times, predicted from their content', async () => {
    const out = path.join(work, 'cfr-fps5.csv')
    const s = await run({inputs: [path.join(work, 'cfr.mp4')], out, video: {fps: 5}})
    const rows = rowsOf(out)
    expect(rows.map((r) => Number(r.frame))).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45])
    expect(rows.map((r) => r.time_s)).toEqual(['0.000000', '0.200000', '0.400000', '0.600000', '0.800000', '1.000000', '1.200000', '1.400000', '1.600000', '1.800000'])
    expect(rows.map((r) => r.pred_name)).toEqual(rows.map((r) => NAMES[cfrColour(Number(r.frame))]))
    expect(rows.every((r) => r.status === 'ok' && r.track === '0')).toBe(true)
    expect(s.frames).toBe(10)
    expect(s.videos).toHaveLength(1)
    const v = s.videos[0]!
    expect(v.status).toBe('ok')
    expect(v.duration_s).toBeCloseTo(2, 6)
    // One whole-frame track, each colour on screen for 5 frames = 0.2 s, twice for the first three (7 colours, 10 samples).
    expect(v.tracks).toHaveLength(1)
    const secs = Object.fromEntries(v.tracks[0]!.expressions.map((e) => [e.name, e.seconds]))
    expect(secs).toEqual({[NAMES[0]!]: 0.4, [NAMES[1]!]: 0.4, [NAMES[2]!]: 0.4, [NAMES[3]!]: 0.2, [NAMES[4]!]: 0.2, [NAMES[5]!]: 0.2, [NAMES[6]!]: 0.2})
  })

  it('--every 3: frames 0, 3, 6, ... at n/25 s', async () => {
    const out = path.join(work, 'cfr-every3.csv')
    await run({inputs: [path.join(work, 'cfr.mp4')], out, video: {every: 3}})
    const rows = rowsOf(out)
    const want = Array.from({length: 17}, (_, k) => 3 * k)
    expect(rows.map((r) => Number(r.frame))).toEqual(want)
    expect(rows.map((r) => r.time_s)).toEqual(want.map((n) => (n / 25).toFixed(6)))
    expect(rows.map((r) => r.pred_name)).toEqual(want.map((n) => NAMES[cfrColour(n)]))
  })

  it('a variable frame rate clip keeps each frame\'s own time; --fps picks the first frame of each slot', async () => {
    const times = Array.from({length: 24}, (_, n) => vfrTime(n))
    for (const fps of [undefined, 10, 4]) {
      const out = path.join(work, `vfr-${fps ?? 'all'}.csv`)
      await run({inputs: [path.join(work, 'vfr.mkv')], out, video: {fps}})
      const rows = rowsOf(out)
      const want = fps === undefined ? times.map((_, n) => n) : framesSampledAt(times, fps)
      if (fps === 4) expect(want.length).toBeLessThan(24) // the slot rule does drop frames here
      expect(rows.map((r) => Number(r.frame)), `--fps ${fps}`).toEqual(want)
      expect(rows.map((r) => r.time_s)).toEqual(want.map((n) => times[n]!.toFixed(6)))
      // Lossless RGB: the model sees the exact colour, so the probabilities are the tiny model's by hand.
      for (const r of rows) {
        const rgb = SEVEN_COLORS[Number(r.frame) % 7]! as Rgb
        const p = softmax(Float32Array.from(expectedLogits(SEVEN_CLASS_SPEC, rgb)), 7)
        NAMES.forEach((n, k) => expect(Number(r[probColumn(n)])).toBeCloseTo(p[k]!, 4))
        expect(r.pred_name).toBe(NAMES[Number(r.frame) % 7])
      }
    }
  })

  it('images and videos in one run: one CSV in path order, image rows with empty frame columns', async () => {
    const dir = path.join(work, 'mixed')
    const {mkdirSync, copyFileSync} = await import('node:fs')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, 'a.png'), await solidImage('png', SEVEN_COLORS[3]!, 40, 40))
    copyFileSync(path.join(work, 'cfr.mp4'), path.join(dir, 'b.mp4'))
    writeFileSync(path.join(dir, 'c.png'), await solidImage('png', SEVEN_COLORS[5]!, 40, 40))
    const out = path.join(work, 'mixed.csv')
    const s = await run({inputs: [dir], out, video: {fps: 2.5}})
    const file = parsePredictionsCsv(readFileSync(out))
    expect(file.columns.slice(0, 6)).toEqual(['path', 'frame', 'time_s', 'track', 'status', 'error'])
    const paths = file.rows.map((r) => path.basename(r.path!))
    expect(paths).toEqual(['a.png', 'b.mp4', 'b.mp4', 'b.mp4', 'b.mp4', 'b.mp4', 'c.png'])
    expect(file.rows[0]).toMatchObject({frame: '', time_s: '', track: '', status: 'ok', pred_name: NAMES[3]})
    expect(file.rows[6]).toMatchObject({frame: '', time_s: '', track: '', status: 'ok', pred_name: NAMES[5]})
    expect(file.rows.slice(1, 6).map((r) => r.frame)).toEqual(['0', '10', '20', '30', '40'])
    expect(s.ok).toBe(7)
    expect(s.images).toBe(3)
  })
})

describe('predict on videos: faces and tracks', () => {
  it('two faces moving apart keep their track ids; frames without faces are no_face rows', async () => {
    const A = SEVEN_COLORS[1]! // green, moving left
    const B = SEVEN_COLORS[5]! // magenta, moving right
    const clip = path.join(work, 'two.mp4')
    await makeClip(clip, {
      width: 320, height: 160, frames: 40, fps: 20,
      draw: (n) => (n >= 32 ? [] : [
        {x: 120 - 3 * n, y: 50, size: 40, rgb: A},
        {x: 164 + 3 * n, y: 50 + (n % 3), size: 40, rgb: B},
      ]),
    })
    const out = path.join(work, 'two.csv')
    const s = await run({inputs: [clip], out, video: {fps: 10, faceStage: async () => squareFaceStage()}})
    const rows = rowsOf(out)
    const faces = rows.filter((r) => r.status === 'ok')
    const byColour = new Map<string, Set<string>>()
    for (const r of faces) byColour.set(r.pred_name!, new Set([...(byColour.get(r.pred_name!) ?? []), r.track!]))
    expect([...byColour.keys()].sort()).toEqual([NAMES[1], NAMES[5]].sort())
    expect(byColour.get(NAMES[1]!)).toEqual(new Set(['0'])) // the left face is found first: track 0, throughout
    expect(byColour.get(NAMES[5]!)).toEqual(new Set(['1']))
    expect(faces).toHaveLength(2 * 16)
    expect(faces.filter((r) => r.face === '0').every((r) => r.pred_name === NAMES[1])).toBe(true)
    const noFace = rows.filter((r) => r.status === 'no_face')
    expect(noFace.map((r) => r.frame)).toEqual(['32', '34', '36', '38'])
    expect(noFace.every((r) => r.faces === '0' && r.track === '')).toBe(true)
    expect(s.videos[0]!.tracks.map((t) => [t.track, t.dominant, t.frames])).toEqual([[0, NAMES[1], 16], [1, NAMES[5], 16]])
    expect(s.videos[0]!.no_face_frames).toBe(4)
    expect([s.ok, s.no_face, s.errors, s.frames]).toEqual([16, 4, 0, 20])
  })
})

describe('predict on videos: bad input and shards', () => {
  it('unreadable and truncated videos are error rows with ffmpeg\'s reason; a clip without faces gives no_face rows', async () => {
    const dir = path.join(work, 'bad')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, 'a-text.mp4'), 'not a video\n')
    const full = path.join(work, 'fs.mp4')
    await makeClip(full, {width: 64, height: 48, frames: 40, fps: 20, faststart: true, draw: (n) => SEVEN_COLORS[n % 7]!})
    const bytes = readFileSync(full)
    writeFileSync(path.join(dir, 'b-cut.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.6)))
    await makeClip(path.join(dir, 'c-dark.mp4'), {width: 64, height: 48, frames: 20, fps: 20, draw: () => [5, 5, 5]})
    const out = path.join(work, 'bad.csv')
    const s = await run({inputs: [dir], out, video: {fps: 5, faceStage: async () => squareFaceStage()}})
    const rows = rowsOf(out)
    const of = (name: string) => rows.filter((r) => r.path.endsWith(name))
    expect(of('a-text.mp4')).toEqual([expect.objectContaining({status: 'error', frame: '', error: 'unreadable video: ffmpeg: moov atom not found; Invalid data found when processing input'})])
    const cut = of('b-cut.mp4')
    expect(cut.slice(0, -1).every((r) => r.status === 'ok')).toBe(true)
    expect(cut.slice(0, -1).map((r) => r.frame)).toEqual(['0', '4', '8', '12', '16', '20'].slice(0, cut.length - 1))
    expect(cut.length).toBeGreaterThan(2)
    expect(cut[cut.length - 1]).toMatchObject({status: 'error', frame: ''})
    expect(cut[cut.length - 1]!.error).toMatch(/^video broke off after frame \d+ \(truncated or damaged\?\): ffmpeg: stream 0, offset 0x[0-9a-f]+: partial file/)
    expect(of('c-dark.mp4')).toEqual(['0', '4', '8', '12', '16'].map((f, k) => expect.objectContaining({status: 'no_face', frame: f, time_s: (k * 0.2).toFixed(6), faces: '0'})))
    expect(s.videos.map((v) => [path.basename(v.path), v.status, v.frames, v.no_face_frames])).toEqual([
      ['a-text.mp4', 'error', 0, 0],
      ['b-cut.mp4', 'damaged', cut.length - 1, 0],
      ['c-dark.mp4', 'ok', 5, 5],
    ])
    expect(s.videos[0]!.timeline).toBeNull()
    expect(s.videos[2]!.tracks).toEqual([])
  })

  it('shards split by file: each video whole in one shard, both shards with the same header, together the unsharded rows', async () => {
    const dir = path.join(work, 'shards')
    const {mkdirSync, copyFileSync} = await import('node:fs')
    mkdirSync(dir, {recursive: true})
    for (const n of ['v1', 'v2', 'v3', 'v4']) copyFileSync(path.join(work, 'cfr.mp4'), path.join(dir, `${n}.mp4`))
    writeFileSync(path.join(dir, 'i.png'), await solidImage('png', SEVEN_COLORS[0]!, 20, 20))
    const all = path.join(work, 'unsharded.csv')
    await run({inputs: [dir], out: all, video: {fps: 2}})
    const parts = []
    for (const index of [0, 1]) {
      const out = path.join(work, `shard-${index}.csv`)
      await run({inputs: [dir], out, video: {fps: 2}, shard: {index, count: 2, source: '--shard'}})
      parts.push(parsePredictionsCsv(readFileSync(out)))
    }
    const whole = parsePredictionsCsv(readFileSync(all))
    expect(parts[0]!.columns).toEqual(whole.columns)
    expect(parts[1]!.columns).toEqual(whole.columns)
    const paths = parts.map((p) => new Set(p.rows.map((r) => r.path)))
    for (const p of paths[0]!) expect(paths[1]!.has(p)).toBe(false)
    const key = (r: Record<string, string>) => JSON.stringify(r)
    expect([...parts[0]!.rows, ...parts[1]!.rows].map(key).sort()).toEqual(whole.rows.map(key).sort())
    expect(paths[0]!.size + paths[1]!.size).toBe(5)
    // poster merge keeps each video's rows together: the merged shards are the unsharded file, byte for byte.
    const {mergePredictions: merge} = await import('../../src/pipeline/merge.js')
    const merged = path.join(work, 'merged.csv')
    const m = await merge({files: [path.join(work, 'shard-1.csv'), path.join(work, 'shard-0.csv')], out: merged, inputs: [dir]})
    expect(readFileSync(merged, 'utf8')).toBe(readFileSync(all, 'utf8'))
    expect(m).toMatchObject({rows: whole.rows.length, ok: whole.rows.length, errors: 0, duplicates: 0, missing: 0})
    // A shard run twice: the copy's rows are dropped as duplicates, whole blocks.
    copyFileSync(path.join(work, 'shard-0.csv'), path.join(work, 'shard-0-again.csv'))
    const again = await merge({files: [path.join(work, 'shard-0.csv'), path.join(work, 'shard-1.csv'), path.join(work, 'shard-0-again.csv')], out: merged, force: true})
    expect(readFileSync(merged, 'utf8')).toBe(readFileSync(all, 'utf8'))
    expect(again).toMatchObject({rows: whole.rows.length, duplicates: parts[0]!.rows.length, conflicting_duplicates: 0})
  })
})

describe('predict on videos: a run that fails part-way', () => {
  it('stops ffmpeg (no child left blocked on its pipe)', async () => {
    const {readdirSync, existsSync} = await import('node:fs')
    const ffmpegChildren = () =>
      readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
          return ppid === process.pid && stat.includes('(ffmpeg)')
        } catch {
          return false
        }
      })
    if (!existsSync('/proc/self/stat')) return // no procfs: nothing to look at
    const clip = path.join(work, 'long.mp4')
    await makeClip(clip, {width: 320, height: 240, frames: 90, fps: 30, draw: (n) => SEVEN_COLORS[n % 7]!})
    await expect(
      run({inputs: [clip], out: path.join(work, 'fails.csv'), video: {}, onBatch: () => Promise.reject(new Error('disk full (test)'))}),
    ).rejects.toThrow(/disk full/)
    for (let i = 0; i < 50 && ffmpegChildren().length > 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(ffmpegChildren()).toEqual([])
  })
})
