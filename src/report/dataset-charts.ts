/**
 * The class-balance chart of `poster dataset info`: one panel per split, a horizontal bar per class (the class's
 * colour, its count and share written beside it) on the panel's own scale, and the official release's count as a
 * black tick where it is known, so a re-packaged copy that lost or gained images shows at a glance.
 */
import {classColors, el, GRID, INK, MUTED, svgDoc, text, textWidth, tooltip} from './charts.js'
import {int} from './format.js'

export interface BalanceSplit {
  split: string
  /** Images per class, in class order. */
  counts: readonly number[]
  /** The official release's count per class, where known. */
  official?: ReadonlyArray<number | undefined>
}

export function classBalanceSvg(classNames: readonly string[], splits: readonly BalanceSplit[], title = 'Images per class'): string {
  const fs = 12
  const rowH = 22
  const top = 70
  const labelW = Math.max(60, ...classNames.map((n) => textWidth(n, fs))) + 16
  const panelW = 230
  const gapW = 150
  const colors = classColors(classNames)
  const n = classNames.length
  const width = Math.max(16 + labelW + splits.length * (panelW + gapW), textWidth(title, 15) + 32)
  const hasOfficial = splits.some((s) => s.official?.some((v) => v !== undefined))
  const height = top + n * rowH + 24 + (hasOfficial ? 22 : 0)
  const body: string[] = [text(16, 26, title, {'font-size': 15, 'font-weight': 'bold', fill: INK})]
  classNames.forEach((name, c) => {
    body.push(text(16 + labelW - 10, top + c * rowH + rowH / 2 + 4, name, {'text-anchor': 'end', fill: INK}))
  })
  splits.forEach((s, k) => {
    const x0 = 16 + labelW + k * (panelW + gapW)
    const total = s.counts.reduce((a, b) => a + b, 0)
    const max = Math.max(1, ...s.counts, ...(s.official ?? []).map((v) => v ?? 0))
    const sx = (v: number) => x0 + (v / max) * panelW
    body.push(text(x0, top - 18, `${s.split} (${int(total)})`, {'font-weight': 'bold', fill: INK}))
    body.push(el('line', {x1: x0, y1: top - 4, x2: x0, y2: top + n * rowH, stroke: INK}))
    for (let t = 0.25; t <= 1; t += 0.25) body.push(el('line', {x1: sx(max * t), y1: top - 4, x2: sx(max * t), y2: top + n * rowH, stroke: GRID}))
    s.counts.forEach((v, c) => {
      const y = top + c * rowH + 3
      const off = s.official?.[c]
      const share = total > 0 ? (100 * v) / total : 0
      const tip = `${s.split} ${classNames[c]}: ${int(v)} images (${share.toFixed(1)}%)${off !== undefined ? `; official ${int(off)}` : ''}`
      const parts = [tooltip(tip), el('rect', {x: x0, y, width: Math.max(0, sx(v) - x0), height: rowH - 6, fill: colors[c]})]
      const differs = off !== undefined && off !== v
      const label = `${int(v)} · ${share.toFixed(1)}%${differs ? ` (official ${int(off)})` : ''}`
      parts.push(text(sx(Math.max(v, off ?? 0)) + 4, y + rowH / 2 + 1, label, {'font-size': 10, fill: differs ? '#b00020' : MUTED}))
      if (off !== undefined) {
        parts.push(el('line', {x1: sx(off), y1: y - 2, x2: sx(off), y2: y + rowH - 4, stroke: INK, 'stroke-width': 2}))
      }
      body.push(el('g', {class: 'bar'}, parts))
    })
  })
  if (hasOfficial) {
    const y = top + n * rowH + 26
    body.push(el('line', {x1: 16 + labelW, y1: y - 10, x2: 16 + labelW, y2: y + 2, stroke: INK, 'stroke-width': 2}))
    body.push(text(16 + labelW + 8, y, 'the official release\'s count (a count in red differs from it)', {'font-size': 11, fill: MUTED}))
  }
  return svgDoc(width, height, title, body)
}
