/**
 * A video's expressions over time as one SVG: a panel per face track with its class probabilities as stacked
 * areas (each frame a step as long as the time it stands for; gaps where the face was not seen), a strip under it
 * with the dominant expression, the track's summary beside it, one time axis, class colours as in every chart.
 * Long clips are drawn at the chart's resolution (frames falling in one pixel column are averaged, weighted by
 * time), so the file stays small whatever the clip's length.
 */
import type {TrackStep, TrackSummary} from '../video/series.js'
import {GRID, INK, MUTED, classColors, el, num, svgDoc, text, textWidth, tooltip} from './charts.js'
import {fixed} from './format.js'

export interface TimelineTrack {
  summary: TrackSummary
  /** Runs of consecutive frames (see trackRuns). */
  runs: TrackStep[][]
}

export interface TimelineInput {
  /** The video as the CSV names it. */
  title: string
  classNames: readonly string[]
  /** End of the time axis, seconds. */
  duration: number
  /** Sampled frames in the CSV. */
  frames: number
  /** --smooth seconds when the areas show smoothed probabilities. */
  smoothedS?: number
  /** A line under the title (ffmpeg's complaint about a damaged file). */
  note?: string
  tracks: TimelineTrack[]
}

/** Tracks drawn; more are summarised in one line (their rows are all in the CSV). */
export const MAX_TIMELINE_TRACKS = 12

const WIDTH = 960
const LEFT = 150
const RIGHT = 24
const PANEL_H = 64
const STRIP_H = 8
const PANEL_GAP = 22

/** Ticks at a "nice" step (1, 2, 5 × 10^k seconds) giving about `target` intervals. */
export function timeTicks(duration: number, target = 8): number[] {
  if (!(duration > 0)) return [0]
  const raw = duration / target
  const pow = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow
  const ticks: number[] = []
  for (let k = 0; k * step <= duration * (1 + 1e-9); k++) ticks.push(Number((k * step).toPrecision(12)))
  return ticks
}

function tickLabel(t: number, duration: number): string {
  if (duration >= 120) {
    const m = Math.floor(t / 60)
    const s = Math.round(t - m * 60)
    return `${m}:${String(s).padStart(2, '0')}`
  }
  const digits = t === Math.round(t) ? 0 : Math.abs(t * 10 - Math.round(t * 10)) < 1e-9 ? 1 : 2
  return `${fixed(t, digits)} s`
}

/** Merge steps into at most one per pixel column of width `secondsPerPixel` (time-weighted mean). */
export function binSteps(run: readonly TrackStep[], secondsPerPixel: number): TrackStep[] {
  if (run.length === 0) return []
  const out: TrackStep[] = []
  let acc: {t0: number; t1: number; sum: Float64Array; w: number; col: number} | undefined
  const flush = () => {
    if (!acc) return
    const probs = acc.w > 0 ? acc.sum.map((v) => v / acc!.w) : acc.sum
    out.push({t0: acc.t0, t1: acc.t1, probs})
    acc = undefined
  }
  for (const s of run) {
    const col = Math.floor(s.t0 / secondsPerPixel)
    const w = Math.max(s.t1 - s.t0, 1e-9)
    if (acc && acc.col !== col) flush()
    if (!acc) acc = {t0: s.t0, t1: s.t1, sum: new Float64Array(s.probs.length), w: 0, col}
    for (let k = 0; k < s.probs.length; k++) acc.sum[k]! += s.probs[k]! * w
    acc.w += w
    acc.t1 = s.t1
  }
  flush()
  return out
}

/** Runs separated by less than a pixel column drawn as one (a gap that small would not show, but cost paths). */
export function joinRuns(runs: readonly TrackStep[][], secondsPerPixel: number): TrackStep[][] {
  const out: TrackStep[][] = []
  for (const run of runs) {
    const last = out[out.length - 1]
    // Steps appended one by one: push(...run) overflows the stack for runs of more than ~100,000 steps.
    if (last && run.length > 0 && run[0]!.t0 - last[last.length - 1]!.t1 < secondsPerPixel) for (const step of run) last.push(step)
    else out.push(run.slice())
  }
  return out
}

const argmaxOf = (p: ArrayLike<number>): number => {
  let best = 0
  for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k
  return best
}

export function timelineSvg(input: TimelineInput): string {
  const names = input.classNames
  const colors = classColors(names)
  const duration = Math.max(input.duration, 1e-6)
  const pw = WIDTH - LEFT - RIGHT
  const sx = (t: number) => LEFT + (Math.min(Math.max(t, 0), duration) / duration) * pw
  const shown = input.tracks.slice(0, MAX_TIMELINE_TRACKS)
  const body: string[] = []

  const title = `Expressions over time: ${input.title}`
  body.push(text(16, 26, title.length > 110 ? `${title.slice(0, 107)}…` : title, {'font-size': 15, 'font-weight': 'bold', fill: INK}))
  const facts = [
    `${fixed(input.duration, 2)} s`,
    `${input.frames} sampled frame${input.frames === 1 ? '' : 's'}`,
    `${input.tracks.length} face track${input.tracks.length === 1 ? '' : 's'}`,
    input.smoothedS ? `probabilities smoothed over ${input.smoothedS} s` : 'raw probabilities',
  ]
  body.push(text(16, 46, facts.join(' · '), {'font-size': 12, fill: MUTED}))
  let y = 60
  if (input.note) {
    body.push(text(16, y + 4, input.note.length > 140 ? `${input.note.slice(0, 137)}…` : input.note, {'font-size': 11, fill: '#b00020'}))
    y += 16
  }
  // Legend.
  let lx = 16
  let ly = y + 4
  names.forEach((n, k) => {
    const w = 17 + textWidth(n, 11) + 14
    if (lx + w > WIDTH - RIGHT) {
      lx = 16
      ly += 18
    }
    body.push(el('rect', {x: lx, y: ly, width: 12, height: 12, fill: colors[k]}))
    body.push(text(lx + 17, ly + 10, n, {'font-size': 11, fill: INK}))
    lx += w
  })
  y = ly + 30

  const secondsPerPixel = duration / pw
  if (shown.length === 0) {
    body.push(el('rect', {x: LEFT, y, width: pw, height: PANEL_H, fill: '#f6f6f6', stroke: GRID}))
    body.push(text(LEFT + pw / 2, y + PANEL_H / 2 + 4, 'no face found in any sampled frame', {'text-anchor': 'middle', fill: MUTED}))
    y += PANEL_H + PANEL_GAP
  }
  for (const t of shown) {
    const top = y
    const s = t.summary
    body.push(el('rect', {x: LEFT, y: top, width: pw, height: PANEL_H, fill: '#fafafa', stroke: GRID}))
    for (const g of [0.5]) body.push(el('line', {x1: LEFT, y1: top + PANEL_H * (1 - g), x2: LEFT + pw, y2: top + PANEL_H * (1 - g), stroke: GRID}))
    body.push(text(LEFT - 10, top + 14, `track ${s.track}`, {'text-anchor': 'end', 'font-weight': 'bold', fill: INK}))
    body.push(text(LEFT - 10, top + 30, `${fixed(s.seconds, 1)} s, ${s.frames} frame${s.frames === 1 ? '' : 's'}`, {'text-anchor': 'end', 'font-size': 11, fill: MUTED}))
    if (s.expressions[0]) {
      const e = s.expressions[0]
      body.push(text(LEFT - 10, top + 46, `${e.name} ${fixed(e.share * 100, 0)}%`, {'text-anchor': 'end', 'font-size': 11, fill: INK}))
    }
    const areas: string[] = []
    const strip: string[] = []
    for (const run of joinRuns(t.runs, secondsPerPixel)) {
      const steps = binSteps(run, secondsPerPixel)
      if (steps.length === 0) continue
      // Stacked areas: class k fills between the sums of classes < k and ≤ k, one path per class per run.
      const cum = steps.map(() => 0)
      for (let k = 0; k < names.length; k++) {
        const lower = [...cum]
        steps.forEach((st, i) => (cum[i]! += Math.max(0, st.probs[k]!)))
        const yOf = (v: number) => top + PANEL_H * (1 - Math.min(1, v))
        const pts: string[] = []
        steps.forEach((st, i) => pts.push(`${num(sx(st.t0))},${num(yOf(cum[i]!))}`, `${num(sx(st.t1))},${num(yOf(cum[i]!))}`))
        for (let i = steps.length - 1; i >= 0; i--) {
          pts.push(`${num(sx(steps[i]!.t1))},${num(yOf(lower[i]!))}`, `${num(sx(steps[i]!.t0))},${num(yOf(lower[i]!))}`)
        }
        areas.push(el('path', {d: `M${pts.join('L')}Z`, fill: colors[k]}, tooltip(`track ${s.track}: ${names[k]}`)))
      }
      // Dominant-expression strip: one rectangle per change.
      let start = 0
      for (let i = 1; i <= steps.length; i++) {
        const k = argmaxOf(steps[start]!.probs)
        if (i < steps.length && argmaxOf(steps[i]!.probs) === k) continue
        const x0 = sx(steps[start]!.t0)
        const x1 = Math.max(sx(steps[i - 1]!.t1), x0 + 0.5)
        strip.push(
          el('rect', {x: x0, y: top + PANEL_H + 3, width: x1 - x0, height: STRIP_H, fill: colors[k]},
            tooltip(`${names[k]} ${fixed(steps[start]!.t0, 2)}–${fixed(steps[i - 1]!.t1, 2)} s`)),
        )
        start = i
      }
    }
    body.push(el('g', {class: 'areas'}, areas), el('g', {class: 'dominant'}, strip))
    y = top + PANEL_H + STRIP_H + PANEL_GAP
  }
  if (input.tracks.length > shown.length) {
    body.push(text(LEFT, y, `${input.tracks.length - shown.length} more tracks not drawn (all are in the CSV and the summary)`, {'font-size': 11, fill: MUTED}))
    y += 18
  }
  // Time axis.
  const axisY = y - PANEL_GAP + 14
  body.push(el('line', {x1: LEFT, y1: axisY, x2: LEFT + pw, y2: axisY, stroke: INK}))
  for (const tk of timeTicks(input.duration)) {
    if (tk > duration + 1e-9) continue
    body.push(el('line', {x1: sx(tk), y1: axisY, x2: sx(tk), y2: axisY + 4, stroke: INK}))
    body.push(text(sx(tk), axisY + 16, tickLabel(tk, input.duration), {'text-anchor': 'middle', 'font-size': 11, fill: INK}))
  }
  body.push(text(LEFT + pw / 2, axisY + 32, 'time in the video', {'text-anchor': 'middle', 'font-size': 11, fill: MUTED}))
  return svgDoc(WIDTH, axisY + 42, title, body)
}
