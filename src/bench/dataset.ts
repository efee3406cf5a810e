/**
 * The `dataset` part of `poster bench`: `poster dataset check` on a generated set of distinct 100×100 JPEGs (a CSV
 * manifest; 20,000 by default, --dataset-images or plan.datasetImages to change it), end to end in one child
 * process: listing, every image read, decoded as eval decodes it and hashed, exact and near duplicates searched.
 * Reports images/s and the child's peak RSS, and checks the verdict: the generated set is clean, so any problem
 * found is a failure of the measurement.
 * Self-contained: the set (prepareDatasetSet), the job (measureDatasetCheck), the entry and its table row.
 */
import {existsSync} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import {join} from 'node:path'

import {medianOf, summarize, type Summary} from './stats.js'
import {formatDuration, formatNumber, type TableRow} from './table.js'
import type {Sample} from './stats.js'

export const DATASET_IMAGES = {full: 20_000, quick: 1_000} as const

export interface DatasetCheckJob {
  kind: 'dataset-check'
  manifest: string
  images: number
}

export interface DatasetCheckMeasurement {
  kind: 'dataset-check'
  images: number
  seconds: number
  imagesPerSecond: number
  /** Candidate near pairs the hashes proposed (all rejected on a clean set) and hash comparisons made. */
  nearCandidates: number
  comparisons: number
}

export interface DatasetCheckEntry {
  images: number
  imagesPerSecond: Summary
  seconds: number
  nearCandidates: number
  comparisons: number
  peakRssMb: number
  samples: Array<Sample<DatasetCheckMeasurement>>
}

/** The manifest of `count` distinct 100×100 JPEGs in the work folder, written once (through a temporary name). */
export async function prepareDatasetSet(workDir: string, count: number, status: (m: string) => void): Promise<string> {
  const root = join(workDir, 'data', `distinct-100x100-${count}`)
  const csv = join(root, 'set.csv')
  if (existsSync(csv)) return csv
  status(`writing ${count} distinct 100×100 JPEGs and their manifest → ${root}`)
  const {writeDistinctSet} = await import('../datasets/synthetic.js')
  const partial = `${root}.partial-${process.pid}`
  await rm(partial, {recursive: true, force: true})
  await writeDistinctSet(partial, count, {seed: 2303})
  await rm(root, {recursive: true, force: true})
  await rename(partial, root)
  return csv
}

export async function measureDatasetCheck(job: DatasetCheckJob): Promise<DatasetCheckMeasurement> {
  const {checkDataset} = await import('../dataset-tools/check.js')
  const t0 = performance.now()
  const {result} = await checkDataset(job.manifest)
  const seconds = (performance.now() - t0) / 1000
  if (result.images !== job.images) throw new Error(`dataset check read ${result.images} images; expected ${job.images}`)
  if (!result.clean) {
    const found = Object.entries(result.counts).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')
    throw new Error(`dataset check found problems in the generated set, which has none: ${found}`)
  }
  return {kind: 'dataset-check', images: result.images, seconds, imagesPerSecond: result.images / seconds, nearCandidates: result.near.candidates, comparisons: result.near.comparisons}
}

export function datasetCheckEntry(samples: Array<Sample<DatasetCheckMeasurement>>): DatasetCheckEntry | undefined {
  if (samples.length === 0) return undefined
  return {
    images: samples[0]!.images,
    imagesPerSecond: summarize(samples.map((s) => s.imagesPerSecond)),
    seconds: medianOf(samples, (s) => s.seconds) ?? 0,
    nearCandidates: samples[0]!.nearCandidates,
    comparisons: samples[0]!.comparisons,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function datasetCheckRows(d: DatasetCheckEntry | undefined): TableRow[] {
  if (!d) return []
  return [{
    measurement: `dataset check, ${d.images} × 100×100 JPEG (manifest)`,
    imagesPerSecond: d.imagesPerSecond.median,
    msPerImage: 1000 / d.imagesPerSecond.median,
    peakRssMb: d.peakRssMb,
    notes: `${formatDuration(d.seconds)}: read, decoded, SHA-256 + 49 pHashes each, exact and near duplicates searched (${formatNumber(d.comparisons / 1e6)}M hash comparisons, ${d.nearCandidates} candidates confirmed or rejected); ${d.imagesPerSecond.n} run${d.imagesPerSecond.n > 1 ? 's' : ''}`,
  }]
}
