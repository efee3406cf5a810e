/**
 * Exact McNemar test for two classifiers scored on the same images.
 *
 * Only the discordant pairs matter: b = images the baseline got right and the current model got wrong
 * (right → wrong), c = wrong → right. Under H0 (no difference) each discordant pair is equally likely to go
 * either way, so min(b, c) ~ Bin(b + c, 1/2) and the two-sided exact p-value is
 *   p = min(1, 2 · P(X ≤ min(b, c))),  X ~ Bin(b + c, 1/2).
 * The binomial tail is computed in log space with Loader's saddle-point pmf (as R's dbinom does) and a
 * backward recurrence: no cancellation, no O(n) loss, and a relative error below ~1e-12 for every p-value a
 * double can hold (checked against exact BigInt sums up to n = 100 000); p-values below ~1e-308 underflow to 0.
 */

export interface McNemarResult {
  /** Discordant pairs right → wrong (baseline correct, current wrong). */
  b: number
  /** Discordant pairs wrong → right (baseline wrong, current correct). */
  c: number
  /** Number of discordant pairs, b + c (the binomial's n). */
  n: number
  /** Two-sided exact p-value in [0, 1]; 1 when n = 0. */
  pValue: number
}

const LN_2PI = Math.log(2 * Math.PI)
const LN_SQRT_2PI = 0.5 * LN_2PI

/** ln n! for a small non-negative integer n (exact product, n ≤ 170). */
function lnFactorialSmall(n: number): number {
  let f = 1
  for (let i = 2; i <= n; i++) f *= i
  return Math.log(f)
}

/** Stirling's error ln n! − ln(√(2πn)·(n/e)^n) for an integer n ≥ 1 (Loader 2000). */
function stirlerr(n: number): number {
  if (n <= 15) return lnFactorialSmall(n) - (n + 0.5) * Math.log(n) + n - LN_SQRT_2PI
  const S0 = 1 / 12
  const S1 = 1 / 360
  const S2 = 1 / 1260
  const S3 = 1 / 1680
  const S4 = 1 / 1188
  const nn = n * n
  if (n > 500) return (S0 - S1 / nn) / n
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
}

/** Deviance term x·ln(x/np) + np − x, computed without cancellation when x ≈ np (Loader 2000). */
function bd0(x: number, np: number): number {
  if (Math.abs(x - np) < 0.1 * (x + np)) {
    let v = (x - np) / (x + np)
    let s = (x - np) * v
    let ej = 2 * x * v
    v *= v
    for (let j = 1; j < 1000; j++) {
      ej *= v
      const s1 = s + ej / (2 * j + 1)
      if (s1 === s) return s1
      s = s1
    }
  }
  return x * Math.log(x / np) + np - x
}

/** ln P(X = k) for X ~ Bin(n, 1/2), integers 0 ≤ k ≤ n. */
export function logBinomialHalfPmf(k: number, n: number): number {
  if (k === 0 || k === n) return -n * Math.LN2
  const lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n / 2) - bd0(n - k, n / 2)
  const lf = LN_2PI + Math.log(k) + Math.log1p(-k / n)
  return lc - 0.5 * lf
}

/** ln P(X ≤ m) for X ~ Bin(n, 1/2), for integers 0 ≤ m ≤ n. */
export function logBinomialHalfCdf(m: number, n: number): number {
  if (m >= n) return 0
  if (m > n / 2) {
    // Upper part: P(X ≤ m) = 1 − P(X ≤ n − m − 1) by symmetry.
    return Math.log1p(-Math.exp(logBinomialHalfCdf(n - m - 1, n)))
  }
  // Terms grow with k up to n/2, so sum t_k / t_m backwards: t_{k-1} / t_k = k / (n − k + 1).
  let sum = 1
  let t = 1
  for (let k = m; k > 0; k--) {
    t *= k / (n - k + 1)
    sum += t
    if (t < 1e-17 * sum) break
  }
  return logBinomialHalfPmf(m, n) + Math.log(sum)
}

/** Exact two-sided McNemar test from the discordant counts b (right → wrong) and c (wrong → right). */
export function mcnemarExact(b: number, c: number): McNemarResult {
  for (const [name, v] of [['b', b], ['c', c]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`McNemar ${name} must be a non-negative integer, got ${v}`)
  }
  const n = b + c
  if (n === 0) return {b, c, n, pValue: 1}
  const p = 2 * Math.exp(logBinomialHalfCdf(Math.min(b, c), n))
  return {b, c, n, pValue: Math.min(1, p)}
}

/**
 * Count the discordant pairs of two aligned correctness arrays (index i is the same image in both) and run
 * mcnemarExact. `total` is the number of paired images.
 */
export function mcnemarPaired(
  baselineCorrect: ArrayLike<boolean | number>,
  currentCorrect: ArrayLike<boolean | number>,
): McNemarResult & {total: number} {
  if (baselineCorrect.length !== currentCorrect.length) {
    throw new RangeError(`paired arrays differ in length (${baselineCorrect.length} vs ${currentCorrect.length})`)
  }
  let b = 0
  let c = 0
  for (let i = 0; i < baselineCorrect.length; i++) {
    const was = Boolean(baselineCorrect[i])
    const now = Boolean(currentCorrect[i])
    if (was && !now) b++
    else if (!was && now) c++
  }
  return {...mcnemarExact(b, c), total: baselineCorrect.length}
}
