/**
 * How closely a quantised model follows its float32 original on the same images (pure): top-1 agreement on all
 * images and on the images the float model is sure about, logit error, landmark error in pixels.
 */
import type {ModelOutputs} from './calibrate.js'

/** Side of the landmark branch's input; landmarks are normalised to it. */
export const LANDMARK_INPUT_SIZE = 112
/** "Sure" images: the float model's margin between its first two classes is above this share of its logit range. */
export const CONFIDENT_MARGIN = 0.1

export interface Agreement {
  images: number
  /** Share of images with the same top-1 class. */
  top1: number
  /** Images whose float32 top-1 margin is above CONFIDENT_MARGIN of that image's logit range (max - min). */
  confidentImages: number
  /** Top-1 agreement on those; null when there are none. */
  confidentTop1: number | null
  /** Mean and largest |Δlogit| over every logit. */
  logitMeanAbs: number
  logitMaxAbs: number
  /** Largest |Δlogit| relative to the image's float logit range, over images. */
  logitMaxRelative: number
  /** Mean Euclidean distance between the 68 points, in pixels of the 112×112 landmark input; null without landmarks. */
  landmarkMeanPx: number | null
  landmarkMaxPx: number | null
  /**
   * For scale: the float32 landmarks' mean distance from their own centroid, in the same pixels (about 30 px for a
   * trained landmark head on a 112×112 face; untrained weights spread them much wider).
   */
  landmarkSpreadPx: number | null
}

function topTwo(row: ArrayLike<number>, from: number, c: number): {best: number; margin: number; range: number} {
  let best = 0
  let lo = Infinity
  let hi = -Infinity
  for (let j = 0; j < c; j++) {
    const v = row[from + j]!
    if (v > row[from + best]!) best = j
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  let second = -Infinity
  for (let j = 0; j < c; j++) if (j !== best && row[from + j]! > second) second = row[from + j]!
  return {best, margin: c > 1 ? row[from + best]! - second : Infinity, range: hi - lo}
}

export function agreement(reference: ModelOutputs, candidate: ModelOutputs): Agreement {
  if (reference.n !== candidate.n || reference.classes !== candidate.classes) {
    throw new Error(`outputs differ in shape: ${reference.n}×${reference.classes} vs ${candidate.n}×${candidate.classes}`)
  }
  const {n, classes: c} = reference
  let same = 0
  let confident = 0
  let confidentSame = 0
  let absSum = 0
  let absMax = 0
  let relMax = 0
  for (let i = 0; i < n; i++) {
    const r = topTwo(reference.logits, i * c, c)
    const q = topTwo(candidate.logits, i * c, c)
    const agree = r.best === q.best
    if (agree) same++
    if (r.margin > CONFIDENT_MARGIN * r.range) {
      confident++
      if (agree) confidentSame++
    }
    let rowMax = 0
    for (let j = 0; j < c; j++) {
      const d = Math.abs(reference.logits[i * c + j]! - candidate.logits[i * c + j]!)
      absSum += d
      if (d > rowMax) rowMax = d
    }
    if (rowMax > absMax) absMax = rowMax
    if (r.range > 0 && rowMax / r.range > relMax) relMax = rowMax / r.range
  }
  let lmSum = 0
  let lmMax = 0
  let spreadSum = 0
  const points = reference.landmarks.length / 2
  const hasLandmarks = points > 0 && candidate.landmarks.length === reference.landmarks.length
  if (hasLandmarks) {
    for (let k = 0; k < points; k++) {
      const dx = (reference.landmarks[2 * k]! - candidate.landmarks[2 * k]!) * LANDMARK_INPUT_SIZE
      const dy = (reference.landmarks[2 * k + 1]! - candidate.landmarks[2 * k + 1]!) * LANDMARK_INPUT_SIZE
      const d = Math.hypot(dx, dy)
      lmSum += d
      if (d > lmMax) lmMax = d
    }
    const perImage = points / n
    for (let i = 0; i < n; i++) {
      let cx = 0
      let cy = 0
      for (let k = 0; k < perImage; k++) {
        cx += reference.landmarks[2 * (i * perImage + k)]!
        cy += reference.landmarks[2 * (i * perImage + k) + 1]!
      }
      cx /= perImage
      cy /= perImage
      for (let k = 0; k < perImage; k++) {
        const j = 2 * (i * perImage + k)
        spreadSum += Math.hypot(reference.landmarks[j]! - cx, reference.landmarks[j + 1]! - cy) * LANDMARK_INPUT_SIZE
      }
    }
  }
  return {
    images: n,
    top1: n > 0 ? same / n : 1,
    confidentImages: confident,
    confidentTop1: confident > 0 ? confidentSame / confident : null,
    logitMeanAbs: n > 0 ? absSum / (n * c) : 0,
    logitMaxAbs: absMax,
    logitMaxRelative: relMax,
    landmarkMeanPx: hasLandmarks ? lmSum / points : null,
    landmarkMaxPx: hasLandmarks ? lmMax : null,
    landmarkSpreadPx: hasLandmarks ? spreadSum / points : null,
  }
}
