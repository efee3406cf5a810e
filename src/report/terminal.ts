/** The compact coloured summary `poster eval` prints: headline figures, per-class table, confusion counts. */

import chalk, {Chalk, type ChalkInstance} from 'chalk'
import type {ClassificationMetrics} from '../metrics/types.js'
import {deltaPp, fixed, int, pct} from './format.js'
import type {ReportContext} from './types.js'

export interface TerminalSummaryOptions {
  /**
   * Force colour on or off. Default: chalk's detection of the output (TTY, FORCE_COLOR, --no-color), and off
   * when NO_COLOR is set to a non-empty value.
   */
  color?: boolean
  /** Columns available (default: the terminal's width, else 100). */
  width?: number
  /** Leave out the confusion matrix. */
  noConfusion?: boolean
}

/** The chalk colour level for an explicit choice or the environment (NO_COLOR honoured). */
export function colorLevel(color?: boolean): 0 | 1 | 2 | 3 {
  if (color === false) return 0
  if (color === true) return chalk.level > 0 ? chalk.level : 1
  const noColor = process.env.NO_COLOR
  if (noColor !== undefined && noColor !== '') return 0
  return chalk.level
}

const width = (s: string): number => [...s].length
const padEnd = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)))
const padStart = (s: string, w: number): string => ' '.repeat(Math.max(0, w - width(s))) + s
const cut = (s: string, w: number): string => ([...s].length <= w ? s : [...s].slice(0, Math.max(1, w - 1)).join('') + '…')

/**
 * Column headers for the confusion matrix: the full names when they fit in `avail` columns, else the longest
 * unique prefixes that do, else class numbers (then `legend` says which is which).
 */
export function abbreviateNames(
  names: readonly string[],
  minColW: number,
  avail: number,
): {headers: string[]; colW: number; legend: boolean} {
  const n = names.length
  const maxLen = Math.max(0, ...names.map(width))
  for (let k = maxLen; k >= 3; k--) {
    const headers = names.map((s) => [...s].slice(0, k).join(''))
    const colW = Math.max(minColW, ...headers.map(width))
    if (new Set(headers.map((h) => h.toLowerCase())).size !== n) break
    if (n * (colW + 2) <= avail) return {headers, colW, legend: false}
  }
  const headers = names.map((_, i) => String(i))
  return {headers, colW: Math.max(minColW, String(n - 1).length), legend: true}
}

/** The summary as one string (ends with a newline). */
export function terminalSummary(
  context: ReportContext,
  metrics: ClassificationMetrics,
  options: TerminalSummaryOptions = {},
): string {
  const c: ChalkInstance = new Chalk({level: colorLevel(options.color)})
  const cols = options.width ?? (process.stdout.columns && process.stdout.columns > 20 ? process.stdout.columns : 100)
  const lines: string[] = []
  const names = metrics.per_class.map((p) => p.name)

  lines.push(`${c.bold(context.dataset)} ${c.dim('·')} ${context.split} ${c.dim('·')} ${c.dim(context.model)}`)
  for (const w of context.warnings ?? []) lines.push(c.yellow(`⚠ ${w}`))

  const [lo, hi] = metrics.accuracy_ci95
  let acc = `${c.bold('Accuracy')}  ${c.bold.cyan(pct(metrics.accuracy))}  ${c.dim(`95% CI ${fixed(lo * 100, 2)}–${pct(hi)}`)}`
  if (context.paperAccuracy !== undefined) {
    const d = metrics.accuracy - context.paperAccuracy
    const dc = d >= -0.0005 ? c.green : d >= -0.01 ? c.yellow : c.red
    acc += `   paper ${pct(context.paperAccuracy)}  ${dc(deltaPp(d))}`
  }
  lines.push(acc)
  lines.push(
    `Mean class acc ${pct(metrics.mean_class_accuracy)}   Macro-F1 ${pct(metrics.macro_f1)}   ` +
      `NLL ${fixed(metrics.nll, 4)}   ECE ${pct(metrics.ece)}`,
  )
  const failed = context.nFailed > 0 ? c.red(`${int(context.nFailed)} failed`) : `${int(context.nFailed)} failed`
  lines.push(`Images ${int(metrics.n_images)} scored, ${failed}`)
  lines.push('')

  // Per-class table.
  const nameW = Math.min(24, Math.max(5, ...names.map(width)))
  const hdr = [padEnd('Class', nameW), padStart('Precision', 9), padStart('Recall', 8), padStart('F1', 8), padStart('Support', 8)]
  lines.push(c.bold(hdr.join('  ')))
  for (const p of metrics.per_class) {
    const rc = p.recall < 0.5 ? c.red : p.recall < 0.7 ? c.yellow : (s: string): string => s
    lines.push(
      [
        padEnd(cut(p.name, nameW), nameW),
        padStart(pct(p.precision), 9),
        rc(padStart(pct(p.recall), 8)),
        padStart(pct(p.f1), 8),
        padStart(int(p.support), 8),
      ].join('  '),
    )
  }

  if (!options.noConfusion) {
    lines.push('')
    lines.push(c.bold('Confusion matrix') + c.dim(' (rows: true class, columns: predicted)'))
    const {counts} = metrics.confusion
    const digits = Math.max(1, ...counts.flat().map((v) => String(Math.round(v)).length))
    const {headers, colW, legend} = abbreviateNames(names, digits, cols - Math.min(16, Math.max(4, ...names.map(width))))
    const rowLabels = names.map((n, i) => (legend ? `${i} ${n}` : n))
    const rowW = Math.min(legend ? 20 : 16, Math.max(4, ...rowLabels.map(width)))
    lines.push(padEnd('', rowW) + headers.map((h) => '  ' + padStart(h, colW)).join(''))
    counts.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0)
      const label = rowLabels[i]!
      const cells = row.map((v, j) => {
        const s = padStart(String(Math.round(v)), colW)
        if (i === j) return '  ' + c.bold.green(s)
        if (v === 0) return '  ' + c.dim(s)
        const share = total > 0 ? v / total : 0
        return '  ' + (share >= 0.25 ? c.red(s) : share >= 0.1 ? c.yellow(s) : s)
      })
      lines.push(padEnd(cut(label, rowW), rowW) + cells.join(''))
    })
    if (legend) lines.push(c.dim(names.map((n, i) => `${i}=${n}`).join('  ')))
  }
  return lines.join('\n') + '\n'
}
