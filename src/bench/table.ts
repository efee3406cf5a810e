/** The benchmark table: Markdown-ish aligned columns (valid Markdown, readable as plain text). */

export interface TableRow {
  measurement: string
  /** Batch size, or a short word when it does not apply. */
  batch?: number | string
  imagesPerSecond?: number
  msPerImage?: number
  peakRssMb?: number
  notes?: string
}

export const TABLE_COLUMNS = ['measurement', 'batch', 'images/s', 'ms/image', 'peak RSS MB', 'notes'] as const

const DASH = '—'

/** 3 significant digits for rates and times, no exponent: 1234 → "1234", 12.34 → "12.3", 0.1234 → "0.123". */
export function formatNumber(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return DASH
  const a = Math.abs(x)
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  if (a === 0) return '0'
  return x.toPrecision(3)
}

/** Seconds or milliseconds, whichever reads better. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return DASH
  return seconds < 1 ? `${formatNumber(seconds * 1000)} ms` : `${formatNumber(seconds)} s`
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return DASH
  return `${(bytes / 1e6).toFixed(1)} MB`
}

/** ×ratio with 2 decimals. */
export function formatRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? DASH : `×${r.toFixed(2)}`
}

function cells(row: TableRow): string[] {
  return [
    row.measurement,
    row.batch === undefined ? DASH : String(row.batch),
    formatNumber(row.imagesPerSecond),
    formatNumber(row.msPerImage),
    row.peakRssMb === undefined ? DASH : row.peakRssMb.toFixed(0),
    row.notes ?? '',
  ].map((c) => c.replace(/\|/g, '\\|'))
}

/** Numeric columns are right-aligned; text columns left-aligned. */
const RIGHT = [false, true, true, true, true, false]

export function formatTable(rows: readonly TableRow[]): string {
  const body = rows.map(cells)
  const head = [...TABLE_COLUMNS] as string[]
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => [...r[i]!].length)))
  const pad = (s: string, i: number) => {
    const gap = ' '.repeat(widths[i]! - [...s].length)
    return RIGHT[i] ? gap + s : s + gap
  }
  const line = (r: string[]) => `| ${r.map(pad).join(' | ')} |`
  const sep = `|${widths.map((w, i) => (RIGHT[i] ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`
  return [line(head), sep, ...body.map(line)].join('\n')
}
