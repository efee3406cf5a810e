/** report.md for a run, and the check table for `poster check` / GITHUB_STEP_SUMMARY. */

import type {ClassificationMetrics} from '../metrics/types.js'
import {deltaPp, fixed, int, pct, signed} from './format.js'
import type {CheckResult, ReportContext} from './types.js'

/** Escape text for a GitHub-flavoured markdown table cell (pipes, emphasis and HTML characters; no line breaks). */
export function mdEscape(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/([\\`*_[\]<>|#~])/g, '\\$1')
}

/** Inline code for a cell (paths, hashes); falls back to escaped text when the value holds a backtick. */
export function mdCode(s: string): string {
  const oneLine = s.replace(/[\r\n]+/g, ' ')
  if (oneLine.includes('`')) return mdEscape(oneLine)
  return '`' + oneLine.replace(/\|/g, '\\|') + '`'
}

function table(header: string[], align: Array<'l' | 'r' | 'c'>, rows: string[][]): string {
  const sep = align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'))
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(sep), ...rows.map(line)].join('\n')
}

/** Paper comparison text: "paper 92.21%, −0.11 pp", or undefined when there is no paper figure. */
export function paperComparison(accuracy: number, paper: number | undefined): string | undefined {
  if (paper === undefined) return undefined
  return `paper ${pct(paper)}, ${deltaPp(accuracy - paper)}`
}

export interface ReportMarkdownOptions {
  /** Top heading; default "poster evaluation report". */
  title?: string
  /** Bins used for ECE (shown beside it); default 15. */
  eceBins?: number
}

/** The run's report.md. */
export function reportMarkdown(
  context: ReportContext,
  metrics: ClassificationMetrics,
  options: ReportMarkdownOptions = {},
): string {
  const names = metrics.per_class.map((c) => c.name)
  const out: string[] = []
  out.push(`# ${mdEscape(options.title ?? 'poster evaluation report')}`, '')

  const acc = [`**${pct(metrics.accuracy)}**`, `(95% CI ${fixed(metrics.accuracy_ci95[0] * 100, 2)}–${pct(metrics.accuracy_ci95[1])})`]
  const paper = paperComparison(metrics.accuracy, context.paperAccuracy)
  if (paper) acc.push(`· ${paper}${context.paperSource ? ` (${mdEscape(context.paperSource)})` : ''}`)

  const summary: string[][] = [
    ['Model', mdCode(context.model)],
  ]
  if (context.modelSha256) summary.push(['SHA-256', mdCode(context.modelSha256)])
  summary.push(['Dataset', mdEscape(context.dataset)], ['Split', mdEscape(context.split)])
  summary.push([
    'Images',
    `${int(context.nImages)} (${int(metrics.n_images)} scored, ${int(context.nFailed)} failed)`,
  ])
  summary.push(['Accuracy', acc.join(' ')])
  summary.push(['Mean class accuracy', pct(metrics.mean_class_accuracy)])
  summary.push(['Macro-F1', pct(metrics.macro_f1)])
  summary.push(['NLL', fixed(metrics.nll, 4)])
  summary.push(['ECE', `${pct(metrics.ece)} (${options.eceBins ?? 15} bins)`])
  if (context.provider) summary.push(['Provider', mdEscape(context.provider)])
  if (context.durationSeconds !== undefined) summary.push(['Duration', `${fixed(context.durationSeconds, 1)} s`])
  if (context.createdAt) summary.push(['Date', mdEscape(context.createdAt)])
  if (context.toolVersion) summary.push(['poster', mdEscape(context.toolVersion)])
  for (const [k, v] of context.extra ?? []) summary.push([mdEscape(k), mdEscape(v)])
  out.push(table(['', ''], ['l', 'l'], summary), '')

  for (const w of context.warnings ?? []) {
    out.push(`> ⚠️ **Warning:** ${mdEscape(w)}`, '')
  }

  out.push('## Per class', '')
  out.push(
    table(
      ['Class', 'Precision', 'Recall', 'F1', 'Support'],
      ['l', 'r', 'r', 'r', 'r'],
      metrics.per_class.map((c) => [mdEscape(c.name), pct(c.precision), pct(c.recall), pct(c.f1), int(c.support)]),
    ),
    '',
  )

  out.push('## Confusion matrix', '')
  out.push('Rows are the true class, columns the predicted class; each cell is the count and the share of its row.', '')
  const {counts, normalized} = metrics.confusion
  out.push(
    table(
      [mdEscape('true \\ pred'), ...names.map(mdEscape)],
      ['l', ...names.map((): 'r' => 'r')],
      names.map((n, i) => [
        mdEscape(n),
        ...names.map((_, j) => {
          const cell = `${int(counts[i]?.[j] ?? 0)} (${pct(normalized[i]?.[j] ?? 0, 1)})`
          return i === j ? `**${cell}**` : cell
        }),
      ]),
    ),
    '',
  )
  return out.join('\n')
}

function checkValue(c: CheckResult, v: number | undefined): string {
  if (v === undefined) return '–'
  return (c.unit ?? 'percent') === 'percent' ? pct(v) : fixed(v, 4)
}

/** now − baseline, as printed. */
export function checkDelta(c: CheckResult): number | undefined {
  if (c.delta !== undefined) return c.delta
  if (c.now === undefined || c.baseline === undefined) return undefined
  return c.now - c.baseline
}

function checkDeltaText(c: CheckResult): string {
  const d = checkDelta(c)
  return (c.unit ?? 'percent') === 'percent' ? deltaPp(d) : signed(d)
}

const VERDICT: Record<CheckResult['verdict'], string> = {pass: '✅ pass', fail: '❌ fail', skip: '⏭️ skipped'}

/** One-line tally: "All 3 checks passed.", "1 of 3 checks failed.", with skipped ones counted. */
export function checkSummaryLine(checks: readonly CheckResult[]): string {
  const failed = checks.filter((c) => c.verdict === 'fail').length
  const skipped = checks.filter((c) => c.verdict === 'skip').length
  const total = checks.length
  const skip = skipped > 0 ? ` (${skipped} skipped)` : ''
  if (total === 0) return 'No checks were run.'
  if (failed === 0) return `All ${total - skipped} ${total - skipped === 1 ? 'check' : 'checks'} passed${skip}.`
  return `${failed} of ${total} ${total === 1 ? 'check' : 'checks'} failed${skip}.`
}

export interface CheckTableOptions {
  /** A heading above the table (e.g. "poster check: RAF-DB"). */
  title?: string
}

/** The `poster check` table (figure | baseline | now | delta | verdict) followed by the tally. */
export function checkTableMarkdown(checks: readonly CheckResult[], options: CheckTableOptions = {}): string {
  const out: string[] = []
  if (options.title) out.push(`### ${mdEscape(options.title)}`, '')
  out.push(
    table(
      ['Figure', 'Baseline', 'Now', 'Delta', 'Verdict'],
      ['l', 'r', 'r', 'r', 'l'],
      checks.map((c) => [
        mdEscape(c.name),
        checkValue(c, c.baseline),
        checkValue(c, c.now),
        checkDeltaText(c),
        VERDICT[c.verdict] + (c.message ? `: ${mdEscape(c.message)}` : ''),
      ]),
    ),
    '',
  )
  const failed = checks.some((c) => c.verdict === 'fail')
  const line = checkSummaryLine(checks)
  out.push(failed ? `**${line}**` : line, '')
  return out.join('\n')
}
