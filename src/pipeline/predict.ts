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
import type {Device} from '../runtime/session.js'
import {openFaceStage} from '../faces/stage.js'
import type {FaceStage, FacesMode} from '../faces/types.js'
import {mapLandmarks, readItemBytes} from './inputs.js'
import {openModel, type OpenedModel} from './model.js'
import {runLoop} from './run-loop.js'
import {openRunOutput} from './run-output.js'
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
  batchSize?: number
  device?: Device
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

/** An SVG the size of the image: 68 landmark dots and the predicted label with its confidence, top left. */
export function overlaySvg(width: number, height: number, landmarks: ArrayLike<number> | undefined, label: string): string {
  const side = Math.max(1, Math.min(width, height))
  const r = Math.max(1, side / 110)
  const font = Math.max(8, Math.round(side / 12))
  const pad = Math.max(2, Math.round(font / 4))
  const boxW = Math.min(width, Math.ceil(label.length * font * 0.62) + 2 * pad)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="0" width="${boxW}" height="${font + 2 * pad}" fill="#000" fill-opacity="0.6"/>`,
    `<text x="${pad}" y="${pad + font * 0.85}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#fff">${escapeXml(label)}</text>`,
  ]
  if (landmarks) {
    for (let i = 0; i + 1 < landmarks.length; i += 2) {
      const x = landmarks[i]!
      const y = landmarks[i + 1]!
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue
      parts.push(`<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="${r.toFixed(2)}" fill="#00ff66" stroke="#003311" stroke-width="${(r / 3).toFixed(2)}"/>`)
    }
  }
  parts.push('</svg>')
  return parts.join('')
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
    threads: opts.threads,
    labels: opts.labels,
    onStatus: (_stage, message) => status(message),
    onDownloadProgress: opts.onDownloadProgress,
  })
  try {
    // Inputs that include videos (before sharding, so every shard writes the same columns) take the video flow.
    if (discovered.items.some((i) => isPredictVideo(i.path))) {
      return await (await import('./video.js')).predictWithVideos(opts, model, {discovered, items, shard, output, warnings})
    }
    return await predictWithModel(opts, model, {discovered, items, shard, output, warnings})
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
  const stage: FaceStage = await openFaceStage({mode: 'whole'})
  const decode = {formats: 'all' as const, ...(opts.maxPixels === undefined ? {} : {limitInputPixels: opts.maxPixels})}

  const output = await openRunOutput(run.output, {
    columns: predictColumns(classes, {landmarks: opts.landmarks}),
    classNames: classes,
    resume: opts.resume,
    identity: {
      kind: 'predict',
      model: {sha256: model.sha256, labels: classes},
      preprocess: {size: PREPROCESS.size, resize: PREPROCESS.resize, mean: PREPROCESS.mean, std: PREPROCESS.std, formats: decode.formats, max_pixels: opts.maxPixels ?? null},
      ...stage.identity(),
    },
  })
  const started = performance.now()
  let ok = 0
  let errors = 0
  let processed = 0
  let skipped = 0
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
      if (recs[0]!.status === 'error') errors++
      else ok++
    }
    if (foreign > 0) warnings.push(`${run.output} holds ${foreign} rows for images that are not among this run's inputs; they are kept as they are`)
    if (skipped > 0) status(`resuming: ${skipped} of ${items.length} images already in ${run.output}`)

    const todo = items.filter((i) => !output.done.has(i.relPath))
    const names = opts.overlay ? overlayNames(run.discovered.items) : undefined
    const {compositeSvgOnImage} = opts.overlay ? await import('../image/sharp.js') : {compositeSvgOnImage: undefined}

    let progressed = skipped
    opts.onProgress?.(progressed, items.length)
    await runLoop<{label: string; pixels?: Float64Array; width: number; height: number}>({
      session: model.session,
      units: todo.map((item) => ({item})),
      output,
      stage,
      decode,
      batchSize: opts.batchSize ?? 32,
      landmarks: wantLandmarks,
      toRows(item, o) {
        const scored = o.inputs[0]
        if (!o.ok || !scored) return {rows: [{path: item.relPath, status: 'error', error: o.error ?? 'unknown error'}]}
        const probs = softmax(scored.output.logits, C)
        const row: PredictionRow = {path: item.relPath, status: 'ok', probs}
        const pixels = scored.output.landmarks ? mapLandmarks(scored.output.landmarks, scored.input.toOriginal) : undefined
        if (opts.landmarks && pixels) row.landmarks = pixels
        const pred = argmax(probs)
        const label = `${classes[pred]} ${(probs[pred]! * 100).toFixed(1)}%`
        return {rows: [row], extra: {label, pixels, width: scored.input.width, height: scored.input.height}}
      },
      // Overlays before rows: a row on disk means its overlay is complete, and a failed overlay (a full disk)
      // stops the run before its rows are committed, so --resume redoes both.
      beforeCommit: async (units) => {
        if (!opts.overlay || !names || !compositeSvgOnImage) return
        await Promise.all(
          units.map(async (u) => {
            if (!u.extra) return
            const target = path.join(opts.overlay!, names.get(u.item.relPath)!)
            const svg = overlaySvg(u.extra.width, u.extra.height, u.extra.pixels, u.extra.label)
            try {
              const png = await compositeSvgOnImage(await readItemBytes(u.item), svg, {...decode, path: u.item.relPath})
              await writeFileAtomic(target, png)
            } catch (e) {
              throw new Error(`overlay ${target} could not be written (${(e as Error).message}); its row was not written either, so --resume redoes it`)
            }
          }),
        )
      },
      afterCommit: async (units) => {
        const rows = units.flatMap((u) => u.rows)
        for (const r of rows) {
          if (r.status === 'error') errors++
          else ok++
        }
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
    warnings,
  }
}
