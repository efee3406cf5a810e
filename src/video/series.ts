/**
 * One video's rows as a time series (sampled frames, and each track's probabilities at the frames it is in), the
 * per-track summary built on it (seconds and share per dominant expression) and the steps the timeline draws.
 * Fed the same way by rows computed now and by rows a resumed run reads back, so both give the same summary.
 *
 * Time: each sampled frame stands for the time until the next sampled frame (the last one for the median
 * interval between sampled frames, capped by the clip's end), so a track's seconds add up to the time its face
 * was on screen as far as the sampling can tell, and the tracks of a one-face clip add up to its duration.
 * The dominant expression of a frame is the argmax of the smoothed probabilities when --smooth is on, else of
 * the raw ones.
 */
import {argmax} from '../metrics/classification.js'

export type FrameStatus = 'ok' | 'no_face' | 'error'

export interface SampledFrame {
  /** Frame number in the stream. */
  index: number
  time: number
  status: FrameStatus
}

export interface TrackPoint {
  /** Position of the frame in `frames`. */
  frame: number
  track: number
  probs: ArrayLike<number>
  smooth?: ArrayLike<number>
}

export class VideoSeries {
  readonly frames: SampledFrame[] = []
  readonly points: TrackPoint[] = []

  addFrame(index: number, time: number, status: FrameStatus): void {
    this.frames.push({index, time, status})
  }

  /** A face of the frame added last. */
  addFace(track: number, probs: ArrayLike<number>, smooth?: ArrayLike<number>): void {
    if (this.frames.length === 0) throw new Error('VideoSeries.addFace before any frame')
    this.points.push({frame: this.frames.length - 1, track, probs, smooth})
  }

  get tracks(): number[] {
    return [...new Set(this.points.map((p) => p.track))].sort((a, b) => a - b)
  }
}

/** Seconds each sampled frame stands for (see the module comment); `end` is the clip's duration when known. */
export function frameDurations(times: readonly number[], end?: number): number[] {
  const n = times.length
  const out = new Array<number>(n).fill(0)
  const gaps: number[] = []
  for (let i = 0; i + 1 < n; i++) {
    out[i] = Math.max(0, times[i + 1]! - times[i]!)
    gaps.push(out[i]!)
  }
  if (n > 0) {
    gaps.sort((a, b) => a - b)
    const median = gaps.length > 0 ? gaps[Math.floor((gaps.length - 1) / 2)]! : undefined
    const left = end !== undefined && Number.isFinite(end) ? end - times[n - 1]! : undefined
    let last = median ?? left ?? 0
    if (median !== undefined && left !== undefined && left > 0) last = Math.min(median, left)
    out[n - 1] = Math.max(0, last)
  }
  return out
}

export interface ExpressionTime {
  name: string
  seconds: number
  /** Of the track's seconds. */
  share: number
}

export interface TrackSummary {
  track: number
  /** Time of the first and last frame the track is in. */
  first_s: number
  last_s: number
  frames: number
  /** Seconds on screen (see the module comment). */
  seconds: number
  /** The expression with the most seconds (null for a track with no time). */
  dominant: string | null
  /** Seconds and share per dominant expression, most first; expressions never dominant are left out. */
  expressions: ExpressionTime[]
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d

/** Per-track summary of a series. */
export function summarizeTracks(
  series: VideoSeries,
  classNames: readonly string[],
  opts: {end?: number; smoothed?: boolean} = {},
): TrackSummary[] {
  const dur = frameDurations(series.frames.map((f) => f.time), opts.end)
  const byTrack = new Map<number, {first: number; last: number; frames: number; perClass: number[]}>()
  for (const p of series.points) {
    const f = series.frames[p.frame]!
    let s = byTrack.get(p.track)
    if (!s) {
      s = {first: f.time, last: f.time, frames: 0, perClass: new Array<number>(classNames.length).fill(0)}
      byTrack.set(p.track, s)
    }
    s.first = Math.min(s.first, f.time)
    s.last = Math.max(s.last, f.time)
    s.frames++
    const probs = opts.smoothed && p.smooth ? p.smooth : p.probs
    s.perClass[argmax(probs)]! += dur[p.frame]!
  }
  return [...byTrack.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([track, s]) => {
      const seconds = s.perClass.reduce((a, b) => a + b, 0)
      const expressions = s.perClass
        .map((sec, k) => ({name: classNames[k]!, seconds: round(sec, 3), share: seconds > 0 ? round(sec / seconds, 4) : 0, k}))
        .filter((e) => e.seconds > 0)
        .sort((a, b) => b.seconds - a.seconds || a.k - b.k)
        .map(({name, seconds: sec, share}) => ({name, seconds: sec, share}))
      return {
        track,
        first_s: round(s.first, 6),
        last_s: round(s.last, 6),
        frames: s.frames,
        seconds: round(seconds, 3),
        dominant: expressions[0]?.name ?? null,
        expressions,
      }
    })
}

/** One sampled frame of a track as the timeline draws it: [t0, t1) with its probabilities. */
export interface TrackStep {
  t0: number
  t1: number
  probs: ArrayLike<number>
}

/**
 * Each track's steps, split into runs of consecutive sampled frames (a frame of the video without the track
 * breaks the run, so the chart shows a gap where the face was not seen).
 */
export function trackRuns(series: VideoSeries, opts: {end?: number; smoothed?: boolean} = {}): Map<number, TrackStep[][]> {
  const dur = frameDurations(series.frames.map((f) => f.time), opts.end)
  const runs = new Map<number, TrackStep[][]>()
  const lastFrame = new Map<number, number>()
  for (const p of series.points) {
    const f = series.frames[p.frame]!
    const step: TrackStep = {t0: f.time, t1: f.time + dur[p.frame]!, probs: opts.smoothed && p.smooth ? p.smooth : p.probs}
    let list = runs.get(p.track)
    if (!list) runs.set(p.track, (list = []))
    const prev = lastFrame.get(p.track)
    if (prev !== undefined && prev === p.frame - 1) list[list.length - 1]!.push(step)
    else list.push([step])
    lastFrame.set(p.track, p.frame)
  }
  return runs
}
