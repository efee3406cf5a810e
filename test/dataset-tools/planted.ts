/**
 * Generated images for the dataset tools' tests: each seed gives a different picture (coloured blobs over a
 * background, with grain), and the copies the checks must find are made from them with sharp exactly as the
 * issue names them: re-encoded as JPEG, resized to 100×100, cropped by a few percent.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {loadSharp} from '../../src/image/sharp.js'
import {mulberry32} from '../../src/hash.js'

export function blobPixels(seed: number, width = 160, height = 160): Uint8Array {
  const r = mulberry32(seed)
  const data = new Uint8Array(width * height * 3)
  const blobs = Array.from({length: 8}, () => ({x: r() * width, y: r() * height, s: 10 + r() * 40, c: [r() * 255, r() * 255, r() * 255]}))
  const bg = [r() * 255, r() * 255, r() * 255]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const acc = [bg[0]! * 0.3, bg[1]! * 0.3, bg[2]! * 0.3]
      let wsum = 0.3
      for (const b of blobs) {
        const w = Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.s * b.s))
        wsum += w
        for (let c = 0; c < 3; c++) acc[c]! += w * b.c[c]!
      }
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, acc[c]! / wsum + (r() - 0.5) * 20))
    }
  }
  return data
}

/** A distinct JPEG for `seed`. */
export async function blobJpeg(seed: number, width = 160, height = 160): Promise<Buffer> {
  const sharp = await loadSharp()
  return sharp(blobPixels(seed, width, height), {raw: {width, height, channels: 3}}).jpeg({quality: 92}).toBuffer()
}

export async function reencode(jpeg: Buffer, quality = 60): Promise<Buffer> {
  return (await loadSharp())(jpeg).jpeg({quality}).toBuffer()
}

export async function resize100(jpeg: Buffer): Promise<Buffer> {
  return (await loadSharp())(jpeg).resize(100, 100, {fit: 'fill'}).jpeg({quality: 90}).toBuffer()
}

/** Cut `left`, `top`, `right`, `bottom` fractions off, re-encoded as JPEG. */
export async function crop(jpeg: Buffer, cut: [number, number, number, number]): Promise<Buffer> {
  const sharp = await loadSharp()
  const m = await sharp(jpeg).metadata()
  const l = Math.round(cut[0] * m.width)
  const t = Math.round(cut[1] * m.height)
  const w = m.width - l - Math.round(cut[2] * m.width)
  const h = m.height - t - Math.round(cut[3] * m.height)
  return sharp(jpeg).extract({left: l, top: t, width: w, height: h}).jpeg({quality: 90}).toBuffer()
}

export function put(root: string, rel: string, data: string | Uint8Array): string {
  const p = path.join(root, rel)
  mkdirSync(path.dirname(p), {recursive: true})
  writeFileSync(p, data)
  return p
}
