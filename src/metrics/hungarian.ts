/**
 * Hungarian algorithm (Kuhn–Munkres with potentials, O(n²·m)) and the label-order sanity check built on it:
 * "would the predictions score much better if the model's classes were in another order?"
 */

export interface Assignment {
  /** rowToCol[i] = the column assigned to row i. */
  rowToCol: number[]
  /** Sum of weights[i][rowToCol[i]]. */
  total: number
}

/**
 * Optimal assignment of each row to a distinct column of an n×m weight matrix (n ≤ m; square for a
 * permutation). Minimises the total by default, maximises with `maximize: true`. Weights must be finite.
 */
export function hungarian(weights: number[][], options: {maximize?: boolean} = {}): Assignment {
  const n = weights.length
  if (n === 0) return {rowToCol: [], total: 0}
  const m = weights[0].length
  if (n > m) throw new RangeError(`assignment needs rows ≤ columns, got ${n}×${m}`)
  for (let i = 0; i < n; i++) {
    if (weights[i].length !== m) throw new RangeError(`row ${i} has ${weights[i].length} values, expected ${m}`)
    for (let j = 0; j < m; j++) {
      if (!Number.isFinite(weights[i][j])) throw new RangeError(`weight [${i}, ${j}] is not finite`)
    }
  }
  const sign = options.maximize ? -1 : 1
  const cost = (i: number, j: number) => sign * weights[i][j]

  // 1-based arrays; column 0 is a virtual column holding the row being inserted.
  const u = new Float64Array(n + 1)
  const v = new Float64Array(m + 1)
  const p = new Int32Array(m + 1) // p[j] = row matched to column j (0 = none)
  const way = new Int32Array(m + 1)
  for (let i = 1; i <= n; i++) {
    p[0] = i
    let j0 = 0
    const minv = new Float64Array(m + 1).fill(Infinity)
    const used = new Uint8Array(m + 1)
    do {
      used[j0] = 1
      const i0 = p[j0]
      let delta = Infinity
      let j1 = 0
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue
        const cur = cost(i0 - 1, j - 1) - u[i0] - v[j]
        if (cur < minv[j]) {
          minv[j] = cur
          way[j] = j0
        }
        if (minv[j] < delta) {
          delta = minv[j]
          j1 = j
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]] += delta
          v[j] -= delta
        } else {
          minv[j] -= delta
        }
      }
      j0 = j1
    } while (p[j0] !== 0)
    do {
      const j1 = way[j0]
      p[j0] = p[j1]
      j0 = j1
    } while (j0 !== 0)
  }
  const rowToCol = new Array<number>(n).fill(-1)
  for (let j = 1; j <= m; j++) if (p[j] !== 0) rowToCol[p[j] - 1] = j - 1
  let total = 0
  for (let i = 0; i < n; i++) total += weights[i][rowToCol[i]]
  return {rowToCol, total}
}

export interface LabelPermutation {
  /** permutation[predictedColumn] = the true class that column most plausibly stands for. */
  permutation: number[]
  /** Accuracy if predicted column j were read as class permutation[j]: Σ counts[perm[j]][j] / N. */
  accuracy: number
  /** Accuracy as the labels stand (trace / N). */
  identityAccuracy: number
  /** Whether the best permutation is the identity (ties are resolved towards it). */
  isIdentity: boolean
}

/**
 * The relabelling of predicted classes that maximises accuracy, from confusion counts[true][pred] (square).
 * A model whose outputs are in another class order than the dataset's shows up as `accuracy` far above
 * `identityAccuracy`. Among equally good permutations the one fixing the most classes is returned (so the
 * identity when it is optimal); for non-integer counts, the identity is returned whenever it is optimal.
 * With no images both accuracies are 0 and the permutation is the identity.
 */
export function bestLabelPermutation(confusionCounts: number[][]): LabelPermutation {
  const C = confusionCounts.length
  for (let i = 0; i < C; i++) {
    if (confusionCounts[i].length !== C) throw new RangeError(`confusion matrix is not square (row ${i} has ${confusionCounts[i].length} of ${C})`)
  }
  const identity = Array.from({length: C}, (_, j) => j)
  let total = 0
  let trace = 0
  let integral = true
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      const v = confusionCounts[i][j]
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`confusion count [${i}, ${j}] is ${v}`)
      if (!Number.isInteger(v)) integral = false
      total += v
    }
    trace += confusionCounts[i][i]
  }
  if (total === 0) return {permutation: identity, accuracy: 0, identityAccuracy: 0, isIdentity: true}

  // weights[pred][true]: assigning predicted column `pred` to class `true` earns counts[true][pred].
  // For integer counts, scale by C + 1 and add 1 on the diagonal: the bonus (≤ C) can only break ties
  // between permutations with equal accuracy, in favour of the one with the most fixed points.
  const tieBreak = integral && total * (C + 1) + C < Number.MAX_SAFE_INTEGER
  const weights = identity.map((pred) =>
    identity.map((t) => (tieBreak ? confusionCounts[t][pred] * (C + 1) + (t === pred ? 1 : 0) : confusionCounts[t][pred])),
  )
  let permutation = hungarian(weights, {maximize: true}).rowToCol
  let best = 0
  for (let j = 0; j < C; j++) best += confusionCounts[permutation[j]][j]
  if (trace >= best) {
    permutation = identity
    best = trace
  }
  return {
    permutation,
    accuracy: best / total,
    identityAccuracy: trace / total,
    isIdentity: permutation.every((t, j) => t === j),
  }
}
