import {describe, expect, it} from 'vitest'

import {FaceTracker, iou, type Box} from '../../src/video/track.js'

const box = (x: number, y: number, s = 40): Box => ({x, y, w: s, h: s})

describe('iou', () => {
  it('is computed by hand', () => {
    expect(iou(box(0, 0, 10), box(0, 0, 10))).toBe(1)
    expect(iou(box(0, 0, 10), box(5, 0, 10))).toBeCloseTo(50 / 150, 12)
    expect(iou(box(0, 0, 10), box(20, 0, 10))).toBe(0)
  })
})

describe('FaceTracker', () => {
  it('keeps ids for two faces moving apart, whatever order the detector lists them in', () => {
    const t = new FaceTracker()
    const ids: number[][] = []
    for (let k = 0; k < 20; k++) {
      const a = box(100 - 8 * k, 50)
      const b = box(150 + 8 * k, 50)
      ids.push(k % 2 ? t.update(k * 0.1, [b, a]) : t.update(k * 0.1, [a, b]))
    }
    ids.forEach((pair, k) => expect(pair, `frame ${k}`).toEqual(k % 2 ? [1, 0] : [0, 1]))
  })

  it('follows two faces that cross, by their motion, where a nearest-box match would swap them', () => {
    const t = new FaceTracker()
    const out: Array<Record<string, number>> = []
    // A moves right, B moves left at 30 px per frame, on the same row; they overlap in the middle frames.
    for (let k = 0; k < 12; k++) {
      const a = box(20 + 30 * k, 60)
      const b = box(350 - 30 * k, 60)
      const ids = t.update(k / 10, [a, b])
      out.push({a: ids[0]!, b: ids[1]!})
    }
    expect(out.every((o) => o.a === 0 && o.b === 1)).toBe(true)
  })

  it('a face gone for longer than 1 s and 3 frames gets a new id; a short gap keeps it', () => {
    const t = new FaceTracker()
    expect(t.update(0, [box(10, 10)])).toEqual([0])
    expect(t.update(0.1, [])).toEqual([])
    expect(t.update(0.5, [box(12, 10)])).toEqual([0]) // 0.4 s gap: same track
    for (let k = 1; k <= 12; k++) t.update(0.5 + k * 0.1, [])
    expect(t.live).toEqual([])
    expect(t.update(2, [box(12, 10)])).toEqual([1])
  })

  it('a new face far from every track starts a track; an implausible size jump is not the same face', () => {
    const t = new FaceTracker()
    expect(t.update(0, [box(0, 0)])).toEqual([0])
    expect(t.update(0.1, [box(0, 0), box(300, 0)])).toEqual([0, 1])
    expect(t.update(0.2, [box(0, 0, 200)])).toEqual([2])
  })

  it('replaying what update decided (observe) leaves the same state: a resumed run continues identically', () => {
    const frames: Box[][] = []
    for (let k = 0; k < 30; k++) frames.push([box(200 - 5 * k + (k % 3), 40), box(240 + 6 * k, 40 + (k % 2))].filter((_, i) => i === 0 || k % 9 !== 4))
    const live = new FaceTracker()
    const decided = frames.map((f, k) => live.update(k / 10, f))
    const replayed = new FaceTracker()
    for (let k = 0; k < 15; k++) replayed.observe(k / 10, frames[k]!, decided[k]!)
    for (let k = 15; k < 30; k++) expect(replayed.update(k / 10, frames[k]!)).toEqual(decided[k])
  })
})
