/**
 * A stand-in face detector for video tests, behind the real FaceStage interface: it finds the solid squares that
 * video-clips.ts draws on a black background (connected non-black regions) and returns each as a face, left to
 * right, with its box and a crop of its pixels (the square's inside, so the tiny model sees its colour).
 */
import type {FaceCrop, FaceStage} from '../../src/faces/types.js'
import type {RgbImage} from '../../src/image/types.js'

/** Pixels darker than this (sum of R, G, B) are background. */
const DARK = 90

function crop(image: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3)
  for (let r = 0; r < h; r++) data.set(image.data.subarray(((y + r) * image.width + x) * 3, ((y + r) * image.width + x + w) * 3), r * w * 3)
  return {width: w, height: h, data}
}

/** Bounding boxes of the bright connected regions at least `minSide` pixels wide and tall. */
export function findSquares(image: RgbImage, minSide = 8): Array<{x: number; y: number; w: number; h: number}> {
  const {width: W, height: H, data} = image
  const seen = new Uint8Array(W * H)
  const bright = (i: number) => data[i * 3]! + data[i * 3 + 1]! + data[i * 3 + 2]! > DARK
  const boxes: Array<{x: number; y: number; w: number; h: number}> = []
  const stack: number[] = []
  for (let start = 0; start < W * H; start++) {
    if (seen[start] || !bright(start)) continue
    let x0 = W, y0 = H, x1 = -1, y1 = -1
    stack.push(start)
    seen[start] = 1
    while (stack.length) {
      const i = stack.pop()!
      const x = i % W
      const y = (i - x) / W
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y)
      for (const j of [x > 0 ? i - 1 : -1, x < W - 1 ? i + 1 : -1, y > 0 ? i - W : -1, y < H - 1 ? i + W : -1]) {
        if (j >= 0 && !seen[j] && bright(j)) {
          seen[j] = 1
          stack.push(j)
        }
      }
    }
    if (x1 - x0 + 1 >= minSide && y1 - y0 + 1 >= minSide) boxes.push({x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1})
  }
  return boxes.sort((a, b) => a.x - b.x || a.y - b.y)
}

/** The squares as a 'detect' face stage. Crops leave a 3-pixel margin inside the box (compression blurs edges). */
export function squareFaceStage(): FaceStage {
  return {
    mode: 'detect',
    async crops(image) {
      const boxes = findSquares(image)
      return boxes.map((b, index): FaceCrop => {
        const m = Math.min(3, Math.floor((Math.min(b.w, b.h) - 2) / 2))
        return {
          image: crop(image, b.x + m, b.y + m, b.w - 2 * m, b.h - 2 * m),
          toOriginal: [b.w - 2 * m, 0, b.x + m, 0, b.h - 2 * m, b.y + m],
          face: {index, count: boxes.length, box: b, score: 1},
        }
      })
    },
    identity: () => ({faces: 'detect', detector: 'test squares'}),
    release: async () => {},
  }
}
