/**
 * The `faces` part of `poster bench`: what --faces detect adds to POSTER++ on a 640×480 photo with one face
 * (Grace Hopper's portrait, test/fixtures/faces/photos). In one child process, alternately: the face stage on the
 * decoded photo (BlazeFace's looks, alignment to the 100×100 crop) and POSTER++ on that crop at batch 1; the ratio
 * of the two medians is the cost of finding faces relative to scoring them, measured side by side so the
 * machine's speed and load cancel out.
 * Self-contained: the job (measureFaces), the entry (facesEntry) and its table row (facesRows) live here.
 */
import {fileURLToPath} from 'node:url'

import {INPUT_NUMEL, INPUT_SIZE} from '../basics.js'
import {medianOf, summarize, type Sample, type Summary} from './stats.js'
import {formatNumber, type TableRow} from './table.js'

export const FACES_PHOTO = fileURLToPath(new URL('../../test/fixtures/faces/photos/hopper-640x480.jpg', import.meta.url))
export const FACES_ITERATIONS = {full: 30, quick: 8} as const

export interface FacesJob {
  kind: 'faces'
  photo: string
  model: string
  threads: number
  iterations: number
}

export interface FacesMeasurement {
  kind: 'faces'
  faces: number
  detectMs: number
  modelMs: number
  ratio: number
}

export interface FacesEntry {
  photo: string
  detectMs: Summary
  modelMs: Summary
  ratio: Summary
  faces: number
  peakRssMb: number
  samples: Array<Sample<FacesMeasurement>>
}

export async function measureFaces(job: FacesJob): Promise<FacesMeasurement> {
  const [{decodeRgb}, {detectStage}, {openSession}, {resizeForModel}, {toTensorInto}] = await Promise.all([
    import('../image/sharp.js'),
    import('../faces/stage.js'),
    import('../runtime/session.js'),
    import('../image/preprocess.js'),
    import('../image/to-tensor.js'),
  ])
  const img = await decodeRgb(job.photo)
  const stage = await detectStage()
  const session = await openSession(job.model, {threads: job.threads})
  const tensor = new Float32Array(INPUT_NUMEL)
  const detect: number[] = []
  const model: number[] = []
  let faces = 0
  try {
    for (let i = -2; i < job.iterations; i++) {
      const t0 = performance.now()
      const crops = await stage.crops(img, {relPath: job.photo})
      const t1 = performance.now()
      faces = crops.length
      if (crops.length === 0) throw new Error(`no face found in ${job.photo}`)
      const resized = resizeForModel(crops[0]!.image)
      toTensorInto(resized.data, INPUT_SIZE, INPUT_SIZE, tensor, 0)
      const t2 = performance.now()
      await session.run(tensor, 1)
      const t3 = performance.now()
      if (i < 0) continue // warm-up
      detect.push(t1 - t0)
      model.push(t3 - t2)
    }
  } finally {
    await stage.release()
    await session.release()
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
  return {kind: 'faces', faces, detectMs: med(detect), modelMs: med(model), ratio: med(detect) / med(model)}
}

export function facesEntry(samples: Array<Sample<FacesMeasurement>>): FacesEntry | undefined {
  if (samples.length === 0) return undefined
  return {
    photo: FACES_PHOTO,
    detectMs: summarize(samples.map((s) => s.detectMs)),
    modelMs: summarize(samples.map((s) => s.modelMs)),
    ratio: summarize(samples.map((s) => s.ratio)),
    faces: samples[0]!.faces,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function facesRows(f: FacesEntry | undefined): TableRow[] {
  if (!f) return []
  return [{
    measurement: '--faces detect on a 640×480 photo, one face (detect + align)',
    batch: 1,
    imagesPerSecond: 1000 / f.detectMs.median,
    msPerImage: f.detectMs.median,
    peakRssMb: f.peakRssMb,
    notes: `${formatNumber(f.detectMs.median)} ms against POSTER++ ${formatNumber(f.modelMs.median)} ms at batch 1 in the same process: +${(f.ratio.median * 100).toFixed(1)}% (goal ≤ 15%); ${f.ratio.n} run${f.ratio.n > 1 ? 's' : ''}`,
  }]
}

