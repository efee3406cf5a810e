/**
 * torchvision's `ToTensor()` + `Normalize(mean, std)` for 8-bit RGB pixels,
 * reproduced in float32 arithmetic:
 *
 *   x = float32(v) / 255                       (ToTensor: img.float().div(255))
 *   y = (x - float32(mean[c])) / float32(std[c])  (Normalize: sub_(mean).div_(std))
 *
 * every operation rounded to float32 (Math.fround of a float64 result is the
 * correctly rounded float32 result for a single +, -, * or /). Because the
 * input is 8-bit, the whole transform is a 3 × 256 lookup table.
 */

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406]
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225]

/** float32 value of ToTensor+Normalize for one 8-bit sample `v` of a channel with the given mean/std. */
export function normalizeValue(v: number, mean: number, std: number): number {
  const x = Math.fround(v / 255)
  return Math.fround(Math.fround(x - Math.fround(mean)) / Math.fround(std))
}

/** Lookup table `lut[c * 256 + v]` for 3 channels. */
export function buildNormalizeLut(
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
): Float32Array {
  if (mean.length !== 3 || std.length !== 3) throw new RangeError('mean and std need 3 values')
  const lut = new Float32Array(3 * 256)
  for (let c = 0; c < 3; c++) {
    if (!(Math.fround(std[c]!) !== 0)) throw new RangeError('std must be non-zero')
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = normalizeValue(v, mean[c]!, std[c]!)
  }
  return lut
}

const lutCache = new Map<string, Float32Array>()

function lutFor(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(',')}/${std.join(',')}`
  let lut = lutCache.get(key)
  if (lut === undefined) {
    lut = buildNormalizeLut(mean, std)
    lutCache.set(key, lut)
  }
  return lut
}

export interface ToTensorOptions {
  mean?: readonly number[]
  std?: readonly number[]
}

/**
 * Writes the CHW float32 tensor of `rgb` (HWC, 3 channels, `width × height`)
 * into `out` starting at element `offset`: `out[offset + c*H*W + y*W + x]`.
 */
export function toTensorInto(
  rgb: Uint8Array, width: number, height: number,
  out: Float32Array, offset = 0, opts: ToTensorOptions = {},
): void {
  const plane = width * height
  if (rgb.length < plane * 3) throw new RangeError(`pixel buffer too small: ${rgb.length} < ${plane * 3}`)
  if (!Number.isInteger(offset) || offset < 0 || offset + plane * 3 > out.length) {
    throw new RangeError(`tensor buffer too small: need ${plane * 3} floats at offset ${offset}, have ${out.length}`)
  }
  const lut = lutFor(opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD)
  const o0 = offset
  const o1 = offset + plane
  const o2 = offset + 2 * plane
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[o0 + i] = lut[rgb[p]!]!
    out[o1 + i] = lut[256 + rgb[p + 1]!]!
    out[o2 + i] = lut[512 + rgb[p + 2]!]!
  }
}

/** Convenience: a new Float32Array [3, height, width]. */
export function toTensor(rgb: Uint8Array, width: number, height: number, opts: ToTensorOptions = {}): Float32Array {
  const out = new Float32Array(3 * width * height)
  toTensorInto(rgb, width, height, out, 0, opts)
  return out
}
