/**
 * The report's charts as standalone SVG strings (explicit width/height/viewBox, sans-serif, escaped text), fit
 * to be inlined in HTML or turned into PNG by the image module. Colours: a sequential "Blues" scale (light to
 * dark, nearly perceptually uniform) for the confusion matrix; viridis samples for categorical bars.
 */

import {canonicalEmotion} from '../datasets/labels.js'
import type {CalibrationBin, PerClassMetrics} from '../metrics/types.js'
import {fixed, int} from './format.js'
import {escapeXml} from './xml.js'

// ---------------------------------------------------------------------------------------------------------------
// Small SVG helpers

export type Attrs = Record<string, string | number | undefined>

export const num = (x: number): string => {
  const s = fixed(Math.round(x * 10) / 10, 1)
  return s.endsWith('.0') ? s.slice(0, -2) : s
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`)
    .join('')
}

export function el(tag: string, a: Attrs, children?: string | string[]): string {
  if (children === undefined) return `<${tag}${attrs(a)}/>`
  const inner = Array.isArray(children) ? children.join('') : children
  return `<${tag}${attrs(a)}>${inner}</${tag}>`
}

export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return el('text', {x, y, ...a}, escapeXml(content))
}

export const tooltip = (s: string): string => `<title>${escapeXml(s)}</title>`

export function svgDoc(width: number, height: number, label: string, body: string[]): string {
  const w = Math.ceil(width)
  const h = Math.ceil(height)
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ` +
    `font-family="sans-serif" font-size="12" role="img" aria-label="${escapeXml(label)}">` +
    tooltip(label) +
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>` +
    body.join('') +
    '</svg>'
  )
}

/** Rough rendered width of a string in a sans-serif font (no font metrics available here). */
export function textWidth(s: string, fontSize: number): number {
  let em = 0
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0x2e80) em += 1.0 // CJK and other wide scripts, emoji
    else if (/[A-Z@%MW]/.test(ch)) em += 0.68
    else if (/[iljtf.,:;'!| ]/.test(ch)) em += 0.32
    else em += 0.56
  }
  return em * fontSize
}

/** Shorten a label for display ("Happine…"); the full name stays in the tooltip. */
function shorten(s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…'
}

// ---------------------------------------------------------------------------------------------------------------
// Colour

/** ColorBrewer "Blues" (9 classes), light to dark. */
const BLUES = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b']

const hexToRgb = (h: string): [number, number, number] => [
  parseInt(h.slice(1, 3), 16),
  parseInt(h.slice(3, 5), 16),
  parseInt(h.slice(5, 7), 16),
]
const rgbToHex = (rgb: readonly number[]): string =>
  '#' + rgb.map((c) => Math.round(Math.min(255, Math.max(0, c))).toString(16).padStart(2, '0')).join('')

/** The sequential colour for t in [0, 1] (0 = near white, 1 = dark blue). */
export function sequentialColor(t: number): string {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0
  const pos = x * (BLUES.length - 1)
  const i = Math.min(BLUES.length - 2, Math.floor(pos))
  const f = pos - i
  const a = hexToRgb(BLUES[i]!)
  const b = hexToRgb(BLUES[i + 1]!)
  return rgbToHex(a.map((c, k) => c + (b[k]! - c) * f))
}

/** WCAG relative luminance of a #rrggbb colour. */
export function luminance(hex: string): number {
  const lin = hexToRgb(hex).map((c) => {
    const s = c / 255
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * lin[0]! + 0.7152 * lin[1]! + 0.0722 * lin[2]!
}

/** White or near-black, whichever reads better on `fill`. */
export function textColorOn(fill: string): string {
  const l = luminance(fill)
  // Contrast with white (1.05 / (l + .05)) vs with #1a1a1a (l + .05) / (.0103 + .05): pick the larger.
  return 1.05 / (l + 0.05) > (l + 0.05) / 0.0603 ? '#ffffff' : '#1a1a1a'
}

export const INK = '#1a1a1a'
export const MUTED = '#555555'
export const GRID = '#e3e3e3'

/**
 * One colour per expression, the same in every chart and whatever the model's class order: the emotion words
 * (any of their spellings, see labels.ts) get fixed colours chosen to read as the expression (anger red,
 * happiness yellow, sadness blue, ...); other class names take Tableau 10 colours in class order.
 */
const EXPRESSION_COLORS: Record<string, string> = {
  neutral: '#9d9d9d',
  happy: '#f2b701',
  sad: '#3969ac',
  surprise: '#f28e2b',
  fear: '#7f3c8d',
  disgust: '#4b9b4b',
  anger: '#d62728',
  contempt: '#8c564b',
}
const TABLEAU10 = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']

/** The colour of each class, in class order (see EXPRESSION_COLORS). */
export function classColors(names: readonly string[]): string[] {
  let other = 0
  return names.map((n) => {
    const e = canonicalEmotion(n)
    return e ? EXPRESSION_COLORS[e]! : TABLEAU10[other++ % TABLEAU10.length]!
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Confusion matrix

export interface ConfusionSvgOptions {
  title?: string
}

/** Row-normalise counts (0 for an empty row). */
function rowNormalise(counts: readonly (readonly number[])[]): number[][] {
  return counts.map((r) => {
    const s = r.reduce((a, b) => a + b, 0)
    return r.map((c) => (s > 0 ? c / s : 0))
  })
}

/**
 * A row-normalised confusion heat map: rows are true classes, columns predicted classes; each cell shows its
 * share of the row and its count, on a light-to-dark blue scale with a legend; row totals on the right.
 */
export function confusionSvg(
  names: readonly string[],
  counts: readonly (readonly number[])[],
  normalized?: readonly (readonly number[])[],
  options: ConfusionSvgOptions = {},
): string {
  const n = names.length
  if (counts.length !== n || counts.some((r) => r.length !== n)) {
    throw new Error(`confusion matrix is not ${n}×${n} like its class names`)
  }
  const norm = normalized ?? rowNormalise(counts)
  const title = options.title ?? 'Confusion matrix (row-normalised)'
  const fs = 12
  const cell = Math.max(30, Math.min(72, Math.round(480 / Math.max(1, n))))
  const twoLines = cell >= 40
  const pctFont = Math.max(9, Math.min(14, Math.round(cell * 0.21)))
  const cntFont = Math.max(8, pctFont - 2)

  const shown = names.map((s) => shorten(s, 22))
  const labelW = Math.max(0, ...shown.map((s) => textWidth(s, fs)))
  const rotate = labelW > cell - 6
  const pad = 16
  const axisTitleW = 18
  const gridX = pad + axisTitleW + 8 + labelW + 8
  const gridY = 48
  const gridW = cell * n
  const gridH = cell * n
  const xLabelH = rotate ? labelW * Math.SQRT1_2 + fs * Math.SQRT1_2 + 10 : fs + 10
  const totals = counts.map((r) => r.reduce((a, b) => a + b, 0))
  const totalsW = Math.max(textWidth('row total', 10), ...totals.map((t) => textWidth(`n=${int(t)}`, 10))) + 14
  const legendX = gridX + gridW + totalsW + 12
  const legendW = 14
  const width = Math.max(legendX + legendW + 6 + textWidth('100%', 10) + pad, textWidth(title, 15) + 2 * pad)
  const height = gridY + gridH + xLabelH + 8 + fs + pad

  const body: string[] = []
  body.push(text(pad, 26, title, {'font-size': 15, 'font-weight': 'bold', fill: INK}))

  // Cells.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = norm[i]?.[j] ?? 0
      const c = counts[i]![j]!
      const fill = sequentialColor(v)
      const ink = textColorOn(fill)
      const x = gridX + j * cell
      const y = gridY + i * cell
      const cx = x + cell / 2
      const p = `${fixed(v * 100, 1)}%`
      const parts = [
        tooltip(`True ${names[i]} → predicted ${names[j]}: ${int(c)} (${p} of ${int(totals[i]!)})`),
        el('rect', {x, y, width: cell, height: cell, fill, stroke: '#ffffff', 'stroke-width': 1}),
      ]
      if (twoLines) {
        parts.push(
          text(cx, y + cell / 2 - 1, p, {'text-anchor': 'middle', 'font-size': pctFont, 'font-weight': 'bold', fill: ink}),
          text(cx, y + cell / 2 + cntFont + 2, int(c), {'text-anchor': 'middle', 'font-size': cntFont, fill: ink}),
        )
      } else {
        parts.push(
          text(cx, y + cell / 2 + cntFont / 3, int(c), {'text-anchor': 'middle', 'font-size': cntFont, fill: ink}),
        )
      }
      body.push(el('g', {class: 'cell'}, parts))
    }
  }
  body.push(el('rect', {x: gridX, y: gridY, width: gridW, height: gridH, fill: 'none', stroke: '#bbbbbb'}))

  // Row (true) labels and totals.
  for (let i = 0; i < n; i++) {
    const y = gridY + i * cell + cell / 2 + fs / 3
    body.push(
      el('text', {x: gridX - 8, y, 'text-anchor': 'end', fill: INK}, [tooltip(names[i]!), escapeXml(shown[i]!)]),
    )
    body.push(text(gridX + gridW + 8, y, `n=${int(totals[i]!)}`, {'font-size': 10, fill: MUTED}))
  }
  body.push(text(gridX + gridW + 8, gridY - 6, 'row total', {'font-size': 10, fill: MUTED}))

  // Column (predicted) labels.
  const ly = gridY + gridH + 8
  for (let j = 0; j < n; j++) {
    const cx = gridX + j * cell + cell / 2
    const label = [tooltip(names[j]!), escapeXml(shown[j]!)]
    if (rotate) {
      const y = ly + fs * 0.7
      body.push(el('text', {x: cx, y, 'text-anchor': 'end', transform: `rotate(-45 ${num(cx)} ${num(y)})`, fill: INK}, label))
    } else {
      body.push(el('text', {x: cx, y: ly + fs, 'text-anchor': 'middle', fill: INK}, label))
    }
  }

  // Axis titles.
  const titleY = gridY + gridH + xLabelH + 8 + fs * 0.8
  body.push(text(gridX + gridW / 2, titleY, 'Predicted', {'text-anchor': 'middle', 'font-size': 13, 'font-weight': 'bold', fill: INK}))
  const tx = pad + 13
  const ty = gridY + gridH / 2
  body.push(
    text(tx, ty, 'True', {
      'text-anchor': 'middle',
      'font-size': 13,
      'font-weight': 'bold',
      fill: INK,
      transform: `rotate(-90 ${num(tx)} ${num(ty)})`,
    }),
  )

  // Colour scale legend: 0% at the bottom, 100% at the top.
  const steps = 48
  const stepH = gridH / steps
  const legend: string[] = []
  for (let k = 0; k < steps; k++) {
    const t = (k + 0.5) / steps
    legend.push(
      el('rect', {x: legendX, y: gridY + gridH - (k + 1) * stepH, width: legendW, height: stepH + 0.3, fill: sequentialColor(t)}),
    )
  }
  body.push(el('g', {'shape-rendering': 'crispEdges'}, legend))
  body.push(el('rect', {x: legendX, y: gridY, width: legendW, height: gridH, fill: 'none', stroke: '#bbbbbb'}))
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = gridY + gridH - t * gridH
    body.push(el('line', {x1: legendX + legendW, y1: y, x2: legendX + legendW + 4, y2: y, stroke: MUTED}))
    body.push(text(legendX + legendW + 6, y + 3.5, `${t * 100}%`, {'font-size': 10, fill: MUTED}))
  }
  body.push(text(legendX + legendW / 2, gridY - 6, 'row %', {'text-anchor': 'middle', 'font-size': 10, fill: MUTED}))

  return svgDoc(width, height, title, body)
}

// ---------------------------------------------------------------------------------------------------------------
// Reliability diagram

export interface CalibrationSvgOptions {
  title?: string
}

const BAR_BLUE = '#3b6fb6'
const GAP_RED = '#d1495b'

/**
 * Reliability diagram: per confidence bin, a bar of the accuracy, a red overlay for the gap to the bin's mean
 * confidence, the bin's image count above it, and the diagonal of perfect calibration; ECE in the title.
 */
export function calibrationSvg(bins: readonly CalibrationBin[], ece: number, options: CalibrationSvgOptions = {}): string {
  const title = options.title ?? `Reliability diagram · ECE ${fixed(ece * 100, 2)}%`
  const pw = 420
  const ph = 360
  const left = 64
  const top = 70
  const right = 24
  const bottom = 84
  const width = left + pw + right
  const height = top + ph + bottom
  const sx = (v: number): number => left + Math.min(1, Math.max(0, v)) * pw
  const sy = (v: number): number => top + ph - Math.min(1, Math.max(0, v)) * ph

  const body: string[] = []
  body.push(text(16, 26, title, {'font-size': 15, 'font-weight': 'bold', fill: INK}))
  const total = bins.reduce((s, b) => s + b.count, 0)
  body.push(text(16, 44, `${int(total)} images in ${bins.length} equal-width confidence bins`, {'font-size': 11, fill: MUTED}))

  // Grid and ticks.
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1]
  for (const t of ticks) {
    body.push(el('line', {x1: sx(t), y1: top, x2: sx(t), y2: top + ph, stroke: GRID}))
    body.push(el('line', {x1: left, y1: sy(t), x2: left + pw, y2: sy(t), stroke: GRID}))
    body.push(el('line', {x1: sx(t), y1: top + ph, x2: sx(t), y2: top + ph + 5, stroke: INK}))
    body.push(el('line', {x1: left - 5, y1: sy(t), x2: left, y2: sy(t), stroke: INK}))
    body.push(text(sx(t), top + ph + 18, fixed(t, 1), {'text-anchor': 'middle', 'font-size': 11, fill: INK}))
    body.push(text(left - 8, sy(t) + 4, fixed(t, 1), {'text-anchor': 'end', 'font-size': 11, fill: INK}))
  }

  // Bars, gaps and counts (counts drawn last, haloed, so the diagonal never hides them).
  const countLabels: string[] = []
  const halo: Attrs = {stroke: '#ffffff', 'stroke-width': 3, 'stroke-linejoin': 'round', 'paint-order': 'stroke'}
  for (const b of bins) {
    if (b.count <= 0) continue
    const x0 = sx(b.lower)
    const x1 = sx(b.upper)
    const w = Math.max(1, x1 - x0)
    const tip = tooltip(
      `confidence ${fixed(b.lower, 3)}–${fixed(b.upper, 3)}: ${int(b.count)} images, ` +
        `accuracy ${fixed(b.accuracy * 100, 1)}%, mean confidence ${fixed(b.confidence * 100, 1)}%`,
    )
    const parts = [tip, el('rect', {x: x0, y: sy(b.accuracy), width: w, height: sy(0) - sy(b.accuracy), fill: BAR_BLUE, stroke: '#ffffff', 'stroke-width': 0.75})]
    const hi = Math.max(b.accuracy, b.confidence)
    const lo = Math.min(b.accuracy, b.confidence)
    if (hi - lo > 0) {
      parts.push(
        el('rect', {
          x: x0,
          y: sy(hi),
          width: w,
          height: sy(lo) - sy(hi),
          fill: GAP_RED,
          'fill-opacity': 0.35,
          stroke: GAP_RED,
          'stroke-width': 1,
        }),
      )
    }
    const label = int(b.count)
    const cx = x0 + w / 2
    const ly = sy(hi) - 4
    if (textWidth(label, 9) <= w - 2) {
      countLabels.push(text(cx, ly, label, {'text-anchor': 'middle', 'font-size': 9, fill: INK, ...halo}))
    } else {
      countLabels.push(
        text(cx + 3, ly, label, {'font-size': 9, fill: INK, ...halo, transform: `rotate(-90 ${num(cx + 3)} ${num(ly)})`}),
      )
    }
    body.push(el('g', {class: 'bin'}, parts))
  }

  // Diagonal and axes.
  body.push(el('line', {x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), stroke: MUTED, 'stroke-width': 1.5, 'stroke-dasharray': '6 4'}))
  body.push(el('path', {d: `M${num(left)} ${num(top)}V${num(top + ph)}H${num(left + pw)}`, fill: 'none', stroke: INK}))
  body.push(el('g', {class: 'counts'}, countLabels))
  body.push(text(left + pw / 2, top + ph + 40, 'Confidence (predicted-class probability)', {'text-anchor': 'middle', 'font-size': 13, fill: INK}))
  const ax = 20
  const ay = top + ph / 2
  body.push(text(ax, ay, 'Accuracy', {'text-anchor': 'middle', 'font-size': 13, fill: INK, transform: `rotate(-90 ${ax} ${num(ay)})`}))

  // Legend.
  const gy = top + ph + 62
  let gx = left
  const item = (swatch: string, label: string): void => {
    body.push(swatch)
    body.push(text(gx + 22, gy + 4, label, {'font-size': 11, fill: INK}))
    gx += 22 + textWidth(label, 11) + 18
  }
  item(el('rect', {x: gx, y: gy - 6, width: 16, height: 10, fill: BAR_BLUE}), 'Accuracy')
  item(el('rect', {x: gx, y: gy - 6, width: 16, height: 10, fill: GAP_RED, 'fill-opacity': 0.35, stroke: GAP_RED}), 'Gap to confidence')
  item(el('line', {x1: gx, y1: gy - 1, x2: gx + 16, y2: gy - 1, stroke: MUTED, 'stroke-width': 1.5, 'stroke-dasharray': '4 3'}), 'Perfect calibration')

  return svgDoc(width, height, title, body)
}

// ---------------------------------------------------------------------------------------------------------------
// Per-class bars

export interface PerClassBarsOptions {
  title?: string
}

const SERIES: Array<{key: 'recall' | 'precision' | 'f1'; label: string; color: string}> = [
  {key: 'recall', label: 'Recall', color: '#3b528b'},
  {key: 'precision', label: 'Precision', color: '#21918c'},
  {key: 'f1', label: 'F1', color: '#5ec962'},
]

/** Grouped bars of recall, precision and F1 per class (0–100%), with support under each class name. */
export function perClassBarsSvg(perClass: readonly PerClassMetrics[], options: PerClassBarsOptions = {}): string {
  const title = options.title ?? 'Per-class recall, precision and F1'
  const n = perClass.length
  const barW = Math.max(8, Math.min(22, Math.floor(480 / Math.max(1, n * 3.8))))
  const gap = Math.round(barW * 0.9)
  const groupW = 3 * barW + gap
  const fs = 12
  const shown = perClass.map((c) => shorten(c.name, 22))
  const labelW = Math.max(0, ...shown.map((s) => textWidth(s, fs)), ...perClass.map((c) => textWidth(`n=${int(c.support)}`, 10)))
  const rotate = labelW > groupW - 4
  const left = 60
  const top = 64
  const ph = 240
  const pw = n * groupW
  const right = 20
  const xLabelH = rotate ? (labelW + textWidth(' (n=00000)', fs)) * Math.SQRT1_2 + 16 : 2 * fs + 14
  const width = Math.max(left + pw + right, textWidth(title, 15) + 32, left + 280)
  const height = top + ph + xLabelH + 16
  const sy = (v: number): number => top + ph - Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * ph

  const body: string[] = []
  body.push(text(16, 26, title, {'font-size': 15, 'font-weight': 'bold', fill: INK}))
  // Legend.
  let gx = left
  for (const s of SERIES) {
    body.push(el('rect', {x: gx, y: 38, width: 12, height: 12, fill: s.color}))
    body.push(text(gx + 17, 48, s.label, {'font-size': 11, fill: INK}))
    gx += 17 + textWidth(s.label, 11) + 16
  }
  // Grid.
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    body.push(el('line', {x1: left, y1: sy(t), x2: left + pw, y2: sy(t), stroke: t === 0 ? INK : GRID}))
    body.push(text(left - 8, sy(t) + 4, `${t * 100}%`, {'text-anchor': 'end', 'font-size': 11, fill: INK}))
  }
  // Bars.
  perClass.forEach((c, i) => {
    const gx0 = left + i * groupW + gap / 2
    SERIES.forEach((s, k) => {
      const v = c[s.key]
      const x = gx0 + k * barW
      const parts = [
        tooltip(`${c.name} ${s.label.toLowerCase()}: ${fixed(v * 100, 2)}% (support ${int(c.support)})`),
        el('rect', {x: x + 0.5, y: sy(v), width: barW - 1, height: sy(0) - sy(v), fill: s.color}),
      ]
      if (barW >= 14) {
        parts.push(text(x + barW / 2, sy(v) - 3, fixed(v * 100, 0), {'text-anchor': 'middle', 'font-size': 9, fill: INK}))
      }
      body.push(el('g', {class: 'bar'}, parts))
    })
    const cx = gx0 + (3 * barW) / 2
    const ly = top + ph + 8
    if (rotate) {
      const y = ly + fs * 0.7
      body.push(
        el('text', {x: cx, y, 'text-anchor': 'end', transform: `rotate(-45 ${num(cx)} ${num(y)})`, fill: INK}, [
          tooltip(c.name),
          escapeXml(`${shown[i]} (n=${int(c.support)})`),
        ]),
      )
    } else {
      body.push(el('text', {x: cx, y: ly + fs, 'text-anchor': 'middle', fill: INK}, [tooltip(c.name), escapeXml(shown[i]!)]))
      body.push(text(cx, ly + 2 * fs + 3, `n=${int(c.support)}`, {'text-anchor': 'middle', 'font-size': 10, fill: MUTED}))
    }
  })
  body.push(el('line', {x1: left, y1: top, x2: left, y2: top + ph, stroke: INK}))
  return svgDoc(width, height, title, body)
}
