/**
 * The benchmark's samples turned into its result sections: medians over runs, and the ratios that compare one
 * measurement with another (eval and predict over model-only, ONNX over PyTorch eager).
 */
import {stat} from 'node:fs/promises'

import type {ConvertMeasurement, EvalMeasurement, ModelMeasurement, PairMeasurement, PredictMeasurement, PreprocessMeasurement} from './measure.js'
import {medianOf, summarize} from './stats.js'
import type {
  AnyMeasurement,
  ConvertEntry,
  EvalEntry,
  Int8Entry,
  ModelEntry,
  PredictEntry,
  PreprocessEntry,
  Sample,
  TorchEntry,
  TorchMeasurement,
} from './types.js'

/** The samples collected under each job key (plan.ts), as the runner fills them. */
export type SampleSets = ReadonlyMap<string, ReadonlyArray<Sample<AnyMeasurement>>>

/** The samples under `key` that are measurements of `kind` (a key only ever holds one kind). */
export function samplesOf<K extends AnyMeasurement['kind']>(sets: SampleSets, key: string, kind: K): Array<Sample<Extract<AnyMeasurement, {kind: K}>>> {
  return (sets.get(key) ?? []).filter((s): s is Sample<Extract<AnyMeasurement, {kind: K}>> => s.kind === kind)
}

export function predictEntry(
  size: string,
  folder: string,
  samples: Array<Sample<PredictMeasurement>>,
  modelRate: number | undefined,
): PredictEntry | undefined {
  if (samples.length === 0) return undefined
  const first = samples[0]!
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  const batchRate = medianOf(samples, (s) => s.batchImagesPerSecond) ?? 0
  return {
    size,
    folder,
    batch: first.batch,
    images: first.images,
    rows: first.rows,
    landmarks: first.landmarks,
    ...(first.landmarksNote ? {landmarksNote: first.landmarksNote} : {}),
    columns: first.columns,
    csvBytes: first.csvBytes,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    setupSeconds: medianOf(samples, (s) => s.setupSeconds) ?? 0,
    batchSeconds: medianOf(samples, (s) => s.batchSeconds) ?? 0,
    batchImagesPerSecond: batchRate,
    finishSeconds: medianOf(samples, (s) => s.finishSeconds) ?? 0,
    pipelineImagesPerSecond: medianOf(samples, (s) => s.pipelineImagesPerSecond) ?? 0,
    batchRatioToModel: modelRate ? batchRate / modelRate : undefined,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function modelEntry(graph: ModelEntry['graph'], batch: number, samples: Array<Sample<ModelMeasurement>>): ModelEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  return {
    graph,
    batch,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    sessionMs: summarize(samples.map((s) => s.sessionMs)),
    warmupMs: medianOf(samples, (s) => s.warmupMs) ?? 0,
    callMsMedian: medianOf(samples, (s) => s.callMsMedian) ?? 0,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function preprocessEntry(size: string, samples: Array<Sample<PreprocessMeasurement>>): PreprocessEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  return {
    size,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    concurrentImagesPerSecond: summarize(samples.map((s) => s.concurrentImagesPerSecond)),
    concurrency: samples[0]!.concurrency,
    decodeMs: medianOf(samples, (s) => s.decodeMs) ?? 0,
    resizeMs: medianOf(samples, (s) => s.resizeMs) ?? 0,
    tensorMs: medianOf(samples, (s) => s.tensorMs) ?? 0,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function evalEntry(size: string, batch: number, samples: Array<Sample<EvalMeasurement>>, modelRate: number | undefined): EvalEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.imagesPerSecond))
  const classifyRate = medianOf(samples, (s) => s.classifyImagesPerSecond) ?? 0
  return {
    size,
    batch,
    images: samples[0]!.images,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    setupSeconds: medianOf(samples, (s) => s.setupSeconds) ?? 0,
    classifySeconds: medianOf(samples, (s) => s.classifySeconds) ?? 0,
    finishSeconds: medianOf(samples, (s) => s.finishSeconds) ?? 0,
    classifyImagesPerSecond: classifyRate,
    preprocessWaitSeconds: medianOf(samples, (s) => s.preprocessWaitSeconds) ?? 0,
    inferenceSeconds: medianOf(samples, (s) => s.inferenceSeconds) ?? 0,
    ratioToModel: modelRate ? rate.median / modelRate : undefined,
    classifyRatioToModel: modelRate ? classifyRate / modelRate : undefined,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function convertEntry(samples: Array<Sample<ConvertMeasurement>>, checkpoint: string | undefined): ConvertEntry | undefined {
  if (samples.length === 0) return undefined
  const first = samples[0]!
  const what =
    first.source === 'checkpoint'
      ? `convertCheckpoint ${checkpoint ?? ''} → ${first.dtype} ONNX (read + graph build + write)`.replace('  ', ' ')
      : `writeDeterministicModel → ${first.dtype} ONNX (weights generated + graph build + write; no checkpoint read)`
  return {
    source: first.source,
    dtype: first.dtype,
    what,
    seconds: summarize(samples.map((s) => s.seconds)),
    bytes: first.bytes,
    readSeconds: medianOf(samples, (s) => s.readSeconds),
    buildSeconds: medianOf(samples, (s) => s.buildSeconds),
    writeSeconds: medianOf(samples, (s) => s.writeSeconds),
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

/** PyTorch eager at one batch size, and the converted ONNX model-only rate over it. */
export function torchEntry(batch: number, samples: Array<Sample<TorchMeasurement>>, onnxRate: number | undefined): TorchEntry | undefined {
  if (samples.length === 0) return undefined
  const rate = summarize(samples.map((s) => s.images_per_s))
  return {
    batch,
    images: medianOf(samples, (s) => s.images) ?? 0,
    imagesPerSecond: rate,
    msPerImage: 1000 / rate.median,
    warmupMs: medianOf(samples, (s) => s.warmup_ms) ?? 0,
    peakRssMb: medianOf(samples, (s) => s.peak_rss_mb) ?? 0,
    onnxSpeedup: onnxRate === undefined ? undefined : onnxRate / rate.median,
    samples,
  }
}

/** The int8 part: the conversion (once) and the paired float32/int8 runs per batch size. */
export async function int8Entry(
  model: string,
  float32: string,
  conversion: Sample<ConvertMeasurement> | undefined,
  perBatch: Array<Array<Sample<PairMeasurement>>>,
): Promise<Int8Entry> {
  const float32Bytes = await stat(float32).then((s) => s.size, () => undefined)
  return {
    model,
    ...(conversion
      ? {
          conversion: {
            seconds: conversion.seconds,
            bytes: conversion.bytes,
            ...(float32Bytes !== undefined ? {float32Bytes} : {}),
            peakRssMb: conversion.peakRssMb,
            ...(conversion.int8 ? {report: conversion.int8} : {}),
          },
        }
      : {}),
    batches: perBatch.flatMap((samples) =>
      samples.length === 0
        ? []
        : [{
            batch: samples[0]!.batch,
            calls: samples[0]!.calls,
            float32ImagesPerSecond: summarize(samples.map((s) => s.float32.imagesPerSecond)),
            int8ImagesPerSecond: summarize(samples.map((s) => s.int8.imagesPerSecond)),
            speedup: summarize(samples.map((s) => s.speedup)),
            peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
            samples,
          }],
    ),
  }
}
