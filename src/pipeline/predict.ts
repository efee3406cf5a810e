/**
 * `poster predict` as a straight line: discover the inputs → pick this shard's share → batches through the model
 * (eval's preprocessing, same module) → one predictions.csv row per input, appended and synced as each batch
 * finishes, optionally a landmark/label overlay per image.
 *
 * Guarantees:
 * - every input of the shard gets exactly one row, status ok or error (with a reason), in discovery order (paths
 *   sorted by UTF-16 code units), so reruns, resumed runs and merged shards give the same file byte for byte;
 * - an existing output is never replaced: without `resume` it is an error; with `resume` its complete rows are
 *   kept, a row cut short by a kill is dropped, and only the inputs it lacks are run and appended;
 * - overlays are written (atomically) before their row, so a row on disk means its overlay is there too.
 */
import {existsSync} from 'node:fs'
import {prepareOutputDir, prepareOutputFile} from '../files.js'
import path from 'node:path'

import {discoverImages, isPredictVideo, type Discovered} from '../datasets/folder.js'
import {codeUnitCompare} from '../datasets/fsutil.js'
import {formatShard, selectShard, type Shard} from '../datasets/shard.js'
import type {DatasetItem} from '../datasets/types.js'
import {argmax, softmax} from '../metrics/classification.js'
import {PREPROCESS} from '../image/preprocess.js'
import {predictColumns, type PredictionRow} from '../report/predictions-csv.js'
import {writeFileAtomic} from '../basics.js'
import {resolveBatchSize, type BatchSizeSetting} from '../runtime/batch-size.js'
import {openFaceStage} from '../faces/stage.js'
import type {FaceStage, FacesMode} from '../faces/types.js'
import {mapLandmarks, readItemBytes} from './inputs.js'
import {openModel, type ComputeDtype, type OpenedModel} from './model.js'
import {runLoop} from './run-loop.js'
import {openRunOutput, type RunOutput} from './run-output.js'
import {predictOutPath, predictOutputs, type PredictOptions, type PredictSummary} from './predict-options.js'
import {facesOverlaySvg, overlayNames, type OverlayFace} from '../report/overlay.js'

export {DEFAULT_PREDICT_OUT, predictOutPath, type PredictOptions, type PredictSummary} from './predict-options.js'
export {facesOverlaySvg, overlayNames, overlaySvg, type OverlayFace} from '../report/overlay.js'
export type {VideoOptions} from './predict-options.js'

/**
 * Whether an image looks like a face crop (what POSTER++ expects under --faces whole): near square and not large.
 * A photo (4:3, 16:9, or thousands of pixels a side) is not; predict hints --faces detect for those.
 */
export function looksLikeFaceCrop(width: number, height: number): boolean {
  const aspect = Math.max(width, height) / Math.max(1, Math.min(width, height))
  return aspect <= 1.25 && Math.max(width, height) <= 1024
}

function describeDiscovery(d: Discovered): string[] {
  const lines = [...d.notes]
  for (const e of d.excluded) lines.push(`left out ${e.count}: ${e.reason}`)
  return lines
}

/** Discover inputs (as predict and merge --inputs do), sorted, de-duplicated. */
export async function discoverPredictInputs(inputs: string[], recursive = false): Promise<Discovered> {
  const d = await discoverImages(inputs, {recursive})
  // discoverImages sorts by relPath already; keep the order explicit, it is what shards and merge rely on.
  d.items.sort((a, b) => codeUnitCompare(a.relPath, b.relPath))
  return d
}

export async function predict(opts: PredictOptions): Promise<PredictSummary> {
  const status = opts.onStatus ?? (() => {})
  const warnings: string[] = []
  if (opts.inputs.length === 0) throw new Error('no inputs: give image files or folders')
  const discovered = await discoverPredictInputs(opts.inputs, opts.recursive)
  for (const line of describeDiscovery(discovered)) status(line)

  const shard = opts.shard && opts.shard.count > 1 ? opts.shard : undefined
  const items = selectShard(discovered.items, shard)
  if (shard) {
    status(`shard ${formatShard(shard)} (from ${shard.source}): ${items.length} of ${discovered.items.length} images`)
    if (items.length === 0) warnings.push(`shard ${formatShard(shard)} has no images (${discovered.items.length} inputs in all)`)
  }

  const output = predictOutPath(opts.out, shard)
  await prepareOutputFile(output)
  if (!opts.resume && existsSync(output)) {
    throw new Error(`${output} already exists; pass --resume to continue it, or remove it (or choose another --out)`)
  }
  if (opts.overlay) await prepareOutputDir(opts.overlay, '--overlay')
  if (opts.saveCrops) await prepareOutputDir(opts.saveCrops, '--save-crops')

  const model = await openModel(opts.model, {
    device: opts.device,
    dtype: opts.dtype,
    threads: opts.threads,
    labels: opts.labels,
    onStatus: (_stage, message) => status(message),
    onDownloadProgress: opts.onDownloadProgress,
  })
  try {
    const sized = {...opts, batchSize: await resolveBatchSize(opts.batchSize, model.session.device, 32, status)}
    // Inputs that include videos (before sharding, so every shard writes the same columns) take the video flow.
    if (discovered.items.some((i) => isPredictVideo(i.path))) {
      return await (await import('./video.js')).predictWithVideos(sized, model, {discovered, items, shard, output, warnings})
    }
    return await predictWithModel(sized, model, {discovered, items, shard, output, warnings})
  } finally {
    await model.session.release()
  }
}

async function predictWithModel(
  opts: PredictOptions,
  model: OpenedModel,
  run: {discovered: Discovered; items: DatasetItem[]; shard: Shard | undefined; output: string; warnings: string[]},
): Promise<PredictSummary> {
  const status = opts.onStatus ?? (() => {})
  const {items, warnings, shard} = run
  const C = model.numClasses
  const {classes, wantLandmarks} = predictOutputs(opts, model, warnings)
  const mode: FacesMode = opts.faces ?? 'whole'
  const stage: FaceStage = await openFaceStage({mode, size: opts.faceSize})
  const decode = {formats: 'all' as const, ...(opts.maxPixels === undefined ? {} : {limitInputPixels: opts.maxPixels})}

  let output: RunOutput
  try {
    output = await openRunOutput(run.output, {
      columns: predictColumns(classes, {landmarks: opts.landmarks, faces: mode === 'detect' ? 'detect' : 'none'}),
      classNames: classes,
      resume: opts.resume,
      identity: {
        kind: 'predict',
        model: {sha256: model.sha256, labels: classes, ...(model.dtype === 'fp16' ? {dtype: 'fp16'} : {})},
        preprocess: {size: PREPROCESS.size, resize: PREPROCESS.resize, mean: PREPROCESS.mean, std: PREPROCESS.std, formats: decode.formats, max_pixels: opts.maxPixels ?? null},
        ...stage.identity(),
      },
    })
  } catch (e) {
    await stage.release()
    throw e
  }
  const started = performance.now()
  let ok = 0
  let errors = 0
  let processed = 0
  let skipped = 0
  const faces = {mode, found: 0, images_without_face: 0, crops_saved: 0}
  const count = (rows: ReadonlyArray<{status?: string}>) => {
    const st = rows[0]?.status
    if (st === 'error') errors++
    else ok++
    if (st === 'no_face') faces.images_without_face++
    if (mode === 'detect' && st === 'ok') faces.found += rows.length
  }
  try {
    for (const w of output.warnings) warnings.push(w)
    // Rows already in a resumed file, by path; rows for paths that are not among this run's inputs stay as they are.
    const wanted = new Set(items.map((i) => i.relPath))
    let foreign = 0
    for (const [p, recs] of output.done) {
      if (!wanted.has(p)) {
        foreign += recs.length
        continue
      }
      skipped++
      count(recs)
    }
    if (foreign > 0) warnings.push(`${run.output} holds ${foreign} rows for images that are not among this run's inputs; they are kept as they are`)
    if (skipped > 0) status(`resuming: ${skipped} of ${items.length} images already in ${run.output}`)

    const todo = items.filter((i) => !output.done.has(i.relPath))
    const names = opts.overlay || opts.saveCrops ? overlayNames(run.discovered.items) : undefined
    const sharpFns = opts.overlay || opts.saveCrops ? await import('../image/sharp.js') : undefined
    let hinted = false

    let progressed = skipped
    opts.onProgress?.(progressed, items.length)
    await runLoop<{faces: OverlayFace[]; width: number; height: number}>({
      session: model.session,
      units: todo.map((item) => ({item})),
      output,
      stage,
      decode,
      keepCrops: Boolean(opts.saveCrops),
      batchSize: typeof opts.batchSize === 'number' ? opts.batchSize : 32,
      landmarks: wantLandmarks,
      toRows(item, o) {
        if (!o.ok) return {rows: [{path: item.relPath, status: 'error', error: o.error ?? 'unknown error'}]}
        if (o.inputs.length === 0) return {rows: [{path: item.relPath, status: 'no_face', extra: {faces: 0}}]}
        const rows: PredictionRow[] = []
        const drawn: OverlayFace[] = []
        for (const {input, output: out} of o.inputs) {
          const probs = softmax(out.logits, C)
          const row: PredictionRow = {path: item.relPath, status: 'ok', probs}
          if (input.face) row.face = input.face
          const pixels = out.landmarks ? mapLandmarks(out.landmarks, input.toOriginal) : undefined
          if (opts.landmarks && pixels) row.landmarks = pixels
          rows.push(row)
          const pred = argmax(probs)
          const f = input.face
          drawn.push({
            label: `${classes[pred]} ${(probs[pred]! * 100).toFixed(1)}%`,
            landmarks: pixels,
            box: f?.box,
            points: f?.eyeR && f.eyeL && f.nose && f.mouth ? [f.eyeR, f.eyeL, f.nose, f.mouth] : undefined,
          })
        }
        const first = o.inputs[0]!.input
        if (mode === 'whole' && !hinted && !looksLikeFaceCrop(first.width, first.height)) {
          hinted = true
          const hint = `${item.relPath} is ${first.width}×${first.height}: it looks like a photo, not a face crop; POSTER++ expects one face filling the image. Pass --faces detect to find and align the faces.`
          warnings.push(hint)
        }
        return {rows, extra: {faces: drawn, width: first.width, height: first.height}}
      },
      // Overlays and crops before rows: a row on disk means its files are complete, and one that cannot be
      // written (a full disk) stops the run before its rows are committed, so --resume redoes them.
      beforeCommit: async (units) => {
        if (!names || !sharpFns) return
        await Promise.all(
          units.map(async (u) => {
            if (!u.extra) return
            const name = names.get(u.item.relPath)!
            const writes: Array<{target: string; crop: boolean; make: () => Promise<Uint8Array>}> = []
            if (opts.overlay) {
              const svg = facesOverlaySvg(u.extra.width, u.extra.height, u.extra.faces)
              writes.push({target: path.join(opts.overlay, name), crop: false, make: async () => sharpFns.compositeSvgOnImage(await readItemBytes(u.item), svg, {...decode, path: u.item.relPath})})
            }
            if (opts.saveCrops && mode !== 'whole') {
              u.outcome.inputs.forEach(({input}, k) => {
                const crop = input.crop
                if (crop) writes.push({target: path.join(opts.saveCrops!, name.replace(/\.png$/, `-face${k}.png`)), crop: true, make: () => sharpFns.encodePng(crop.data, crop.width, crop.height)})
              })
            }
            for (const w of writes) {
              try {
                await writeFileAtomic(w.target, await w.make())
              } catch (e) {
                throw new Error(`${w.crop ? 'face crop' : 'overlay'} ${w.target} could not be written (${(e as Error).message}); its row was not written either, so --resume redoes it`)
              }
              if (w.crop) faces.crops_saved++
            }
          }),
        )
      },
      afterCommit: async (units) => {
        for (const u of units) count(u.rows)
        const rows = units.flatMap((u) => u.rows)
        processed += units.length
        progressed += units.length
        opts.onProgress?.(progressed, items.length)
        await opts.onBatch?.(rows)
      },
    })
  } finally {
    await output.close()
    await stage.release()
  }
  const secs = (performance.now() - started) / 1000
  if (errors > 0) status(`${errors} of ${items.length} images could not be read (status=error rows in ${run.output})`)
  return {
    output: run.output,
    images: items.length,
    ok,
    errors,
    skipped_resumed: skipped,
    shard: shard ? {index: shard.index + 1, count: shard.count, source: shard.source} : null,
    classes,
    images_per_s: processed > 0 ? Math.round((processed / Math.max(secs, 1e-9)) * 100) / 100 : 0,
    discovered: run.discovered.items.length,
    overlay: opts.overlay ?? null,
    faces,
    warnings,
  }
}
