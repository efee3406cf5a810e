/**
 * Turn what the user passed to --model (an .onnx file, a .pth checkpoint, or a registry name) into an open
 * session plus the class names in the model's own order, and say where those names came from.
 */

import {INPUT_NUMEL} from '../basics.js'
import {checkClassNames, parseLabels} from '../datasets/labels.js'
import {cacheDir, stampPath} from '../models/cache.js'
import {keepOneOptimizedCopy, optimizedPath, touchUsed} from '../models/cache-entries.js'
import {cachedSha256, resolveModel, type ResolvedModel} from '../models/resolve.js'
import {readOnnxMetadata} from '../onnx/metadata.js'
import type {Device, LoadedSession} from '../runtime/session.js'
import type {ProgressCallback} from '../models/download.js'

export type ComputeDtype = 'fp32' | 'fp16'
export const COMPUTE_DTYPES: readonly ComputeDtype[] = ['fp32', 'fp16']

export interface OpenModelOptions {
  device?: Device
  /**
   * fp16: run the model's float16-compute copy (made once into the cache, models/fp16-copy.ts): float32 in and
   * out, float16 inside. For GPU providers; callers refuse it on the CPU.
   */
  dtype?: ComputeDtype
  threads?: number
  /** --labels: overrides the names in the model's metadata. */
  labels?: string
  onStatus?: (stage: string, message: string) => void
  onDownloadProgress?: ProgressCallback
}

export interface OpenedModel {
  spec: string
  resolved: ResolvedModel
  session: LoadedSession
  numClasses: number
  /** Class names in the model's output order, when known. */
  labels?: string[]
  labelsSource: 'flag' | 'metadata' | 'registry' | 'none'
  sha256: string
  metadata: Record<string, string>
  /** What the session computes in; the run identity and metrics.json name fp16. */
  dtype: ComputeDtype
  /** With fp16: the float16-compute copy the session runs. */
  fp16Path?: string
}

/** Convert a checkpoint to ONNX; loaded lazily so eval of an .onnx never loads the graph builder. */
async function convertForResolve(pth: string, onnx: string, opts: {numClasses?: number; labels?: string[]}): Promise<void> {
  const {convertCheckpoint} = await import('../convert/convert.js')
  await convertCheckpoint({checkpoint: pth, out: onnx, classes: opts.numClasses, labels: opts.labels})
}

/**
 * A --model value as an ONNX file (a checkpoint converted, a registry model downloaded and converted, once), the
 * same resolution for every command; `poster bench` uses it alone because its sessions open in child processes.
 */
export function resolveModelFile(spec: string, opts: Pick<OpenModelOptions, 'onStatus' | 'onDownloadProgress'> = {}): Promise<ResolvedModel> {
  return resolveModel(spec, {convert: convertForResolve, onStatus: opts.onStatus, onProgress: opts.onDownloadProgress})
}

export async function openModel(spec: string, opts: OpenModelOptions = {}): Promise<OpenedModel> {
  const resolved = await resolveModelFile(spec, opts)
  // The model's SHA-256 goes into metrics.json; it is cached by path, size and mtime (a 180 MB hash is ~0.2 s).
  const [{openSession, runtimeFingerprint}, info, sha256] = await Promise.all([
    import('../runtime/session.js'),
    readOnnxMetadata(resolved.onnxPath),
    cachedSha256(resolved.onnxPath),
  ])
  const runtime = await runtimeFingerprint()
  const optimizedCache = optimizedPath(cacheDir(), sha256, runtime)
  const dtype = opts.dtype ?? 'fp32'
  let fp16Path: string | undefined
  if (dtype === 'fp16') {
    const {fp16ComputeCopy} = await import('../models/fp16-copy.js')
    fp16Path = (await fp16ComputeCopy(resolved.onnxPath, sha256, cacheDir(), (m) => opts.onStatus?.('fp16', m))).path
  }
  const session = await openSession(fp16Path ?? resolved.onnxPath, {
    device: opts.device,
    threads: opts.threads,
    ...(fp16Path ? {} : {optimizedCache}),
  })
  // One optimised copy per model in the cache; and the entries used now are kept by prune --older-than.
  if (!fp16Path) await keepOneOptimizedCopy(optimizedCache, {model: resolved.onnxPath, sha256, runtime})
  if (resolved.source !== 'file') await touchUsed(stampPath(resolved.onnxPath))
  const logitsSig = session.signature.outputs.find((o) => o.name === session.logitsName)!
  let numClasses = typeof logitsSig.shape[1] === 'number' && logitsSig.shape[1] > 0 ? logitsSig.shape[1] : 0

  let labels: string[] | undefined
  let labelsSource: OpenedModel['labelsSource'] = 'none'
  if (opts.labels) {
    labels = parseLabels(opts.labels)
    labelsSource = 'flag'
  } else if (info.metadata.labels) {
    try {
      const parsed = JSON.parse(info.metadata.labels) as unknown
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) {
        labels = parsed
        labelsSource = 'metadata'
      }
    } catch {
      // A malformed labels entry is treated as absent: names then come from the registry or the dataset.
    }
    if (labels) {
      try {
        checkClassNames(labels, "the model's 'labels' metadata")
      } catch (error) {
        await session.release()
        throw new Error(`${(error as Error).message}: pass --labels to name the classes`)
      }
    }
  }
  if (!labels && resolved.labels) {
    labels = [...resolved.labels]
    labelsSource = 'registry'
  }
  if (numClasses === 0) {
    // Symbolic class dimension: learn it by running one blank image.
    const out = await session.run(new Float32Array(INPUT_NUMEL), 1)
    numClasses = out.logits.length
  }
  if (labels && labels.length !== numClasses) {
    await session.release()
    const from = labelsSource === 'flag' ? '--labels' : labelsSource === 'metadata' ? "the model's metadata" : 'the registry'
    throw new Error(
      `the model outputs ${numClasses} classes but ${from} names ${labels.length}: [${labels.join(', ')}]`,
    )
  }
  return {spec, resolved, session, numClasses, labels, labelsSource, sha256, metadata: info.metadata, dtype, ...(fp16Path ? {fp16Path} : {})}
}
