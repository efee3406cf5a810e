/**
 * Synthetic datasets in the real layouts, for the built-in demo and the benchmark: cartoon faces whose mouth,
 * brows and eyes vary with the class, plus noise. They exercise every code path a real dataset does; no model
 * is expected to recognise them.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {mulberry32} from '../hash.js'
import {RAFDB} from './labels.js'


/** An SVG cartoon face for RAF-DB class `label` (0 Surprise … 6 Neutral), 100×100 user units. */
export function faceSvg(label: number, rand: () => number): string {
  const skin = `rgb(${200 + Math.floor(rand() * 40)},${150 + Math.floor(rand() * 50)},${120 + Math.floor(rand() * 50)})`
  const bg = `rgb(${Math.floor(rand() * 90)},${Math.floor(rand() * 90)},${Math.floor(rand() * 120)})`
  // Mouth curvature and openness, brow tilt, eye size per expression.
  const mouth: Record<number, [number, number]> = {0: [0, 9], 1: [-3, 5], 2: [-5, 1], 3: [8, 2], 4: [-7, 1], 5: [-5, 2], 6: [0, 1]}
  const brow: Record<number, number> = {0: -4, 1: -3, 2: 3, 3: 0, 4: -2, 5: 5, 6: 0}
  const eye: Record<number, number> = {0: 5, 1: 5, 2: 3, 3: 3.5, 4: 3, 5: 3, 6: 3.5}
  const [curve, open] = mouth[label] ?? [0, 1]
  const jitter = () => (rand() - 0.5) * 4
  const noise: string[] = []
  for (let i = 0; i < 40; i++) {
    const g = Math.floor(rand() * 255)
    noise.push(`<circle cx="${(rand() * 100).toFixed(1)}" cy="${(rand() * 100).toFixed(1)}" r="${(rand() * 2.5).toFixed(2)}" fill="rgb(${g},${g},${g})" opacity="0.35"/>`)
  }
  const b = brow[label] ?? 0
  const e = eye[label] ?? 3.5
  return `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">
<rect width="100" height="100" fill="${bg}"/>
<ellipse cx="${50 + jitter()}" cy="${52 + jitter()}" rx="${32 + jitter()}" ry="${40 + jitter()}" fill="${skin}"/>
<ellipse cx="37" cy="44" rx="${e + 1}" ry="${e}" fill="white"/><circle cx="37" cy="44" r="${e / 2}" fill="#222"/>
<ellipse cx="63" cy="44" rx="${e + 1}" ry="${e}" fill="white"/><circle cx="63" cy="44" r="${e / 2}" fill="#222"/>
<path d="M29 ${36 + b} L45 ${36 - b}" stroke="#3a2a1a" stroke-width="2.5"/><path d="M55 ${36 - b} L71 ${36 + b}" stroke="#3a2a1a" stroke-width="2.5"/>
<path d="M50 48 L47 60 L53 60" stroke="#8a5a4a" stroke-width="1.5" fill="none"/>
<path d="M38 72 Q50 ${72 + curve} 62 72 Q50 ${72 + curve + open} 38 72 Z" fill="#7a2a2a" stroke="#5a1a1a" stroke-width="1.5"/>
${noise.join('\n')}
</svg>`
}

export interface SyntheticOptions {
  /** Test images per class. */
  perClass: number
  /** Image side in pixels (RAF-DB aligned faces are 100×100). */
  width?: number
  height?: number
  seed?: number
  /** Also write this many train images (RAF-DB lists both splits in one file). */
  train?: number
}

/** Write a RAF-DB basic tree (EmoLabel/list_patition_label.txt + Image/aligned/*_aligned.jpg) at `root`. */
export async function writeSyntheticRafdb(root: string, opts: SyntheticOptions): Promise<{images: number}> {
  const {svgToJpeg} = await import('../image/sharp.js')
  const rand = mulberry32(opts.seed ?? 1)
  const width = opts.width ?? 100
  const height = opts.height ?? 100
  await mkdir(join(root, 'EmoLabel'), {recursive: true})
  await mkdir(join(root, 'Image', 'aligned'), {recursive: true})
  const lines: string[] = []
  const jobs: Array<{name: string; label: number}> = []
  for (let i = 0; i < (opts.train ?? 0); i++) jobs.push({name: `train_${String(i + 1).padStart(5, '0')}`, label: i % RAFDB.names.length})
  const n = opts.perClass * RAFDB.names.length
  for (let i = 0; i < n; i++) jobs.push({name: `test_${String(i + 1).padStart(4, '0')}`, label: i % RAFDB.names.length})
  for (const job of jobs) {
    const jpeg = await svgToJpeg(faceSvg(job.label, rand), width, height)
    await writeFile(join(root, 'Image', 'aligned', `${job.name}_aligned.jpg`), jpeg)
    lines.push(`${job.name}.jpg ${job.label + 1}`)
  }
  await writeFile(join(root, 'EmoLabel', 'list_patition_label.txt'), lines.join('\n') + '\n')
  return {images: jobs.length}
}

/**
 * Write `count` cartoon-face JPEGs straight into `dir` (face_0001.jpg, …; the classes in turn), a flat folder of
 * unlabelled images as `poster predict` takes it.
 */
export async function writeSyntheticFolder(
  dir: string,
  count: number,
  opts: {width?: number; height?: number; seed?: number} = {},
): Promise<{images: number}> {
  const {svgToJpeg} = await import('../image/sharp.js')
  const rand = mulberry32(opts.seed ?? 1)
  const digits = Math.max(4, String(count).length)
  await mkdir(dir, {recursive: true})
  for (let i = 0; i < count; i++) {
    const jpeg = await svgToJpeg(faceSvg(i % RAFDB.names.length, rand), opts.width ?? 100, opts.height ?? 100)
    await writeFile(join(dir, `face_${String(i + 1).padStart(digits, '0')}.jpg`), jpeg)
  }
  return {images: count}
}

/**
 * Pixels of a picture that differs from every other seed's (coloured blobs over a background, with grain): for
 * the dataset tools' benchmark and tests, where near-duplicate search must find only the copies made on purpose
 * (the cartoon faces above are all alike by design).
 */
export function distinctPixels(seed: number, width = 100, height = 100): Uint8Array {
  const r = mulberry32(seed)
  const data = new Uint8Array(width * height * 3)
  const scale = Math.min(width, height) / 160
  const blobs = Array.from({length: 8}, () => ({x: r() * width, y: r() * height, s: (10 + r() * 40) * scale, c: [r() * 255, r() * 255, r() * 255]}))
  const bg = [r() * 255, r() * 255, r() * 255]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r0 = bg[0]! * 0.3
      let g0 = bg[1]! * 0.3
      let b0 = bg[2]! * 0.3
      let wsum = 0.3
      for (const b of blobs) {
        const w = Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.s * b.s))
        wsum += w
        r0 += w * b.c[0]!
        g0 += w * b.c[1]!
        b0 += w * b.c[2]!
      }
      const o = (y * width + x) * 3
      data[o] = Math.max(0, Math.min(255, r0 / wsum + (r() - 0.5) * 20))
      data[o + 1] = Math.max(0, Math.min(255, g0 / wsum + (r() - 0.5) * 20))
      data[o + 2] = Math.max(0, Math.min(255, b0 / wsum + (r() - 0.5) * 20))
    }
  }
  return data
}

/**
 * A CSV manifest of `count` distinct JPEGs (distinctPixels, labels cycling over RAF-DB's classes) at
 * `<dir>/set.csv`, images in `<dir>/img/`: the set `poster bench` checks with `poster dataset check`.
 */
export async function writeDistinctSet(dir: string, count: number, opts: {width?: number; height?: number; seed?: number} = {}): Promise<string> {
  const {encodeJpeg} = await import('../image/sharp.js')
  const w = opts.width ?? 100
  const h = opts.height ?? 100
  const digits = Math.max(4, String(count).length)
  await mkdir(join(dir, 'img'), {recursive: true})
  const lines = ['path,label_rafdb']
  for (let i = 0; i < count; i++) {
    const name = `img/${String(i + 1).padStart(digits, '0')}.jpg`
    await writeFile(join(dir, name), await encodeJpeg(distinctPixels((opts.seed ?? 1) * 1_000_003 + i, w, h), w, h, 90))
    lines.push(`${name},${(i % RAFDB.names.length) + 1}`)
  }
  const csv = join(dir, 'set.csv')
  await writeFile(csv, lines.join('\n') + '\n')
  return csv
}
