/**
 * The official POSTER++ evaluation transform, end to end:
 *
 *   Image.open(f).convert('RGB')                         -> decodeRgb (sharp.ts)
 *   transforms.Resize((224, 224))   (PIL bilinear)        -> pillowResize (pillow-resize.ts)
 *   transforms.ToTensor()
 *   transforms.Normalize(mean=[0.485, 0.456, 0.406],
 *                        std=[0.229, 0.224, 0.225])       -> toTensorInto (to-tensor.ts)
 *
 * giving a float32 CHW tensor identical to the Python pipeline's.
 */

import {INPUT_NUMEL, INPUT_SIZE} from '../basics.js'
import {pillowResize} from './pillow-resize.js'
import {decodeRgb, type DecodeOptions} from './sharp.js'
import {IMAGENET_MEAN, IMAGENET_STD, toTensorInto} from './to-tensor.js'
import type {RgbImage} from './types.js'

export {ImageError, isImageError, type ImageErrorKind} from './errors.js'
export {DEFAULT_LIMIT_INPUT_PIXELS} from './sharp.js'

export {INPUT_SIZE}

/** Everything a model's metadata needs to describe its expected input. */
export const PREPROCESS = {
  size: INPUT_SIZE,
  /** Channel order of the tensor. */
  channels: 'RGB',
  layout: 'NCHW',
  dtype: 'float32',
  resize: 'PIL bilinear (antialiased), aspect ratio not kept',
  scale: 1 / 255,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  /** Number of float32 values per image. */
  numel: INPUT_NUMEL,
} as const

export interface PreprocessOptions extends DecodeOptions {
  /** Output side (default 224). */
  size?: number
  mean?: readonly number[]
  std?: readonly number[]
}

export interface PreprocessResult {
  /** Decoded (stored) size of the source image. */
  width: number
  height: number
}

// One reusable resize buffer per output size (resizing is synchronous, so no sharing issues).
const resizeBuffers = new Map<number, Uint8Array>()
function resizeBuffer(size: number): Uint8Array {
  let b = resizeBuffers.get(size)
  if (b === undefined) {
    b = new Uint8Array(size * size * 3)
    resizeBuffers.set(size, b)
  }
  return b
}

/**
 * Resizes decoded RGB pixels to `size × size` and writes the normalised CHW
 * tensor into `out` at element `offset` (3 * size * size floats).
 */
export function preprocessRgbInto(img: RgbImage, out: Float32Array, offset = 0, opts: PreprocessOptions = {}): void {
  const size = opts.size ?? INPUT_SIZE
  const resized = pillowResize({...img, channels: 3}, size, size, {out: resizeBuffer(size)})
  toTensorInto(resized.data, size, size, out, offset, {mean: opts.mean ?? IMAGENET_MEAN, std: opts.std ?? IMAGENET_STD})
}

/** The resized (not yet normalised) `size × size` RGB pixels, in a new array. */
export function resizeForModel(img: RgbImage, size = INPUT_SIZE): RgbImage {
  const r = pillowResize({...img, channels: 3}, size, size)
  return {width: r.width, height: r.height, data: r.data}
}

/**
 * Decodes `input` (a path or the file's bytes), resizes it and writes its
 * tensor into `out` at `offset`. Throws ImageError for files that cannot be
 * used (missing, empty, truncated, not an image, too large).
 */
export async function preprocessInto(
  input: string | Uint8Array, out: Float32Array, offset = 0, opts: PreprocessOptions = {},
): Promise<PreprocessResult> {
  const size = opts.size ?? INPUT_SIZE
  const need = 3 * size * size
  if (!Number.isInteger(offset) || offset < 0 || offset + need > out.length) {
    throw new RangeError(`tensor buffer too small: need ${need} floats at offset ${offset}, have ${out.length}`)
  }
  const img = await decodeRgb(input, opts)
  preprocessRgbInto(img, out, offset, opts)
  return {width: img.width, height: img.height}
}

/** Convenience: one image's [3, size, size] tensor. */
export async function preprocess(input: string | Uint8Array, opts: PreprocessOptions = {}): Promise<Float32Array> {
  const size = opts.size ?? INPUT_SIZE
  const out = new Float32Array(3 * size * size)
  await preprocessInto(input, out, 0, opts)
  return out
}
