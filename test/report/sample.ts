/** Shared fixtures for the report tests (not a test file itself). */

import type {CalibrationBin, ClassificationMetrics} from '../../src/metrics/types.js'
import type {ReportContext} from '../../src/report/types.js'

export const NAMES = ['Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger', 'Neutral']

export const COUNTS = [
  [288, 5, 3, 10, 4, 2, 17],
  [10, 40, 2, 4, 12, 3, 3],
  [8, 3, 100, 10, 15, 5, 19],
  [5, 0, 4, 1150, 7, 3, 16],
  [3, 6, 10, 14, 400, 2, 43],
  [6, 2, 9, 5, 4, 130, 6],
  [12, 1, 15, 25, 40, 2, 585],
]

export function metricsFrom(names: string[], counts: number[][]): ClassificationMetrics {
  const n = names.length
  const rowSum = counts.map((r) => r.reduce((a, b) => a + b, 0))
  const colSum = names.map((_, j) => counts.reduce((s, r) => s + r[j]!, 0))
  const total = rowSum.reduce((a, b) => a + b, 0)
  const correct = names.reduce((s, _, i) => s + counts[i]![i]!, 0)
  const per_class = names.map((name, i) => {
    const tp = counts[i]![i]!
    const precision = colSum[i]! > 0 ? tp / colSum[i]! : 0
    const recall = rowSum[i]! > 0 ? tp / rowSum[i]! : 0
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
    return {name, precision, recall, f1, support: rowSum[i]!}
  })
  const acc = correct / total
  return {
    accuracy: acc,
    mean_class_accuracy: per_class.reduce((s, c) => s + c.recall, 0) / n,
    macro_f1: per_class.reduce((s, c) => s + c.f1, 0) / n,
    per_class,
    confusion: {counts, normalized: counts.map((r, i) => r.map((c) => (rowSum[i]! > 0 ? c / rowSum[i]! : 0)))},
    nll: 0.31234,
    ece: 0.02104,
    accuracy_ci95: [acc - 0.0091, acc + 0.0089],
    n_images: total,
  }
}

export const METRICS = metricsFrom(NAMES, COUNTS)

export const CONTEXT: ReportContext = {
  model: 'models/poster_rafdb.onnx',
  modelSha256: 'ab'.repeat(32),
  dataset: 'RAF-DB',
  split: 'test',
  nImages: METRICS.n_images + 2,
  nFailed: 2,
  paperAccuracy: 0.9221,
  paperSource: 'POSTER++ paper, Table 4',
  createdAt: '2024-05-01T12:00:00Z',
}

export const BINS: CalibrationBin[] = Array.from({length: 15}, (_, k) => ({
  lower: k / 15,
  upper: (k + 1) / 15,
  count: k < 3 ? 0 : 17 * k,
  confidence: (k + 0.5) / 15,
  accuracy: Math.min(1, ((k + 0.5) / 15) * 0.9 + 0.05),
}))

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'])

/**
 * A strict-enough well-formedness check: every tag closed in order, attributes quoted, only known entities,
 * no raw '<' or '&' in text. `html` allows void elements and a doctype. Returns the problems found.
 */
export function wellFormedProblems(doc: string, html = false): string[] {
  const problems: string[] = []
  const stack: string[] = []
  let s = doc.replace(/^<\?xml[^?]*\?>/, '')
  if (html) s = s.replace(/^<!DOCTYPE html>/i, '')
  let i = 0
  let roots = 0
  while (i < s.length) {
    const lt = s.indexOf('<', i)
    const textPart = s.slice(i, lt === -1 ? s.length : lt)
    checkText(textPart, problems)
    if (lt === -1) break
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt)
      if (end === -1) return [...problems, 'unterminated comment']
      i = end + 3
      continue
    }
    const gt = findTagEnd(s, lt)
    if (gt === -1) return [...problems, `unterminated tag at ${lt}`]
    const tag = s.slice(lt + 1, gt)
    i = gt + 1
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim()
      const top = stack.pop()
      if (top !== name) problems.push(`</${name}> closes <${top}>`)
      continue
    }
    const m = /^([A-Za-z][\w:-]*)([\s\S]*?)(\/?)$/.exec(tag)
    if (!m) {
      problems.push(`bad tag <${tag.slice(0, 40)}>`)
      continue
    }
    const [, name, rest, selfClose] = m
    checkAttrs(rest!, problems, name!)
    if (stack.length === 0) roots++
    if (selfClose || (html && VOID.has(name!.toLowerCase()))) continue
    stack.push(name!)
    if (html && (name === 'style' || name === 'script')) {
      const end = s.indexOf(`</${name}>`, i)
      if (end === -1) return [...problems, `unterminated <${name}>`]
      i = end
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`)
  if (roots !== 1) problems.push(`${roots} root elements`)
  return problems
}

function findTagEnd(s: string, from: number): number {
  let q: string | undefined
  for (let k = from + 1; k < s.length; k++) {
    const ch = s[k]
    if (q) {
      if (ch === q) q = undefined
    } else if (ch === '"' || ch === "'") q = ch
    else if (ch === '>') return k
    else if (ch === '<') return -1
  }
  return -1
}

function checkText(t: string, problems: string[]): void {
  const bad = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(t)
  if (bad) problems.push(`bare & in text near "${t.slice(Math.max(0, bad.index - 20), bad.index + 20)}"`)
}

function checkAttrs(rest: string, problems: string[], tag: string): void {
  const re = /\s+([A-Za-z_:][\w:.-]*)(?:\s*=\s*("[^"]*"|'[^']*'))?/y
  let pos = 0
  const seen = new Set<string>()
  while (pos < rest.length) {
    if (/^\s*$/.test(rest.slice(pos))) break
    re.lastIndex = pos
    const m = re.exec(rest)
    if (!m) {
      problems.push(`bad attributes in <${tag}>: ${rest.slice(pos, pos + 40)}`)
      return
    }
    if (seen.has(m[1]!)) problems.push(`duplicate attribute ${m[1]} in <${tag}>`)
    seen.add(m[1]!)
    if (m[2]) {
      checkText(m[2], problems)
      if (m[2].slice(1, -1).includes('<')) problems.push(`raw < in attribute of <${tag}>`)
    }
    pos = re.lastIndex
  }
}
