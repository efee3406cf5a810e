/**
 * MediaPipe BlazeFace's output decoding, written from MediaPipe's face_detection graphs
 * (SsdAnchorsCalculator, TensorsToDetectionsCalculator, the WEIGHTED NonMaxSuppressionCalculator):
 * - 896 anchors: a 16×16 grid with 2 anchors per cell, then an 8×8 grid with 6 (strides 8 and 16 at 128 px, the
 *   same proportions at 256), each anchor the centre of its cell, of unit size;
 * - per anchor a score logit and 16 numbers: box centre offset, width, height, then 6 key points (subject's right
 *   eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion), all in input pixels relative to
 *   the anchor centre;
 * - overlapping candidates merged by score-weighted averaging (IoU ≥ 0.3), which is steadier than keeping the top
 *   box alone.
 * Pure functions over the model's output arrays; coordinates come out normalised to the square model input.
 */

export const ANCHOR_COUNT = 896

export interface Anchor {
  x: number
  y: number
}

/**
 * A part of the model's square input on whole cells of its coarsest anchor grid (8×8: 32 px at 256, 16 at 128):
 * the rows and columns the model is given when the rest of the square would be letterbox black.
 */
export interface GridWindow {
  col: number
  row: number
  cols: number
  rows: number
}

export const FULL_GRID: GridWindow = {col: 0, row: 0, cols: 8, rows: 8}

/**
 * Anchor centres in units of the square model input [0, 1], in the order of the model's outputs; for a window,
 * those of its cells only (the outputs of the model given just that part of its input).
 */
export function blazeFaceAnchors(window: GridWindow = FULL_GRID): Anchor[] {
  const anchors: Anchor[] = []
  for (const [cells, perCell] of [
    [16, 2],
    [8, 6],
  ] as const) {
    const k = cells / 8 // cells of this grid per coarsest cell
    for (let y = window.row * k; y < (window.row + window.rows) * k; y++) {
      for (let x = window.col * k; x < (window.col + window.cols) * k; x++) {
        for (let a = 0; a < perCell; a++) anchors.push({x: (x + 0.5) / cells, y: (y + 0.5) / cells})
      }
    }
  }
  return anchors
}

/** A raw candidate in normalised model-input coordinates: box centre/size and 6 key points (x, y pairs). */
export interface Candidate {
  score: number
  cx: number
  cy: number
  w: number
  h: number
  /** 12 values: x0, y0, ..., x5, y5. */
  points: Float64Array
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, x))))

/**
 * Candidates scoring at least `minScore` from the two output pairs (scores [512] + [384], boxes [512×16] +
 * [384×16]) of a model whose square input is `inputSize` pixels.
 */
export function decodeCandidates(
  scores: readonly Float32Array[],
  boxes: readonly Float32Array[],
  inputSize: number,
  minScore: number,
  anchors: readonly Anchor[] = blazeFaceAnchors(),
): Candidate[] {
  const out: Candidate[] = []
  let i = 0
  for (let part = 0; part < scores.length; part++) {
    const s = scores[part]!
    const b = boxes[part]!
    for (let k = 0; k < s.length; k++, i++) {
      const score = sigmoid(s[k]!)
      if (score < minScore) continue
      const anchor = anchors[i]!
      const o = k * 16
      // A box without area is not a face (only low scores give them; they would also break the overlap test).
      if (!(b[o + 2]! > 0 && b[o + 3]! > 0)) continue
      const points = new Float64Array(12)
      for (let p = 0; p < 6; p++) {
        points[2 * p] = anchor.x + b[o + 4 + 2 * p]! / inputSize
        points[2 * p + 1] = anchor.y + b[o + 5 + 2 * p]! / inputSize
      }
      out.push({
        score,
        cx: anchor.x + b[o]! / inputSize,
        cy: anchor.y + b[o + 1]! / inputSize,
        w: b[o + 2]! / inputSize,
        h: b[o + 3]! / inputSize,
        points,
      })
    }
  }
  if (i !== anchors.length) throw new Error(`BlazeFace outputs hold ${i} anchors; expected ${anchors.length}`)
  return out
}

export function iou(a: Candidate, b: Candidate): number {
  const ix = Math.max(0, Math.min(a.cx + a.w / 2, b.cx + b.w / 2) - Math.max(a.cx - a.w / 2, b.cx - b.w / 2))
  const iy = Math.max(0, Math.min(a.cy + a.h / 2, b.cy + b.h / 2) - Math.max(a.cy - a.h / 2, b.cy - b.h / 2))
  const inter = ix * iy
  const union = a.w * a.h + b.w * b.h - inter
  return union > 0 ? inter / union : 0
}

/**
 * MediaPipe's weighted non-maximum suppression: take the best remaining candidate, merge every remaining one that
 * overlaps it by at least `threshold` into a score-weighted average (the best score kept), repeat.
 */
export function weightedNms(candidates: readonly Candidate[], threshold = 0.3): Candidate[] {
  const remaining = [...candidates].sort((a, b) => b.score - a.score)
  const kept: Candidate[] = []
  while (remaining.length > 0) {
    const best = remaining[0]!
    // The best is always in its own group, even when a degenerate box gives it no area.
    const group: Candidate[] = [best]
    const rest: Candidate[] = []
    for (const c of remaining.slice(1)) (iou(best, c) >= threshold ? group : rest).push(c)
    let total = 0
    const merged: Candidate = {score: best.score, cx: 0, cy: 0, w: 0, h: 0, points: new Float64Array(12)}
    for (const c of group) {
      total += c.score
      merged.cx += c.score * c.cx
      merged.cy += c.score * c.cy
      merged.w += c.score * c.w
      merged.h += c.score * c.h
      for (let p = 0; p < 12; p++) merged.points[p] += c.score * c.points[p]!
    }
    merged.cx /= total
    merged.cy /= total
    merged.w /= total
    merged.h /= total
    for (let p = 0; p < 12; p++) merged.points[p] /= total
    kept.push(merged)
    remaining.splice(0, remaining.length, ...rest)
  }
  return kept
}
