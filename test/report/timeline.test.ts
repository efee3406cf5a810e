import {describe, expect, it} from 'vitest'

import {decodeRaw, svgToPng} from '../../src/image/sharp.js'
import {classColors} from '../../src/report/charts.js'
import {binSteps, joinRuns, timelineSvg, timeTicks} from '../../src/report/timeline.js'
import {summarizeTracks, trackRuns, VideoSeries} from '../../src/video/series.js'

const NAMES = ['Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger', 'Neutral']

function series(frames: number, step: number): VideoSeries {
  const s = new VideoSeries()
  for (let k = 0; k < frames; k++) {
    s.addFrame(k, k * step, 'ok')
    const happy = k < frames / 2
    s.addFace(0, happy ? [0, 0, 0, 0.9, 0, 0, 0.1] : [0, 0, 0, 0.1, 0, 0, 0.9])
    if (k % 10 < 5) s.addFace(1, [0, 0, 0, 0, 0, 1, 0])
  }
  return s
}

function input(s: VideoSeries, end: number) {
  const runs = trackRuns(s, {end})
  return {
    title: 'clip.mp4',
    classNames: NAMES,
    duration: end,
    frames: s.frames.length,
    tracks: summarizeTracks(s, NAMES, {end}).map((t) => ({summary: t, runs: runs.get(t.track)!})),
  }
}

describe('classColors', () => {
  it('fixed colours for emotion words in any spelling and order, others from a categorical palette', () => {
    expect(classColors(['Anger', 'happy'])).toEqual(['#d62728', '#f2b701'])
    expect(classColors(['angry', 'Happiness'])).toEqual(['#d62728', '#f2b701'])
    expect(classColors(['cat', 'Neutral', 'dog'])).toEqual(['#4e79a7', '#9d9d9d', '#f28e2b'])
  })
})

describe('timeline', () => {
  it('ticks at 1/2/5 steps', () => {
    expect(timeTicks(10)).toEqual([0, 2, 4, 6, 8, 10])
    expect(timeTicks(1.2)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1, 1.2])
  })

  it('bins steps to pixel columns with time-weighted means', () => {
    const b = binSteps([{t0: 0, t1: 1, probs: [1, 0]}, {t0: 1, t1: 4, probs: [0, 1]}, {t0: 10, t1: 11, probs: [1, 0]}], 5)
    expect(b).toEqual([{t0: 0, t1: 4, probs: Float64Array.from([0.25, 0.75])}, {t0: 10, t1: 11, probs: Float64Array.from([1, 0])}])
  })

  it('draws one area per class per run and a strip per dominant change, in the class colours', () => {
    const svg = timelineSvg(input(series(40, 0.1), 4))
    expect(svg).toMatch(/^<svg [^>]*width="960"/)
    // Track 0: one run (always there) × 7 classes; track 1: 4 runs (5 frames on, 5 off) × 7.
    expect(svg.match(/<path /g)).toHaveLength(7 + 4 * 7)
    // Track 0 is Happiness then Neutral: two strip rectangles in those colours; track 1 Anger in each run.
    const strips = [...svg.matchAll(/<g class="dominant">(.*?)<\/g>/g)].map((m) => [...m[1]!.matchAll(/fill="(#[0-9a-f]+)"/g)].map((f) => f[1]))
    expect(strips).toEqual([['#f2b701', '#9d9d9d'], ['#d62728', '#d62728', '#d62728', '#d62728']])
    expect(svg).toContain('track 0')
    expect(svg).toContain('Happiness 50%')
    expect(svg).toContain('Anger 100%')
  })

  it('a long clip stays small (frames averaged per pixel column) and renders to a PNG', async () => {
    const svg = timelineSvg(input(series(20_000, 1 / 30), 20_000 / 30))
    expect(svg.length).toBeLessThan(600_000)
    const png = await svgToPng(svg)
    const img = await decodeRaw(png)
    expect(img.width).toBe(960)
    expect(img.height).toBeGreaterThan(200)
  })
})

describe('joinRuns', () => {
  it('joins runs closer than a pixel column, runs of any length (push(...run) overflowed past ~100,000 steps)', () => {
    const probs = [1, 0]
    const long = Array.from({length: 200_000}, (_, i) => ({t0: 1 + i * 0.01, t1: 1 + (i + 1) * 0.01, probs}))
    const joined = joinRuns([[{t0: 0, t1: 0.995, probs}], long, [{t0: 5000, t1: 5001, probs}]], 0.01)
    expect(joined.map((r) => r.length)).toEqual([200_001, 1])
    expect(joined[0]![200_000]).toBe(long[199_999])
  })
})
