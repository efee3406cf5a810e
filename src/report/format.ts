/** Number formatting shared by the report writers. Fractions are in [0, 1]; "pp" means percentage points. */

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  return undefined
}

/** Fixed-point text with `digits` decimals, never an exponent, never "-0.00". */
export function fixed(x: number, digits: number): string {
  const nf = nonFinite(x)
  if (nf !== undefined) return nf
  let s: string
  if (Math.abs(x) < 1e21) {
    s = x.toFixed(digits)
  } else {
    // toFixed switches to exponent notation from 1e21 on; BigInt prints every digit.
    s = BigInt(Math.round(x)).toString() + (digits > 0 ? '.' + '0'.repeat(digits) : '')
  }
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s
}

/** A fraction as a percentage: pct(0.92213) = "92.21%". */
export function pct(x: number | undefined, digits = 2): string {
  if (x === undefined) return '–'
  const nf = nonFinite(x)
  if (nf !== undefined) return nf
  return `${fixed(x * 100, digits)}%`
}

/** A fraction as a bare percentage number (no % sign): pctNum(0.5) = "50.00". */
export function pctNum(x: number, digits = 2): string {
  return fixed(x * 100, digits)
}

/** A difference of fractions in percentage points, signed: "+0.31 pp", "−1.20 pp". */
export function deltaPp(d: number | undefined, digits = 2, minus = '−'): string {
  if (d === undefined) return '–'
  const nf = nonFinite(d)
  if (nf !== undefined) return nf
  const s = fixed(Math.abs(d) * 100, digits)
  const zero = Number(s) === 0
  return `${zero ? '±' : d > 0 ? '+' : minus}${s} pp`
}

/** A signed plain number: "+0.0123", "−0.0040". */
export function signed(d: number | undefined, digits = 4, minus = '−'): string {
  if (d === undefined) return '–'
  const nf = nonFinite(d)
  if (nf !== undefined) return nf
  const s = fixed(Math.abs(d), digits)
  const zero = Number(s) === 0
  return `${zero ? '±' : d > 0 ? '+' : minus}${s}`
}

/** Integer with thousands separators (narrow, locale-independent): 12345 → "12,345". */
export function int(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const s = String(Math.round(Math.abs(n)))
  return (n < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
