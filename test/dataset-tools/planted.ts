/**
 * Generated images for the dataset tools' tests: each seed gives a different picture (coloured blobs over a
 * background, with grain), and the copies the checks must find are made from them with sharp exactly as the
 * issue names them: re-encoded as JPEG, resized to 100×100, cropped by a few percent.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {loadSharp} from '../../src/image/sharp.js'
import {distinctPixels} from '../../src/datasets/synthetic.js'

export const blobPixels = distinctPixels

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
