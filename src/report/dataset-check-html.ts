/**
 * The HTML page of `poster dataset check`: the verdict, a count per kind of problem, the train/held-out leakage
 * per class, and every pair (leakage, exact and near duplicates) side by side with thumbnails, then the other
 * problems as tables. Self-contained like eval's report (thumbnails are embedded data: URIs, nothing is loaded).
 */
import type {CheckResult, ImageRef} from '../dataset-tools/check.js'
import {int} from './format.js'
import {isDataImageUri, reportOpening} from './html.js'
import {escapeXml as esc} from './xml.js'

/** Thumbnails by `${split}\0${path}`. */
export type Thumbnails = ReadonlyMap<string, string>

export const thumbKey = (r: ImageRef): string => `${r.split}\0${r.path}`

const EXTRA_CSS = `
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.pair{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px}
.pair .imgs{display:flex;gap:8px}
.pair figure{margin:0;flex:1;min-width:0}
.pair img,.pair .noimg{display:block;width:100%;aspect-ratio:1/1;object-fit:contain;background:#eee}
.pair .noimg{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:12px}
.pair figcaption{font-size:11.5px;color:var(--muted);overflow-wrap:anywhere}
.pair .k{font-size:12.5px;margin-top:6px}
.bad{color:var(--bad);font-weight:600}
.ok{color:var(--good);font-weight:600}
`

function figure(r: ImageRef, thumbs: Thumbnails): string {
  const t = thumbs.get(thumbKey(r))
  const img = t && isDataImageUri(t) ? `<img src="${esc(t)}" alt="${esc(r.path)}" loading="lazy">` : '<div class="noimg">no thumbnail</div>'
  return `<figure>${img}<figcaption>${esc(r.split)} · ${esc(r.label ?? '')}<br>${esc(r.path)}</figcaption></figure>`
}

function pairCard(refs: readonly ImageRef[], note: string, thumbs: Thumbnails): string {
  return `<div class="pair"><div class="imgs">${refs.slice(0, 3).map((r) => figure(r, thumbs)).join('')}</div><div class="k">${note}</div></div>`
}

function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return ''
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`
}

export function renderCheckHtml(r: CheckResult, thumbs: Thumbnails, opts: {maxPairs?: number} = {}): string {
  const max = opts.maxPairs ?? 200
  const c = r.counts
  const p = r.problems
  const total = Object.values(c).reduce((a, b) => a + b, 0)
  const parts: string[] = [
    ...reportOpening(`poster dataset check: ${r.root}`, EXTRA_CSS),
    '<h1>poster dataset check</h1>',
    `<p class="sub"><code>${esc(r.root)}</code> · ${esc(r.format)} · ${esc(r.splits.map((s) => `${s.split} ${int(s.images)}`).join(', '))} images</p>`,
    r.clean ? '<p class="ok">Clean: no problems found.</p>' : `<p class="bad">${esc(int(total))} problems found.</p>`,
  ]
  const kinds: Array<[string, number]> = [
    ['labels outside the label set', c.labels],
    ['rows that cannot be used', c.rows],
    ['images listed more than once', c.listed_twice],
    ['listed but missing', c.missing],
    ['present but not listed', c.unlisted],
    ['unreadable', c.unreadable],
    ['truncated', c.truncated],
    ['exact duplicate groups', c.exact_duplicates],
    ['near duplicate pairs', c.near_duplicates],
    ['train/held-out leakage pairs', c.leakage_pairs],
  ]
  parts.push('<section>', table(['problem', 'count'], kinds.map(([k, v]) => [k, int(v)])), '</section>')

  if (c.leakage_pairs > 0) {
    parts.push('<section>', '<h2>Train / held-out leakage</h2>')
    parts.push(table(['class', 'held-out images with a copy in training', 'of', 'with another label'], r.leakage.per_class.map((x) => [x.name, int(x.held_out_images), int(x.of), int(x.label_differs)])))
    parts.push('<div class="pairs">')
    for (const l of r.leakage.pairs.slice(0, max)) {
      const note = `${l.kind === 'exact' ? 'exact copy' : `near copy, similarity ${l.similarity}`}${l.same_label ? '' : ' · <span class="bad">labels differ</span>'}`
      parts.push(pairCard([l.train, l.held_out], note, thumbs))
    }
    parts.push('</div>', '</section>')
  }
  if (c.exact_duplicates > 0) {
    parts.push('<section>', '<h2>Exact duplicates</h2>', '<div class="pairs">')
    for (const g of p.exact_duplicates.slice(0, max)) parts.push(pairCard(g.images, `${esc(g.scope)} · ${g.images.length} files · sha256 <code>${esc(g.sha256.slice(0, 16))}…</code>`, thumbs))
    parts.push('</div>', '</section>')
  }
  if (c.near_duplicates > 0) {
    parts.push('<section>', '<h2>Near duplicates</h2>', '<div class="pairs">')
    for (const x of p.near_duplicates.slice(0, max)) parts.push(pairCard([x.a, x.b], `${esc(x.scope)} · similarity ${x.similarity} · ${x.bits} hash bits apart`, thumbs))
    parts.push('</div>', '</section>')
  }
  const listSection = (title: string, head: string[], rows: string[][]) => {
    if (rows.length > 0) parts.push('<section>', `<h2>${esc(title)}</h2>`, table(head, rows), '</section>')
  }
  listSection('Labels outside the label set', ['where', 'problem'], p.labels.map((x) => [x.where, x.message]))
  listSection('Rows that cannot be used', ['where', 'problem'], p.rows.map((x) => [x.where, x.message]))
  listSection('Images listed more than once', ['image', 'lines', 'labels', ''], p.listed_twice.map((x) => [x.path, x.lines.join(', '), x.labels.join(' | '), x.conflict ? 'conflict' : 'repeat']))
  listSection('Listed but missing', ['split', 'path'], p.missing.map((x) => [x.split, x.path]))
  listSection('Present but not listed', ['path', 'why'], p.unlisted.map((x) => [x.path, x.why]))
  listSection('Unreadable', ['split', 'path', 'reason'], p.unreadable.map((x) => [x.split, x.path, x.reason]))
  listSection('Truncated', ['split', 'path'], p.truncated.map((x) => [x.split, x.path]))
  parts.push(`<footer>Generated by poster in ${esc(String(r.seconds))} s (${esc(String(r.images_per_second))} images/s). This page is self-contained: it loads nothing from the network.</footer>`, '</main>', '</body>', '</html>')
  return parts.join('\n') + '\n'
}
