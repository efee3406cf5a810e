/**
 * Annotated face boxes cropped as the Python pipeline crops them: PIL's `Image.crop((x, y, x + w, y + h))`.
 * Pillow 9.4 rounds each coordinate with Python's round() (halves to even), refuses right < left and
 * lower < upper, and fills the parts of the box outside the image with black. A box of zero width or height
 * gives an empty image, which the Resize((224, 224)) that follows cannot take: here it is an error, as are
 * missing and non-finite boxes, each with a reason for the image's error row.
 */
import type {RgbImage} from '../image/types.js'
import type {Box} from './types.js'

/** Pillow's Image.MAX_IMAGE_PIXELS × 2, above which it refuses a crop. */
const BOMB_PIXELS = 2 * 89_478_485

export class FaceBoxError extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

/** Python 3's round(): nearest integer, halves to the even neighbour. */
export function pythonRound(x: number): number {
  const f = Math.floor(x)
  const d = x - f
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1
  return r + 0 // no -0
}

/** The integer (left, upper, right, lower) Pillow crops for an (x, y, w, h) box, or the reason it cannot. */
export function pillowCropBox(box: Box): [number, number, number, number] {
  const {x, y, w, h} = box
  if (![x, y, w, h].every(Number.isFinite)) throw new FaceBoxError(`face box (${x}, ${y}, ${w}, ${h}) is not four finite numbers`)
  const right = x + w
  const lower = y + h
  if (right < x || lower < y) throw new FaceBoxError(`face box has a negative size ${w}×${h} at (${x}, ${y})`)
  const c: [number, number, number, number] = [pythonRound(x), pythonRound(y), pythonRound(right), pythonRound(lower)]
  if (c[2] - c[0] <= 0 || c[3] - c[1] <= 0) throw new FaceBoxError(`zero-size face box ${c[2] - c[0]}×${c[3] - c[1]} at (${c[0]}, ${c[1]})`)
  // Pillow's decompression-bomb check on the crop's size (an error above twice MAX_IMAGE_PIXELS).
  if ((c[2] - c[0]) * (c[3] - c[1]) > BOMB_PIXELS) throw new FaceBoxError(`face box ${c[2] - c[0]}×${c[3] - c[1]} is larger than Pillow crops (decompression-bomb limit)`)
  return c
}

/** PIL Image.crop((x, y, x + w, y + h)) of an RGB image: black where the box leaves the image. */
export function cropBox(img: RgbImage, box: Box): {image: RgbImage; left: number; top: number} {
  const [left, top, right, lower] = pillowCropBox(box)
  const w = right - left
  const h = lower - top
  const out = new Uint8Array(w * h * 3)
  const xs = Math.max(0, left)
  const xe = Math.min(img.width, right)
  if (xe > xs) {
    for (let y = Math.max(0, top); y < Math.min(img.height, lower); y++) {
      out.set(img.data.subarray((y * img.width + xs) * 3, (y * img.width + xe) * 3), ((y - top) * w + (xs - left)) * 3)
    }
  }
  return {image: {width: w, height: h, data: out}, left, top}
}
