/**
 * From a listed item to the model's inputs: read the file, decode it as Pillow does, hand the pixels to the face
 * stage (the whole image, the annotated box, or each detected and aligned face), resize each crop to 224×224
 * with the Pillow-exact resample, and keep it until the batch tensor is filled. Written once for eval, predict
 * and video, so every flow sees faces the same way.
 */
import {readFile} from 'node:fs/promises'

import type {DatasetItem} from '../datasets/types.js'
import {ImageError, reasonUnreadable} from '../image/errors.js'
import type {RgbImage} from '../image/types.js'
import type {FaceFields} from '../report/predictions-csv.js'
import {INPUT_SIZE, type PreparedInput, type PreparedUnit} from '../runtime/batches.js'

/**
 * An affine map from normalised model-input coordinates (u, v in [0, 1], as the landmark head outputs them) to
 * pixels of the original image: x = a·u + b·v + c, y = d·u + e·v + f.
 */
export type Affine = readonly [a: number, b: number, c: number, d: number, e: number, f: number]

/** Map 68 normalised (u, v) pairs through `m` into pixels of the original image. */
export function mapLandmarks(normalized: ArrayLike<number>, m: Affine): Float64Array {
  const out = new Float64Array(normalized.length)
  const [a, b, c, d, e, f] = m
  for (let i = 0; i + 1 < normalized.length; i += 2) {
    const u = normalized[i]!
    const v = normalized[i + 1]!
    out[i] = a * u + b * v + c
    out[i + 1] = d * u + e * v + f
  }
  return out
}

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

/**
 * The face stage: between decoding and the 224×224 preprocessing. `crops` may return none (no face found).
 * `identity` describes it for the run's record (a resumed run must use the same stage).
 */
export interface FaceStage {
  readonly mode: FacesMode
  crops(image: RgbImage, item: DatasetItem): Promise<FaceCrop[]>
  identity(): Record<string, unknown>
  release(): Promise<void>
}

/** The whole image is the face (aligned crops as RAF-DB distributes them): today's and the paper's input. */
export function wholeImageStage(): FaceStage {
  return {
    mode: 'whole',
    async crops(image) {
      return [{image, toOriginal: [image.width, 0, 0, 0, image.height, 0]}]
    },
    identity: () => ({faces: 'whole'}),
    release: async () => {},
  }
}

/** One model input: a crop resized to 224×224, with what its rows need. */
export interface ModelInput extends PreparedInput {
  /** Decoded size of the original image. */
  width: number
  height: number
  toOriginal: Affine
  face?: FaceFields
  /** The crop itself, kept only when asked for (--save-crops). */
  crop?: RgbImage
}

export interface PrepareOptions {
  stage: FaceStage
  /** Decode options passed to decodeRgb (formats, limitInputPixels). */
  decode?: import('../image/sharp.js').DecodeOptions
  /** Keep each crop's pixels on its input (for --save-crops). */
  keepCrops?: boolean
  /** Pick which of the crops are scored (eval scores the largest face); default all. */
  select?: (crops: FaceCrop[]) => FaceCrop[]
}

/** The file's bytes through its raw path (names that are not valid UTF-8), with the decoder's error reasons. */
export async function readItemBytes(item: DatasetItem): Promise<string | Uint8Array> {
  if (item.notRegular) throw new ImageError('unreadable', `not a regular file (${item.notRegular})`, {path: item.relPath})
  if (!item.rawPath) return item.path
  try {
    return await readFile(item.rawPath)
  } catch (e) {
    throw new ImageError('unreadable', reasonUnreadable((e as NodeJS.ErrnoException).code ?? 'EIO'), {path: item.relPath, cause: e})
  }
}

/**
 * What a unit is read from: a listed file (decoded here), or pixels already decoded elsewhere (a video frame).
 * Flows may extend it with what their rows need (a frame's number and time).
 */
export interface UnitSource {
  item: DatasetItem
  pixels?: RgbImage
}

/** The preparation function runBatches calls for each unit: decode → faces → resized crops. */
export async function inputPreparer(opts: PrepareOptions): Promise<(unit: UnitSource) => Promise<PreparedUnit<ModelInput>>> {
  const [{decodeRgb}, {resizeForModel}, {toTensorInto}] = await Promise.all([
    import('../image/sharp.js'),
    import('../image/preprocess.js'),
    import('../image/to-tensor.js'),
  ])
  return async ({item, pixels}) => {
    const image = pixels ?? (await decodeRgb(await readItemBytes(item), {...opts.decode, path: item.relPath}))
    let crops = await opts.stage.crops(image, item)
    if (opts.select) crops = opts.select(crops)
    const inputs = crops.map((crop): ModelInput => {
      const resized = resizeForModel(crop.image, INPUT_SIZE)
      return {
        width: image.width,
        height: image.height,
        toOriginal: crop.toOriginal,
        face: crop.face,
        crop: opts.keepCrops ? crop.image : undefined,
        fill: (out, offset) => toTensorInto(resized.data, INPUT_SIZE, INPUT_SIZE, out, offset),
      }
    })
    return {ok: true, inputs}
  }
}
