/**
 * Micro benchmark of the preprocessing pipeline (decode -> resize -> tensor),
 * for `poster bench`. Not a test: numbers depend on the machine.
 */

import {readFile} from 'node:fs/promises'
import {performance} from 'node:perf_hooks'
import {pillowResize} from './pillow-resize.js'
import {INPUT_SIZE, preprocessInto} from './preprocess.js'
import {decodeRgb} from './sharp.js'
import {toTensorInto} from './to-tensor.js'

export interface PreprocessBenchResult {
  /** Images processed in the timed part (paths.length * iterations). */
  images: number
  /** Wall time of the sequential run, seconds. */
  seconds: number
  /** End-to-end throughput, one image at a time. */
  imagesPerSecond: number
  /** Throughput with `concurrency` images in flight (libuv threads decode in parallel). */
  concurrentImagesPerSecond: number
  concurrency: number
  /** Mean milliseconds per image of each stage in the sequential run. */
  decodeMs: number
  resizeMs: number
  tensorMs: number
}

export interface PreprocessBenchOptions {
  /** Images in flight for the concurrent measurement (default 4). */
  concurrency?: number
  /** Untimed passes over `paths` first (default 1). */
  warmup?: number
}

/**
 * Preprocesses every file of `paths`, `iterations` times, and reports images/s.
 * Files are read into memory first, so disk speed is not measured.
 */
export async function benchPreprocess(paths: readonly string[], iterations = 5, opts: PreprocessBenchOptions = {}): Promise<PreprocessBenchResult> {
  if (paths.length === 0) throw new RangeError('no images to benchmark')
  const concurrency = Math.max(1, opts.concurrency ?? 4)
  const files = await Promise.all(paths.map((p) => readFile(p)))
  const numel = 3 * INPUT_SIZE * INPUT_SIZE
  const tensor = new Float32Array(numel * concurrency)
  const resized = new Uint8Array(numel)

  for (let w = 0; w < (opts.warmup ?? 1); w++) {
    for (const f of files) await preprocessInto(f, tensor, 0)
  }

  let decode = 0
  let resize = 0
  let norm = 0
  const t0 = performance.now()
  for (let it = 0; it < iterations; it++) {
    for (const f of files) {
      const a = performance.now()
      const img = await decodeRgb(f)
      const b = performance.now()
      pillowResize({...img, channels: 3}, INPUT_SIZE, INPUT_SIZE, {out: resized})
      const c = performance.now()
      toTensorInto(resized, INPUT_SIZE, INPUT_SIZE, tensor, 0)
      const d = performance.now()
      decode += b - a
      resize += c - b
      norm += d - c
    }
  }
  const seconds = (performance.now() - t0) / 1000
  const images = files.length * iterations

  // Concurrent: a simple pool of `concurrency` workers over the same work list.
  const jobs = Array.from({length: images}, (_, i) => files[i % files.length]!)
  let next = 0
  const c0 = performance.now()
  await Promise.all(Array.from({length: concurrency}, async (_, slot) => {
    while (next < jobs.length) {
      const f = jobs[next++]!
      await preprocessInto(f, tensor, slot * numel)
    }
  }))
  const cSeconds = (performance.now() - c0) / 1000

  return {
    images,
    seconds,
    imagesPerSecond: images / seconds,
    concurrentImagesPerSecond: images / cSeconds,
    concurrency,
    decodeMs: decode / images,
    resizeMs: resize / images,
    tensorMs: norm / images,
  }
}

/** Resize-only throughput (224×224 output) for an in-memory RGB image of the given size. */
export function benchResize(width: number, height: number, iterations = 50): {imagesPerSecond: number; msPerImage: number} {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24
  const out = new Uint8Array(3 * INPUT_SIZE * INPUT_SIZE)
  pillowResize({width, height, channels: 3, data}, INPUT_SIZE, INPUT_SIZE, {out})
  const t0 = performance.now()
  for (let i = 0; i < iterations; i++) pillowResize({width, height, channels: 3, data}, INPUT_SIZE, INPUT_SIZE, {out})
  const ms = (performance.now() - t0) / iterations
  return {imagesPerSecond: 1000 / ms, msPerImage: ms}
}
