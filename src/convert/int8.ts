/**
 * `poster convert --dtype int8`: the float32 POSTER++ graph → calibrated QDQ int8 graph.
 *
 *   1. plan which nodes compute in int8 (qdq.ts; the parts measured to be sensitive stay float32);
 *   2. run the float graph on the calibration images with every tensor to be quantised as an extra output and
 *      observe its values (calibrate.ts, ranges.ts);
 *   3. for each range method (min/max and two percentiles), build the int8 graph and measure it against float32 on
 *      held-out images of the same source; keep the one with the smallest mean logit error;
 *   4. verify in the graph onnxruntime optimises for this CPU that the int8 kernels are there (QLinearConv, ...).
 * The model's metadata says it is int8, what it was calibrated on and how it compared on the held-out images.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'

import type {NodeDef, OnnxModel} from '../onnx/graph.js'
import {readOpCounts} from '../onnx/op-counts.js'
import {writeModel} from '../onnx/write.js'
import {agreement, type Agreement} from './agreement.js'
import {calibrationImages, imageBatches, observeRanges, runModel, spreadEvenly, type CalibrationListing} from './calibrate.js'
import {batchNormToDepthwiseConv, tilePreluSlopes} from './rewrites.js'
import {applyQdq, planQdq, type QdqPolicy, type Range} from './qdq.js'
import type {RangeMethod, RangeObserver} from './ranges.js'
import {
  DEFAULT_CALIBRATION_IMAGES,
  DEFAULT_PERCENTILE,
  describeRangeCandidate,
  HELDOUT_IMAGES,
  RANGE_CANDIDATES,
  type CalibrationMethod,
  type RangeCandidate,
} from './int8-settings.js'

/** A part of POSTER++ kept in float32 in the int8 graph, by node name. */
export interface FloatPart {
  name: string
  test: (n: NodeDef) => boolean
}

/**
 * The landmark branch (MobileFaceNet, 49 convolutions and 33 PRelus on the 112×112 face). Measured on the
 * deterministic weights (README, "int8 on the CPU"): in int8 it moves the landmarks 7× further from float32
 * (15.8 px against 2.1 px mean on a 112×112 face) and the logits not at all, for about a fifth of the int8 graph's
 * speed; so it stays float32 unless --landmark-branch int8 asks otherwise. Its landmark head alone (the GDC
 * depthwise 7×7 and linear layer) costs nearly nothing in float32 and is never quantised.
 */
export const LANDMARK_BRANCH: FloatPart = {name: 'landmark branch (MobileFaceNet)', test: (n) => n.name.startsWith('face_landback.')}
export const LANDMARK_HEAD: FloatPart = {name: 'landmark head (face_landback.output_layer)', test: (n) => n.name.startsWith('face_landback.output_layer')}

/** What stays float32: the landmark branch (default) or only its head. */
export function floatParts(landmarkBranch: 'float' | 'int8' = 'float'): FloatPart[] {
  return landmarkBranch === 'float' ? [LANDMARK_BRANCH] : [LANDMARK_HEAD]
}

export interface Int8Options {
  /** Dataset or folder of images of the kind the model will see. */
  calibrate: string
  calibrationImages?: number
  method?: CalibrationMethod
  /** 127 (default) or 63: 7-bit weights for x86 CPUs without VNNI (see qdq.ts). */
  weightMax?: number
  /** The MobileFaceNet landmark branch in float32 (default: landmarks close to float32) or in int8 (faster). */
  landmarkBranch?: 'float' | 'int8'
  threads?: number
  onStatus?: (message: string) => void
}

export interface CandidateResult {
  method: RangeMethod
  percentile?: number
  /** Agreement with float32 on the held-out images. */
  heldout?: Agreement
}

export interface Int8Report {
  calibration: CalibrationListing['from'] & {images: number; skipped: number; notes: string[]}
  method: RangeMethod
  percentile?: number
  /** Why this method: measured or asked for. */
  chosenBy: 'held-out logit error' | 'asked for' | 'default (too few images to hold some out)'
  candidates: CandidateResult[]
  heldoutImages: number
  floatParts: string[]
  /** How many nodes of the QDQ graph compute in int8. */
  int8Nodes: number
  /** Node counts per op type of the graph onnxruntime optimised for this CPU (QLinearConv, QGemm, ...). */
  optimizedOps: Record<string, number>
  preluTiled: number
  /** BatchNormalizations computed as depthwise 1×1 QLinearConv. */
  batchNormsAsConv: number
  weightMax: number
  /** Int8 nodes onnxruntime did not fuse into its int8 kernels (they then run in float32 between Q and DQ). */
  warnings: string[]
  seconds: {calibrate: number; select: number; verify: number}
}

/** Quantise a built float32 POSTER++ model. Returns the int8 model (metadata filled in) and the report. */
export async function quantizePosterModel(built: OnnxModel, opts: Int8Options): Promise<{model: OnnxModel; report: Int8Report}> {
  const status = opts.onStatus ?? (() => {})
  const {model: float, rewritten: batchNorms} = batchNormToDepthwiseConv(built)
  const weightMax = opts.weightMax ?? 127
  const kept = floatParts(opts.landmarkBranch)
  const policy: QdqPolicy = {weightMax, keepFloat: (n) => kept.some((p) => p.test(n))}
  const plan = planQdq(float, policy)

  const listing = await calibrationImages(opts.calibrate)
  const wanted = Math.max(1, Math.floor(opts.calibrationImages ?? DEFAULT_CALIBRATION_IMAGES))
  const method = opts.method ?? 'auto'
  // Hold images out only to choose the method, and only when the source has enough beyond the calibration set.
  const heldCount = method === 'auto' ? Math.min(HELDOUT_IMAGES, Math.max(0, listing.paths.length - wanted)) : 0
  const held = heldCount >= 8 ? spreadEvenly(listing.paths, heldCount) : []
  const heldSet = new Set(held)
  const calPaths = spreadEvenly(listing.paths.filter((p) => !heldSet.has(p)), wanted)

  const tmp = await mkdtemp(join(tmpdir(), 'poster-int8-'))
  try {
    const t0 = performance.now()
    status(`calibrating on ${calPaths.length} images of ${listing.from.source} (${plan.sources.length} tensors observed)`)
    let skipped = 0
    const {observers, images, shapes} = await observeRanges(float, plan, calPaths, {
      tmpDir: tmp,
      threads: opts.threads,
      onSkip: () => skipped++,
      onProgress: (() => {
        let last = 0
        return (done: number, total: number) => {
          const now = performance.now()
          if (done < total && now - last < 5000) return
          last = now
          status(`calibrating: ${done}/${total} images`)
        }
      })(),
    })
    const {model: tiledFloat, tiled} = tilePreluSlopes(float, shapes)
    const t1 = performance.now()

    const candidates: CandidateResult[] = []
    let chosen: RangeCandidate
    let chosenBy: Int8Report['chosenBy']
    let best: OnnxModel | undefined
    const bestPath = join(tmp, 'int8.onnx')
    if (method === 'auto' && held.length > 0) {
      const heldBatches: Array<{data: Float32Array; n: number}> = []
      for await (const b of imageBatches(held, 8, () => {})) heldBatches.push({data: Float32Array.from(b.data), n: b.n})
      const floatPath = join(tmp, 'calibration.onnx') // the float graph with extra outputs: same logits and landmarks
      status(`float32 reference on ${held.length} held-out images`)
      const reference = await runModel(floatPath, heldBatches, {threads: opts.threads})
      let bestError = Infinity
      for (const c of RANGE_CANDIDATES) {
        status(`int8 with ${describeRangeCandidate(c)} ranges on the held-out images`)
        const model = applyQdq(tiledFloat, plan, rangesBy(observers, c), policy).model
        const path = join(tmp, 'candidate.onnx')
        await writeModel(model, path)
        const a = agreement(reference, await runModel(path, heldBatches, {threads: opts.threads}))
        candidates.push({...c, heldout: a})
        if (a.logitMeanAbs < bestError) {
          bestError = a.logitMeanAbs
          best = model
          chosen = c
        }
      }
      chosenBy = 'held-out logit error'
    } else {
      chosen = method === 'minmax' ? {method: 'minmax'} : {method: 'percentile', percentile: DEFAULT_PERCENTILE}
      chosenBy = method === 'auto' ? 'default (too few images to hold some out)' : 'asked for'
      candidates.push({...chosen})
    }
    const t2 = performance.now()
    best ??= applyQdq(tiledFloat, plan, rangesBy(observers, chosen!), policy).model

    status('checking which kernels onnxruntime runs')
    await writeModel(best, bestPath)
    const optimized = join(tmp, 'optimized.onnx')
    const {writeOptimizedModel} = await import('../runtime/session.js')
    await writeOptimizedModel(bestPath, optimized, {threads: opts.threads})
    const optimizedOps = await readOpCounts(optimized)
    const t3 = performance.now()
    const warnings = kernelWarnings(float, plan.int8Nodes, optimizedOps)
    for (const w of warnings) status(`warning: ${w}`)

    const report: Int8Report = {
      calibration: {...listing.from, images, skipped, notes: listing.notes},
      method: chosen!.method,
      ...(chosen!.percentile !== undefined ? {percentile: chosen!.percentile} : {}),
      chosenBy,
      candidates,
      heldoutImages: held.length,
      floatParts: kept.map((p) => p.name),
      int8Nodes: plan.int8Nodes.size,
      optimizedOps,
      preluTiled: tiled,
      batchNormsAsConv: batchNorms,
      weightMax,
      warnings,
      seconds: {calibrate: s(t1 - t0), select: s(t2 - t1), verify: s(t3 - t2)},
    }
    const chosenResult = candidates.find((c) => c.method === chosen!.method && c.percentile === chosen!.percentile)
    best.metadata = {
      ...best.metadata,
      weights_dtype: 'int8',
      quantization: JSON.stringify({
        format: 'QDQ',
        weights: `int8, symmetric per output channel (|q| <= ${weightMax})`,
        activations: 'uint8, asymmetric per tensor',
        ranges: describeRangeCandidate(chosen!),
        chosen_by: chosenBy,
        float32_parts: report.floatParts,
        prelu: 'uint8: y + (a - 1) min(y, 0) as QLinearLeakyRelu, QLinearMul, QLinearAdd',
      }),
      calibration: JSON.stringify({
        source: basename(listing.from.source),
        layout: listing.from.layout,
        ...(listing.from.split ? {split: listing.from.split} : {}),
        images,
        ...(skipped ? {skipped} : {}),
        heldout_images: held.length,
        ...(chosenResult?.heldout
          ? {
              heldout_top1_agreement: round(chosenResult.heldout.top1, 4),
              heldout_logit_mean_abs_error: round(chosenResult.heldout.logitMeanAbs, 5),
              heldout_landmark_mean_error_px: chosenResult.heldout.landmarkMeanPx === null ? null : round(chosenResult.heldout.landmarkMeanPx, 3),
            }
          : {}),
      }),
    }
    return {model: best, report}
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

/** Compare the int8 Conv/Gemm/MatMul nodes planned with the int8 kernels in onnxruntime's optimised graph. */
export function kernelWarnings(model: OnnxModel, int8Nodes: ReadonlySet<string>, ops: Record<string, number>): string[] {
  const planned = (op: string) => model.graph.nodes.filter((n) => n.op === op && int8Nodes.has(n.name)).length
  const have = (...names: string[]) => names.reduce((sum, k) => sum + (ops[k] ?? 0), 0)
  const out: string[] = []
  const check = (op: string, kernels: string[]) => {
    const want = planned(op)
    const got = have(...kernels)
    if (got < want) out.push(`onnxruntime fused ${got} of the ${want} int8 ${op} nodes into ${kernels.join('/')}; the rest run in float32`)
  }
  check('Conv', ['QLinearConv'])
  check('MatMul', ['QLinearMatMul', 'MatMulIntegerToFloat'])
  check('Gemm', ['QGemm'])
  return out
}

function rangesBy(observers: Map<string, RangeObserver>, c: RangeCandidate): Map<string, Range> {
  const out = new Map<string, Range>()
  for (const [k, o] of observers) out.set(k, o.range(c.method, c.percentile ?? DEFAULT_PERCENTILE))
  return out
}

function s(ms: number): number {
  return Math.round(ms) / 1000
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

