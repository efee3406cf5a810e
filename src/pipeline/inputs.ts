/**
 * From a listed item to the model's inputs: read the file, decode it as Pillow does, hand the pixels to the face
 * stage (the whole image, the annotated box, or each detected and aligned face), resize each crop to 224×224
 * with the Pillow-exact resample, and keep it until the batch tensor is filled. Written once for eval, predict
 * and video, so every flow sees faces the same way.
 */
import type {DatasetItem} from '../datasets/types.js'
import {ImageError} from '../image/errors.js'
import type {RgbImage} from '../image/types.js'
import type {Affine, FaceCrop, FaceFields, FaceStage} from '../faces/types.js'
import {INPUT_SIZE, type PreparedInput, type PreparedUnit} from '../runtime/batches.js'

export type {Affine, FaceCrop, FaceStage, FacesMode} from '../faces/types.js'
export {wholeImageStage} from '../faces/stage.js'

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

/**
 * A listed file's bytes (through its raw path when its name is not valid UTF-8), with the decoder's error reasons.
 * Only regular files are read, links followed, up to the image file size limit: a FIFO, socket or device that a
 * label file or manifest lists (or a link to /dev/zero) is an `unreadable` error row `not a regular file (...)`,
 * never a read that blocks or never ends. Discovery may already know (DatasetItem.notRegular).
 */
export async function readItemBytes(item: DatasetItem, opts: {maxBytes?: number} = {}): Promise<Uint8Array> {
  if (item.notRegular) throw new ImageError('unreadable', `not a regular file (${item.notRegular})`, {path: item.relPath})
  const {readImageFile} = await import('../image/sharp.js')
  return readImageFile(item.rawPath ?? item.path, {maxBytes: opts.maxBytes, path: item.relPath})
}

/**
 * What a unit is read from: a listed file (decoded here), or pixels already decoded elsewhere (a video frame).
 * Flows may extend it with what their rows need (a frame's number and time).
 */
export interface UnitSource {
  item: DatasetItem
  pixels?: RgbImage
  /** Set when the unit is already known to have failed (a video ffmpeg could not read): its error row, in order. */
  fail?: string
}

/** The preparation function runBatches calls for each unit: decode → faces → resized crops. */
export async function inputPreparer(opts: PrepareOptions): Promise<(unit: UnitSource) => Promise<PreparedUnit<ModelInput>>> {
  const [{decodeRgb, imageFileLimit}, {resizeForModel}, {toTensorInto}] = await Promise.all([
    import('../image/sharp.js'),
    import('../image/preprocess.js'),
    import('../image/to-tensor.js'),
  ])
  return async ({item, pixels, fail}) => {
    if (fail !== undefined) return {ok: false, error: fail}
    const maxBytes = opts.decode?.maxFileBytes ?? imageFileLimit(opts.decode?.limitInputPixels)
    const image = pixels ?? (await decodeRgb(await readItemBytes(item, {maxBytes}), {...opts.decode, path: item.relPath}))
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
