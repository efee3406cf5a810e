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
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {discoverImages, isPredictVideo, type Discovered} from '../datasets/folder.js'
import {codeUnitCompare} from '../datasets/fsutil.js'
import {fnv1a32, formatShard, selectShard, type Shard} from '../datasets/shard.js'
import type {DatasetItem} from '../datasets/types.js'
import {argmax, softmax} from '../metrics/classification.js'
import {PREPROCESS} from '../image/preprocess.js'
import {predictColumns, type PredictionRow} from '../report/predictions-csv.js'
import {writeFileAtomic} from '../basics.js'
import {escapeXml} from '../report/xml.js'
import {resolveBatchSize, type BatchSizeSetting} from '../runtime/batch-size.js'
import type {Device} from '../runtime/session.js'
import {openFaceStage} from '../faces/stage.js'
import type {FaceStage, FacesMode} from '../faces/types.js'
import {mapLandmarks, readItemBytes} from './inputs.js'
import {openModel, type ComputeDtype, type OpenedModel} from './model.js'
import {runLoop} from './run-loop.js'
import {openRunOutput, type RunOutput} from './run-output.js'
import type {VideoOptions} from './video.js'

/** Default output file, in the current folder. */
export const DEFAULT_PREDICT_OUT = 'predictions.csv'

export interface PredictOptions {
  /** Image files and folders, as given on the command line. */
  inputs: string[]
  /** An .onnx file, a .pth checkpoint or a registry name. */
  model: string
  /** Output CSV (default predictions.csv, or predictions-K-of-N.csv when sharded); `{shard}` becomes K-of-N. */
  out?: string
  /** Add 136 landmark columns (pixels of the original image). */
  landmarks?: boolean
  /** Folder for one PNG per image with its landmarks and predicted label drawn. */
  overlay?: string
  recursive?: boolean
  /** A number, or auto (runtime/batch-size.ts); default 32. */
  batchSize?: BatchSizeSetting
  device?: Device
  /** fp16: compute in float16 (GPU devices; the command refuses it on the CPU). */
  dtype?: ComputeDtype
  threads?: number
  /** --labels: the model's class names (overrides its metadata). */
  labels?: string
  /** Continue an existing output instead of refusing it. */
  resume?: boolean
  /** This process's shard (resolveShard), or undefined for all inputs. */
  shard?: Shard
  /** Decompression-bomb guard: images with more pixels are error rows (default: Pillow's limit). */
  maxPixels?: number
  onStatus?: (message: string) => void
  onProgress?: (done: number, total: number) => void
  /** Bytes of a registry checkpoint being downloaded (total undefined when the server does not say). */
  onDownloadProgress?: (received: number, total: number | undefined) => void
  /** Called, and awaited, after each batch's rows are on disk. */
  onBatch?: (rows: readonly PredictionRow[]) => void | Promise<void>
  /** Frame sampling, smoothing and timelines for video inputs (see pipeline/video.ts). */
  video?: VideoOptions
  /** whole (default for images): the image is the face; detect: every face found, aligned, one row each. */
  faces?: FacesMode
  /** --faces detect: side of the aligned crop (default 100, as RAF-DB's aligned images). */
  faceSize?: number
  /** --faces detect: write each aligned crop here as <name>-face<k>.png. */
  saveCrops?: string
}

export interface PredictSummary {
  /** The CSV written (as given, or the default). */
  output: string
  /** Inputs this run is responsible for (this shard's, all of them when not sharded). */
  images: number
  /** Of `images`, rows with status ok / error, counting rows kept from a resumed file. */
  ok: number
  errors: number
  /** Inputs already in the output file (--resume), not run again. */
  skipped_resumed: number
  /** 1-based shard, as --shard takes it; null when not sharded. */
  shard: {index: number; count: number; source: string} | null
  /** The model's class names in output order (p_<class> columns). */
  classes: string[]
  /** Images run by this process per second of batch processing (model loading not counted). */
  images_per_s: number
  /** All inputs discovered, before sharding. */
  discovered: number
  overlay: string | null
  /** The face stage and what it found among this run's images (resumed rows counted). */
  faces: {mode: FacesMode; found: number; images_without_face: number; crops_saved: number}
  warnings: string[]
}

/** The output file for a run: `{shard}` in `out` becomes K-of-N; the default is per shard when sharded. */
export function predictOutPath(out: string | undefined, shard: Shard | undefined): string {
  const tag = shard ? `${shard.index + 1}-of-${shard.count}` : '1-of-1'
  if (out === undefined || out === '') return shard && shard.count > 1 ? `predictions-${tag}.csv` : DEFAULT_PREDICT_OUT
  return out.replaceAll('{shard}', tag)
}

/**
 * Overlay file names, one per discovered input: `<name without extension>.png`, and when two inputs would get the
 * same name (same base name in different folders, or a.jpg next to a.png) each of them gets `-<8 hex digits of
 * the path's hash>` added. Computed over all inputs before sharding, so shards name files as an unsharded run does.
 */
export function overlayNames(items: ReadonlyArray<Pick<DatasetItem, 'relPath'>>): Map<string, string> {
  const stemOf = (rel: string) => {
    const base = path.posix.basename(rel)
    const ext = path.posix.extname(base)
    return (ext ? base.slice(0, -ext.length) : base) || base
  }
  const groups = new Map<string, string[]>()
  for (const it of items) {
    const key = stemOf(it.relPath).toLowerCase() // case-insensitive file systems would collide too
    groups.set(key, [...(groups.get(key) ?? []), it.relPath])
  }
  const names = new Map<string, string>()
  for (const rels of groups.values()) {
    for (const rel of rels) {
      const stem = stemOf(rel)
      names.set(rel, rels.length === 1 ? `${stem}.png` : `${stem}-${fnv1a32(rel).toString(16).padStart(8, '0')}.png`)
    }
  }
  return names
}

/** What an overlay draws for one face: its label, and when known its box, alignment points and 68 landmarks. */
export interface OverlayFace {
  label: string
  landmarks?: ArrayLike<number>
  box?: {x: number; y: number; w: number; h: number}
  points?: Array<{x: number; y: number}>
}

/** An SVG the size of the image: 68 landmark dots and the predicted label with its confidence, top left. */
export function overlaySvg(width: number, height: number, landmarks: ArrayLike<number> | undefined, label: string): string {
  return facesOverlaySvg(width, height, [{label, landmarks}])
}

/**
 * An SVG the size of the image: per face its box, alignment points (eyes, nose, mouth), 68 landmark dots and the
 * predicted label with its confidence, at the box's top left (at the image's top left for a face without a box).
 */
export function facesOverlaySvg(width: number, height: number, faces: readonly OverlayFace[]): string {
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`]
  for (const f of faces) {
    const side = Math.max(1, f.box ? Math.min(f.box.w, f.box.h) * 2 : Math.min(width, height))
    const r = Math.max(1, side / 110)
    const font = Math.max(8, Math.round(side / 12))
    const pad = Math.max(2, Math.round(font / 4))
    const boxW = Math.min(width, Math.ceil(f.label.length * font * 0.62) + 2 * pad)
    const lx = f.box ? Math.max(0, Math.min(width - boxW, f.box.x)) : 0
    const ly = f.box ? Math.max(0, f.box.y - font - 2 * pad) : 0
    if (f.box) {
      const b = f.box
      parts.push(`<rect x="${b.x.toFixed(2)}" y="${b.y.toFixed(2)}" width="${b.w.toFixed(2)}" height="${b.h.toFixed(2)}" fill="none" stroke="#ffcc00" stroke-width="${Math.max(1, side / 120).toFixed(2)}"/>`)
    }
    parts.push(
      `<rect x="${lx.toFixed(2)}" y="${ly.toFixed(2)}" width="${boxW}" height="${font + 2 * pad}" fill="#000" fill-opacity="0.6"/>`,
      `<text x="${(lx + pad).toFixed(2)}" y="${(ly + pad + font * 0.85).toFixed(2)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#fff">${escapeXml(f.label)}</text>`,
    )
    const lm = f.landmarks
    if (lm) {
      for (let i = 0; i + 1 < lm.length; i += 2) {
        const x = lm[i]!
        const y = lm[i + 1]!
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue
        parts.push(`<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="${r.toFixed(2)}" fill="#00ff66" stroke="#003311" stroke-width="${(r / 3).toFixed(2)}"/>`)
      }
    }
    for (const p of f.points ?? []) {
      parts.push(`<circle cx="${p.x.toFixed(2)}" cy="${p.y.toFixed(2)}" r="${(1.8 * r).toFixed(2)}" fill="#ff3366" stroke="#330011" stroke-width="${(r / 3).toFixed(2)}"/>`)
    }
  }
  parts.push('</svg>')
  return parts.join('')
}

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
  if (!opts.resume && existsSync(output)) {
    throw new Error(`${output} already exists; pass --resume to continue it, or remove it (or choose another --out)`)
  }
  const dir = path.dirname(path.resolve(output))
  await mkdir(dir, {recursive: true})
  if (opts.overlay) await mkdir(opts.overlay, {recursive: true})

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
  let classes = model.labels
  if (!classes) {
    classes = Array.from({length: C}, (_, i) => `class_${i}`)
    warnings.push(`the model carries no class names (no 'labels' metadata, no --labels): columns are named class_0..class_${C - 1}`)
  }
  const hasLandmarks = model.session.landmarksName !== undefined
  if (opts.landmarks && !hasLandmarks) {
    throw new Error(`--landmarks: the model has no 'landmarks' output (outputs: ${model.session.signature.outputs.map((o) => o.name).join(', ')})`)
  }
  if (opts.overlay && !hasLandmarks) warnings.push("--overlay: the model has no 'landmarks' output; overlays show the predicted label only")
  const wantLandmarks = Boolean(opts.landmarks || (opts.overlay && hasLandmarks))
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
    if (opts.saveCrops) await mkdir(opts.saveCrops, {recursive: true})
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
