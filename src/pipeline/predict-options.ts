/**
 * What a predict run is asked (PredictOptions, with the video part VideoOptions) and what it answers
 * (PredictSummary): shared by the image flow (predict.ts) and the video flow (video.ts), which import it, not
 * each other.
 */
import type {Shard} from '../datasets/shard.js'
import type {FaceStage, FacesMode} from '../faces/types.js'
import type {PredictionRow} from '../report/predictions-csv.js'
import type {BatchSizeSetting} from '../runtime/batch-size.js'
import type {Device} from '../runtime/session.js'
import type {ComputeDtype, OpenedModel} from './model.js'
import type {FfmpegBinary} from '../video/ffmpeg.js'

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

export interface VideoOptions {
  /** Sample this many frames per second (the first frame of every 1/N s); exclusive with `every`. */
  fps?: number
  /** Sample every K-th decoded frame; default every frame. */
  every?: number
  /** Add probabilities smoothed over this many seconds (exponential moving average per track). */
  smooth?: number
  /** Folder for the timeline pictures (default: `<out without .csv>.timelines` beside the CSV). */
  timelines?: string
  /**
   * The face stage for images ('image') and video frames ('video') of the run. The face detector's wiring
   * (--faces) supplies it; without it images and frames are scored whole, one "face" per frame (track 0).
   */
  faceStage?: (kind: 'image' | 'video') => Promise<FaceStage>
  /** The ffmpeg to use (default: findFfmpeg()). */
  ffmpeg?: FfmpegBinary
}

/**
 * What the model gives a predict run (images or videos): its class names (class_<i> with a warning when it has
 * none) and whether landmarks are computed (for --landmarks, or for --overlay when the model has them).
 */
export function predictOutputs(opts: Pick<PredictOptions, 'landmarks' | 'overlay'>, model: OpenedModel, warnings: string[]): {classes: string[]; hasLandmarks: boolean; wantLandmarks: boolean} {
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
  return {classes, hasLandmarks, wantLandmarks: Boolean(opts.landmarks || (opts.overlay && hasLandmarks))}
}
