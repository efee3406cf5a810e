/** What the face stage knows about a face, in pixels of the original image. */
import type {RgbImage} from '../image/types.js'

export interface Point {
  x: number
  y: number
}

/** Left, top, width, height in pixels. */
export interface Box {
  x: number
  y: number
  w: number
  h: number
}

/**
 * A face a detector found. Points are the subject's: `eyeR` is the subject's right eye, on the image's left.
 * Ears are the detector's tragion points (less reliable; not used for alignment).
 */
export interface DetectedFace {
  box: Box
  score: number
  eyeR: Point
  eyeL: Point
  nose: Point
  mouth: Point
  earR: Point
  earL: Point
}

/** What the face columns of a row say about its face (see report/predictions-csv.ts faceColumns). */
export interface FaceFields {
  /** 0-based index within the image, left to right. */
  index: number
  /** Faces in the image (the rows it has). */
  count: number
  box: Box
  score?: number
  eyeR?: Point
  eyeL?: Point
  nose?: Point
  mouth?: Point
}

/**
 * An affine map from normalised model-input coordinates (u, v in [0, 1], as the landmark head outputs them) to
 * pixels of the original image: x = a·u + b·v + c, y = d·u + e·v + f.
 */
export type Affine = readonly [a: number, b: number, c: number, d: number, e: number, f: number]

/** One crop the face stage hands on: its pixels, where they came from, and what the CSV says about the face. */
export interface FaceCrop {
  image: RgbImage
  /** Normalised crop coordinates → original pixels (the crop is resized to the model input without margins). */
  toOriginal: Affine
  /** Box/points/score for the face columns; undefined for whole images. */
  face?: FaceFields
}

/** Which crops the model sees. */
export type FacesMode = 'whole' | 'box' | 'detect'

/** An item as the face stage sees it: its path for messages, its annotated box when the dataset has one. */
export interface FaceSource {
  relPath: string
  box?: Box
  boxError?: string
}

/**
 * The face stage: between decoding and the 224×224 preprocessing. `crops` may return none (no face found) and
 * throws (with a `reason`) when an image cannot be cropped as asked (a zero-size box). `identity` describes the
 * stage for a run's record, so a resumed run must use the same one.
 */
export interface FaceStage {
  readonly mode: FacesMode
  crops(image: RgbImage, source: FaceSource): Promise<FaceCrop[]>
  identity(): Record<string, unknown>
  release(): Promise<void>
}
