import {describe, expect, it} from 'vitest'

import {frameDurations, summarizeTracks, trackRuns, VideoSeries} from '../../src/video/series.js'
import {ProbabilitySmoother} from '../../src/video/smooth.js'

describe('frameDurations', () => {
  it('each frame until the next; the last for the median interval, capped by the clip end', () => {
    for (const d of frameDurations([0, 0.2, 0.4, 0.6])) expect(d).toBeCloseTo(0.2, 12)
    expect(frameDurations([0, 1, 2], 2.5)).toEqual([1, 1, 0.5])
    expect(frameDurations([0, 1, 2], 10)).toEqual([1, 1, 1])
    expect(frameDurations([3], 5)).toEqual([2])
    expect(frameDurations([3])).toEqual([0])
    expect(frameDurations([])).toEqual([])
  })
})

describe('summarizeTracks', () => {
  const names = ['A', 'B', 'C']
  const s = new VideoSeries()
  // t = 0, 1, 2, 3 (end 4): track 0 in every frame (A, A, B, A), track 1 in frames 1-2 (C, C), frame 3 smoothed B.
  const frames: Array<Array<[number, number[], number[]?]>> = [
    [[0, [0.8, 0.1, 0.1]]],
    [[0, [0.6, 0.3, 0.1]], [1, [0, 0.1, 0.9]]],
    [[0, [0.2, 0.7, 0.1]], [1, [0.1, 0.2, 0.7]]],
    [[0, [0.5, 0.4, 0.1], [0.3, 0.6, 0.1]]],
  ]
  frames.forEach((faces, k) => {
    s.addFrame(k * 10, k, 'ok')
    for (const [track, p, sm] of faces) s.addFace(track, p, sm ?? p)
  })
  s.addFrame(40, 4, 'no_face')

  it('seconds and share per dominant expression, by hand', () => {
    expect(summarizeTracks(s, names, {end: 5})).toEqual([
      {track: 0, first_s: 0, last_s: 3, frames: 4, seconds: 4, dominant: 'A', expressions: [{name: 'A', seconds: 3, share: 0.75}, {name: 'B', seconds: 1, share: 0.25}]},
      {track: 1, first_s: 1, last_s: 2, frames: 2, seconds: 2, dominant: 'C', expressions: [{name: 'C', seconds: 2, share: 1}]},
    ])
  })

  it('uses the smoothed probabilities when asked', () => {
    const t0 = summarizeTracks(s, names, {end: 5, smoothed: true})[0]!
    expect(t0.expressions).toEqual([{name: 'A', seconds: 2, share: 0.5}, {name: 'B', seconds: 2, share: 0.5}])
  })

  it('runs break where a frame lacks the track', () => {
    const runs = trackRuns(s, {end: 5})
    expect(runs.get(0)!.map((r) => r.map((st) => [st.t0, st.t1]))).toEqual([[[0, 1], [1, 2], [2, 3], [3, 4]]])
    expect(runs.get(1)!.map((r) => r.length)).toEqual([2])
  })
})

describe('ProbabilitySmoother', () => {
  it('an exponential moving average with time constant S, by hand', () => {
    const q = (x: number) => Number(x.toFixed(6))
    const sm = new ProbabilitySmoother(0.5, q)
    expect([...sm.next(0, 0, [1, 0])]).toEqual([1, 0])
    const a = 1 - Math.exp(-0.25 / 0.5)
    expect([...sm.next(0, 0.25, [0, 1])]).toEqual([q(1 - a), q(a)])
    // Another track starts from its own first value.
    expect([...sm.next(1, 0.25, [0.3, 0.7])]).toEqual([0.3, 0.7])
    // Resumed from the written values: the same next value.
    const resumed = new ProbabilitySmoother(0.5, q)
    resumed.observe(0, 0.25, [q(1 - a), q(a)])
    expect([...resumed.next(0, 1, [0.5, 0.5])]).toEqual([...sm.next(0, 1, [0.5, 0.5])])
  })

  it('refuses a non-positive time constant', () => {
    expect(() => new ProbabilitySmoother(0, Number)).toThrow(/positive/)
  })
})
