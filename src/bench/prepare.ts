/**
 * The benchmark's preparation, none of it timed: the model the measurements use, the generated datasets and
 * predict folder (cached in the work folder), and the optional PyTorch baseline (built, compared, exported).
 */
import {existsSync} from 'node:fs'
import {mkdir, readdir, rename, rm, stat} from 'node:fs/promises'
import {dirname, join} from 'node:path'

import {runInChild} from './child.js'
import {EVAL_SIZES, EXPORT_BATCH, PARITY_BATCH, PREDICT_SIZE} from './plan.js'
import {PythonBaseline, pythonBaselineEnv} from './python.js'
import {round} from './stats.js'
import type {BenchResult, PytorchSection} from './types.js'

/** Build the deterministic (untrained) POSTER++ at `path` once, in a child process; not timed. */
export async function ensureDeterministicModel(path: string, dtype: 'float32' | 'float16', status: (m: string) => void): Promise<void> {
  if (existsSync(path)) return
  status(`building POSTER++ (${dtype}) with deterministic UNTRAINED weights → ${path} (once; not timed here)`)
  await mkdir(dirname(path), {recursive: true})
  const partial = `${path}.partial-${process.pid}.onnx`
  await runInChild({kind: 'convert', out: partial, dtype, classes: 7})
  await rename(partial, path)
}

/** The model the speed measurements use: --model, or the deterministic one (built on first use). */
export async function prepareModel(spec: string | undefined, deterministic: string, status: (m: string) => void): Promise<BenchResult['model']> {
  if (spec) {
    const {resolveModelFile} = await import('../pipeline/model.js')
    const {onnxPath: path} = await resolveModelFile(spec, {onStatus: (_stage, message) => status(message)})
    return {path, bytes: (await stat(path)).size, source: 'user', note: `user model (${spec})`}
  }
  await ensureDeterministicModel(deterministic, 'float32', status)
  return {
    path: deterministic,
    bytes: (await stat(deterministic)).size,
    source: 'deterministic',
    note: 'POSTER++ graph (43.7M parameters) with deterministic UNTRAINED weights: real architecture and speed, chance-level accuracy',
  }
}

export interface PreparedDataset {
  size: string
  root: string
  /** The test images, for the decode+preprocess measurement. */
  images: string[]
}

export async function prepareDatasets(workDir: string, perClass: number, status: (m: string) => void): Promise<PreparedDataset[]> {
  const {writeSyntheticRafdb} = await import('../datasets/synthetic.js')
  const out: PreparedDataset[] = []
  for (const s of EVAL_SIZES) {
    const root = join(workDir, 'data', `rafdb-${s.name}-${perClass * 7}`)
    const list = join(root, 'EmoLabel', 'list_patition_label.txt')
    if (!existsSync(list)) {
      status(`writing a synthetic RAF-DB set: ${perClass * 7} test images, ${s.width}×${s.height} JPEG → ${root}`)
      await rm(root, {recursive: true, force: true})
      await writeSyntheticRafdb(root, {perClass, width: s.width, height: s.height, seed: 2301})
    }
    const dir = join(root, 'Image', 'aligned')
    const images = (await readdir(dir)).filter((f) => f.startsWith('test_')).sort().map((f) => join(dir, f))
    out.push({size: s.name, root, images})
  }
  return out
}

/**
 * The images the int8 part calibrates on: a synthetic RAF-DB tree whose train split holds `train` generated
 * 100×100 faces (the conversion calibrates on its train split and holds some out to choose the range method).
 */
export async function prepareCalibrationSet(workDir: string, train: number, status: (m: string) => void): Promise<string> {
  const {writeSyntheticRafdb} = await import('../datasets/synthetic.js')
  const root = join(workDir, 'data', `rafdb-calibration-${train}`)
  if (!existsSync(join(root, 'EmoLabel', 'list_patition_label.txt'))) {
    status(`writing ${train} synthetic 100×100 training faces to calibrate int8 on → ${root}`)
    await rm(root, {recursive: true, force: true})
    await writeSyntheticRafdb(root, {perClass: 1, train, seed: 1501})
  }
  return root
}

/**
 * The flat folder of `count` generated 100×100 JPEG faces predict runs on, written once into the work dir (through
 * a temporary name, so an interrupted write is never taken for a complete folder).
 */
export async function preparePredictFolder(workDir: string, count: number, status: (m: string) => void): Promise<string> {
  const root = join(workDir, 'data', `folder-${PREDICT_SIZE.name}-${count}`)
  if (existsSync(root) && (await readdir(root)).filter((f) => f.endsWith('.jpg')).length === count) return root
  status(`writing a folder of ${count} synthetic ${PREDICT_SIZE.width}×${PREDICT_SIZE.height} JPEG faces → ${root}`)
  const {writeSyntheticFolder} = await import('../datasets/synthetic.js')
  const partial = `${root}.partial-${process.pid}`
  await rm(partial, {recursive: true, force: true})
  await writeSyntheticFolder(partial, count, {width: PREDICT_SIZE.width, height: PREDICT_SIZE.height, seed: 2302})
  await rm(root, {recursive: true, force: true})
  await rename(partial, root)
  return root
}

export interface PreparedPytorch {
  /** The baseline, ready to bench; undefined when skipped or failed (then `section` says why). */
  py?: PythonBaseline
  section: PytorchSection
  /** PyTorch's logits on the deterministic parity input, for the comparison with the converted model. */
  logits?: number[]
  /** The deterministic checkpoint the baseline wrote (timed by the convert part when no checkpoint is given). */
  checkpoint?: string
  /** The torch.onnx.export graph, when exported (not in --quick). */
  exportedPath?: string
  errors: Array<{measurement: string; message: string}>
}

/**
 * The PyTorch baseline when POSTER_BENCH_PYTHON and POSTER_BENCH_OFFICIAL say where it is: the official model built
 * with the deterministic weights (and written as a checkpoint once, for the convert part), its parity logits, and
 * a torch.onnx.export graph at EXPORT_BATCH into `tmp`.
 */
export async function preparePytorch(opts: {
  env: Record<string, string | undefined>
  wanted: boolean
  threads: number
  quick: boolean
  workDir: string
  tmp: string
  checkpoint?: string
  status: (m: string) => void
}): Promise<PreparedPytorch> {
  const pyEnv: ReturnType<typeof pythonBaselineEnv> = opts.wanted ? pythonBaselineEnv(opts.env) : {skipped: 'not asked for'}
  const section: PytorchSection = {eager: []}
  const errors: PreparedPytorch['errors'] = []
  if ('skipped' in pyEnv) {
    section.skipped = pyEnv.skipped
    return {section, errors}
  }
  let py: PythonBaseline | undefined
  let logits: number[] | undefined
  let checkpoint: string | undefined
  try {
    const {posterManifest} = await import('../poster/deterministic-weights.js')
    py = await PythonBaseline.create(pyEnv, {manifest: posterManifest(7), classes: 7, threads: opts.threads})
    const ckptPath = join(opts.workDir, 'poster-deterministic-7cls.pth')
    const writeCkpt = !opts.checkpoint && !existsSync(ckptPath)
    opts.status(`PyTorch baseline: building the official model with the deterministic weights${writeCkpt ? ` (and writing ${ckptPath})` : ''}`)
    const partial = `${ckptPath}.partial-${process.pid}`
    const prep = await py.prepare({parityBatch: PARITY_BATCH, checkpoint: writeCkpt ? partial : undefined})
    if (writeCkpt) await rename(partial, ckptPath)
    section.torch = prep.torch
    section.threads = prep.threads
    section.blas = prep.blas
    section.buildSeconds = round(prep.build_s, 3)
    logits = prep.logits
    if (!opts.checkpoint) checkpoint = ckptPath
  } catch (error) {
    section.error = messageOf(error)
    errors.push({measurement: 'pytorch', message: section.error})
    await py?.remove()
    return {section, errors}
  }
  let exportedPath: string | undefined
  if (opts.quick) {
    section.exportSkipped = 'not in --quick'
  } else {
    try {
      exportedPath = join(opts.tmp, `torch-export-b${EXPORT_BATCH}.onnx`)
      opts.status(`PyTorch baseline: torch.onnx.export at batch ${EXPORT_BATCH}`)
      section.export = await py.export({batch: EXPORT_BATCH, out: exportedPath})
    } catch (error) {
      exportedPath = undefined
      section.exportSkipped = `failed: ${messageOf(error)}`
      errors.push({measurement: 'torch.onnx.export', message: messageOf(error)})
    }
  }
  return {py, section, logits, checkpoint, exportedPath, errors}
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
