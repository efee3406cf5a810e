/** The benchmark's video part on a tiny model and the quick clip: the measurement's shape, never the speeds. */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {benchRows} from '../../src/bench/report.js'
import {runBench} from '../../src/bench/run.js'
import {formatTable} from '../../src/bench/table.js'
import {VIDEO_CLIP} from '../../src/bench/video.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

let dir: string
let model: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-bench-video-test-'))
  model = await writeTinyModel(join(dir, 'tiny.onnx'), SEVEN_CLASS_SPEC)
})
afterAll(async () => {
  if (dir) await rm(dir, {recursive: true, force: true})
})

describe('bench video part', () => {
  it('runs predict --fps 5 on the generated clip in a child process and reports frames/s and the decode share', async () => {
    const r = await runBench({model, parts: ['video'], quick: true, threads: 1, workDir: dir})
    expect(r.errors).toEqual([])
    const v = r.video!
    expect(v).toMatchObject({size: '640x480', sourceFps: 30, sampleFps: 5, frames: VIDEO_CLIP.quickSeconds * 5})
    expect(v.framesPerSecond.median).toBeGreaterThan(0)
    expect(v.ffmpegCpuSeconds).toBeGreaterThan(0)
    expect(v.posterCpuSeconds).toBeGreaterThan(0)
    const s = v.samples[0]!
    expect(s.decodeShare).toBeCloseTo(s.ffmpegCpuSeconds / (s.ffmpegCpuSeconds + s.posterCpuSeconds), 12)
    expect(s.waitShare).toBeCloseTo(s.waitingSeconds / (s.waitingSeconds + s.inferenceSeconds), 12)
    expect(s.peakRssMb).toBeGreaterThan(0)
    const table = formatTable(benchRows(r))
    expect(table).toMatch(/predict video 640×480 30 fps H\.264, --fps 5 \(30 frames\)/)
    expect(table).toMatch(/decoding \d+\.\d% of CPU/)
  }, 120_000)
})
