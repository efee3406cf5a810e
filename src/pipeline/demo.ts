/**
 * The built-in demo: the real POSTER++ graph with deterministic (untrained) weights, a synthetic RAF-DB tree,
 * and a full `poster eval` over it, so a fresh machine with nothing downloaded shows every output.
 */
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {writeSyntheticRafdb} from '../datasets/synthetic.js'
import {cacheDir} from '../models/cache.js'
import {evaluate, type EvaluateResult} from './evaluate.js'

export interface DemoOptions {
  /** Where the synthetic dataset and run folder go (default ./runs). */
  runsRoot?: string
  perClass?: number
  /** A number, or auto: the demo runs on the CPU, so auto is its default, 8. */
  batchSize?: number | 'auto'
  threads?: number
  onStatus?: (message: string) => void
  onProgress?: (done: number, total: number) => void
}

export interface DemoResult extends EvaluateResult {
  modelPath: string
  datasetPath: string
  modelBuilt: boolean
}

/** Where the untrained demo model is kept between runs (it is ~175 MB and takes seconds to build). */
export function demoModelPath(): string {
  return join(cacheDir(), 'demo', 'poster-untrained-7cls.onnx')
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const status = opts.onStatus ?? (() => {})
  const runsRoot = resolve(opts.runsRoot ?? 'runs')
  const modelPath = demoModelPath()
  let modelBuilt = false
  if (!existsSync(modelPath)) {
    status(`building POSTER++ with deterministic UNTRAINED weights → ${modelPath}`)
    await mkdir(join(cacheDir(), 'demo'), {recursive: true})
    const {writeDeterministicModel} = await import('../convert/convert.js')
    await writeDeterministicModel(modelPath, 7)
    modelBuilt = true
  }
  const perClass = opts.perClass ?? 4
  const datasetPath = join(runsRoot, 'demo-data', `rafdb-synthetic-${perClass}`)
  if (!existsSync(join(datasetPath, 'EmoLabel', 'list_patition_label.txt'))) {
    status(`writing a synthetic RAF-DB tree (${perClass * 7} test images, 100×100 JPEG) → ${datasetPath}`)
    await writeSyntheticRafdb(datasetPath, {perClass, train: 7, seed: 2301})
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  const result = await evaluate({
    dataset: datasetPath,
    format: 'rafdb',
    split: 'test',
    model: modelPath,
    batchSize: typeof opts.batchSize === 'number' ? opts.batchSize : 8,
    threads: opts.threads,
    landmarks: true,
    comparePaper: false,
    out: join(runsRoot, `demo-${stamp}`),
    onStatus: opts.onStatus,
    onProgress: opts.onProgress,
  })
  return {...result, modelPath, datasetPath, modelBuilt}
}
