/**
 * report.html: one self-contained page (inline CSS and SVG, thumbnails as data: URIs, a CSP that forbids
 * loading anything) with the summary, per-class bars, confusion matrix, calibration and a gallery of the most
 * confident mistakes.
 */

import type {CalibrationBin, ClassificationMetrics} from '../metrics/types.js'
import {calibrationSvg, confusionSvg, perClassBarsSvg} from './charts.js'
import {deltaPp, fixed, int, pct} from './format.js'
import type {PredictionRow} from './predictions-csv.js'
import type {MistakeExample, ReportContext} from './types.js'
import {escapeXml as esc} from './xml.js'

export interface HtmlReportInput {
  context: ReportContext
  metrics: ClassificationMetrics
  /** Reliability bins (the calibration section is left out without them). */
  calibration?: readonly CalibrationBin[]
  /** Wrongly classified images; shown most confident first, at most `maxMistakes`. */
  mistakes?: readonly MistakeExample[]
  /** Default 24. */
  maxMistakes?: number
  /** Page heading; default "poster evaluation report". */
  title?: string
}

/** Only inline raster images are allowed as thumbnails; anything else (a URL, a path) is dropped. */
const DATA_IMAGE = /^data:image\/(?:png|jpeg|jpg|webp|gif);base64,[A-Za-z0-9+/=\s]*$/

export function isDataImageUri(s: string): boolean {
  return DATA_IMAGE.test(s)
}

/**
 * The most confident mistakes among prediction rows: ok rows with a label and a prediction that differ,
 * highest confidence first (ties by path), at most `limit`.
 */
export function mostConfidentMistakes(rows: readonly PredictionRow[], limit = 24): PredictionRow[] {
  return rows
    .filter((r) => r.status === 'ok' && r.label !== undefined && r.pred !== undefined && r.label !== r.pred)
    .map((r) => ({r, c: r.confidence ?? (r.probs && r.pred !== undefined ? r.probs[r.pred]! : 0)}))
    .sort((a, b) => b.c - a.c || (a.r.path < b.r.path ? -1 : a.r.path > b.r.path ? 1 : 0))
    .slice(0, Math.max(0, limit))
    .map(({r}) => r)
}

export const REPORT_CSS = `
:root{--ink:#1a1a1a;--muted:#5a5a5a;--line:#e2e2e2;--bg:#fafafa;--card:#ffffff;--accent:#2171b5;--warn-bg:#fff6d6;--warn:#8a6100;--bad:#b3261e;--good:#1e7b34}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:36px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.sub{color:var(--muted);margin:0 0 20px;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card .k{color:var(--muted);font-size:13px}
.card .v{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.card .n{color:var(--muted);font-size:12.5px}
.card.main{grid-column:span 2;border-color:var(--accent)}
.card.main .v{font-size:34px;color:var(--accent)}
.up{color:var(--good)}.down{color:var(--bad)}
.warn{background:var(--warn-bg);color:var(--warn);border:1px solid #e8c95a;border-radius:8px;padding:10px 14px;margin:12px 0}
.warn strong{color:#6b4a00}
table{border-collapse:collapse;background:var(--card);font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:5px 10px;text-align:left;vertical-align:top}
td.num,th.num{text-align:right}
table.facts td:first-child{color:var(--muted);white-space:nowrap}
table.facts td{overflow-wrap:anywhere}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px;display:inline-block;max-width:100%;overflow-x:auto}
.chart svg{display:block;max-width:100%;height:auto}
.row{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px}
.gallery figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
.gallery img,.gallery .noimg{display:block;width:100%;aspect-ratio:1/1;object-fit:cover;background:#eee}
.gallery .noimg{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:12px}
.gallery figcaption{padding:6px 8px;font-size:12.5px;line-height:1.35}
.gallery .path{color:var(--muted);font-size:11.5px;overflow-wrap:anywhere}
.gallery .pred{color:var(--bad);font-weight:600}
footer{color:var(--muted);font-size:12.5px;margin-top:40px}
`.trim()

function card(key: string, value: string, note?: string, cls = ''): string {
  return (
    `<div class="card${cls ? ' ' + cls : ''}"><div class="k">${esc(key)}</div><div class="v">${esc(value)}</div>` +
    (note ? `<div class="n">${note}</div>` : '') +
    '</div>'
  )
}

function summaryCards(context: ReportContext, m: ClassificationMetrics): string {
  const [lo, hi] = m.accuracy_ci95
  let note = `95% CI ${esc(fixed(lo * 100, 2))}–${esc(pct(hi))}`
  if (context.paperAccuracy !== undefined) {
    const d = m.accuracy - context.paperAccuracy
    const cls = d >= 0 ? 'up' : 'down'
    note +=
      `<br>paper ${esc(pct(context.paperAccuracy))} <span class="${cls}">(${esc(deltaPp(d))})</span>` +
      (context.paperSource ? `<br>${esc(context.paperSource)}` : '')
  }
  return [
    '<div class="cards">',
    card('Accuracy', pct(m.accuracy), note, 'main'),
    card('Mean class accuracy', pct(m.mean_class_accuracy)),
    card('Macro-F1', pct(m.macro_f1)),
    card('NLL', fixed(m.nll, 4), 'mean −log p(true class)'),
    card('ECE', pct(m.ece), '15 equal-width bins'),
    card('Images', int(context.nImages), `${esc(int(m.n_images))} scored, ${esc(int(context.nFailed))} failed`),
    '</div>',
  ].join('')
}

function factsTable(context: ReportContext): string {
  const rows: Array<[string, string]> = [['Model', `<code>${esc(context.model)}</code>`]]
  if (context.modelSha256) rows.push(['SHA-256', `<code>${esc(context.modelSha256)}</code>`])
  rows.push(['Dataset', esc(context.dataset)], ['Split', esc(context.split)])
  if (context.provider) rows.push(['Provider', esc(context.provider)])
  if (context.durationSeconds !== undefined) rows.push(['Duration', esc(`${fixed(context.durationSeconds, 1)} s`)])
  if (context.createdAt) rows.push(['Date', esc(context.createdAt)])
  if (context.toolVersion) rows.push(['poster', esc(context.toolVersion)])
  for (const [k, v] of context.extra ?? []) rows.push([esc(k), esc(v)])
  return `<table class="facts">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>`
}

function perClassTable(m: ClassificationMetrics): string {
  const head =
    '<tr><th>Class</th><th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th>' +
    '<th class="num">Support</th></tr>'
  const body = m.per_class
    .map(
      (c) =>
        `<tr><td>${esc(c.name)}</td><td class="num">${esc(pct(c.precision))}</td><td class="num">${esc(pct(c.recall))}</td>` +
        `<td class="num">${esc(pct(c.f1))}</td><td class="num">${esc(int(c.support))}</td></tr>`,
    )
    .join('')
  return `<table class="perclass">${head}${body}</table>`
}

function gallery(mistakes: readonly MistakeExample[], max: number): string {
  const shown = [...mistakes].sort((a, b) => b.confidence - a.confidence).slice(0, max)
  if (shown.length === 0) return '<p>No mistakes to show.</p>'
  const figs = shown.map((x) => {
    const img =
      x.thumbnail && isDataImageUri(x.thumbnail)
        ? `<img src="${esc(x.thumbnail.replace(/\s+/g, ''))}" alt="${esc(x.path)}" loading="lazy">`
        : '<div class="noimg">no thumbnail</div>'
    const trueProb = x.trueProb !== undefined ? ` (p ${esc(pct(x.trueProb, 1))})` : ''
    return (
      `<figure>${img}<figcaption>` +
      `<div>true <strong>${esc(x.trueName)}</strong>${trueProb}</div>` +
      `<div>predicted <span class="pred">${esc(x.predName)}</span> ${esc(pct(x.confidence, 1))}</div>` +
      `<div class="path">${esc(x.path)}</div>` +
      '</figcaption></figure>'
    )
  })
  const note =
    mistakes.length > shown.length ? `<p class="sub">The ${shown.length} most confident of ${int(mistakes.length)} shown.</p>` : ''
  return `${note}<div class="gallery">${figs.join('')}</div>`
}

/**
 * The opening of a self-contained report page, up to and including <main>: the one place its Content-Security-Policy
 * (nothing loaded from anywhere; images only as data: URIs; inline styles) and its stylesheet are written.
 */
export function reportOpening(title: string, extraCss = ''): string[] {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    `<title>${esc(title)}</title>`,
    `<style>${REPORT_CSS}${extraCss}</style>`,
    '</head>',
    '<body>',
    '<main>',
  ]
}

/** The whole HTML page. */
export function renderHtmlReport(input: HtmlReportInput): string {
  const {context, metrics: m} = input
  const title = input.title ?? 'poster evaluation report'
  const names = m.per_class.map((c) => c.name)
  const parts: string[] = []
  parts.push(
    ...reportOpening(`${title}: ${context.dataset} ${context.split}, ${pct(m.accuracy)}`),
    `<h1>${esc(title)}</h1>`,
    `<p class="sub">${esc(context.dataset)} · ${esc(context.split)} · <code>${esc(context.model)}</code>` +
      (context.createdAt ? ` · ${esc(context.createdAt)}` : '') +
      '</p>',
  )
  const warnings = context.warnings ?? []
  if (warnings.length > 0) {
    parts.push(
      '<section class="warnings">',
      ...warnings.map((w) => `<div class="warn" role="alert"><strong>Warning:</strong> ${esc(w)}</div>`),
      '</section>',
    )
  }
  parts.push('<section class="summary">', summaryCards(context, m), factsTable(context), '</section>')
  parts.push(
    '<section class="per-class">',
    '<h2>Per class</h2>',
    '<div class="row">',
    `<div class="chart">${perClassBarsSvg(m.per_class)}</div>`,
    perClassTable(m),
    '</div>',
    '</section>',
  )
  parts.push(
    '<section class="confusion">',
    '<h2>Confusion matrix</h2>',
    '<p class="sub">Rows are the true class, columns the predicted class; colour and percentage are the share of the row.</p>',
    `<div class="chart">${confusionSvg(names, m.confusion.counts, m.confusion.normalized)}</div>`,
    '</section>',
  )
  if (input.calibration && input.calibration.length > 0) {
    parts.push(
      '<section class="calibration">',
      '<h2>Calibration</h2>',
      '<p class="sub">Bars: accuracy of the images whose confidence falls in each bin; red: the gap to their mean ' +
        'confidence; dashed: perfect calibration. Counts above the bars.</p>',
      `<div class="chart">${calibrationSvg(input.calibration, m.ece)}</div>`,
      '</section>',
    )
  }
  if (input.mistakes !== undefined) {
    parts.push(
      '<section class="mistakes">',
      '<h2>Most confident mistakes</h2>',
      gallery(input.mistakes, input.maxMistakes ?? 24),
      '</section>',
    )
  }
  parts.push(
    `<footer>Generated by poster${context.toolVersion ? ' ' + esc(context.toolVersion) : ''}. ` +
      'This page is self-contained: it loads nothing from the network.</footer>',
    '</main>',
    '</body>',
    '</html>',
  )
  return parts.join('\n') + '\n'
}
