/**
 * `--dtype fp16` at run time: the float16-compute copy of a model (onnx/fp16.ts), made once per model and kept in
 * the cache as `<cache>/fp16/<sha256 prefix>.onnx` with a record naming its source, so `poster cache` lists it and
 * prune removes it when its model is gone. POSTER++: ~1.5 s to make, half the model's size.
 */
import {existsSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {touchUsed} from './cache-entries.js'

import {FP16_DIR} from './cache.js'

export interface Fp16CopyRecord {
  model: string
  sha256: string
  /** onnx/fp16.ts's FP16_REWRITE_VERSION that made it. */
  rewrite: number
  weights: number
  saturated: number
}

export function fp16CopyPath(dir: string, sha256: string): string {
  return path.join(dir, FP16_DIR, `${sha256.slice(0, 24)}.onnx`)
}

/** The float16-compute copy of `onnxPath` (whose content hash is `sha256`), made now if the cache has none. */
export async function fp16ComputeCopy(
  onnxPath: string,
  sha256: string,
  cache: string,
  onStatus?: (message: string) => void,
): Promise<{path: string; record: Fp16CopyRecord; made: boolean}> {
  const {FP16_REWRITE_VERSION} = await import('../onnx/fp16.js')
  const file = fp16CopyPath(cache, sha256)
  const recordFile = `${file}.json`
  if (existsSync(file)) {
    try {
      const record = JSON.parse(await readFile(recordFile, 'utf8')) as Fp16CopyRecord
      if (record.sha256 === sha256 && record.rewrite === FP16_REWRITE_VERSION) {
        if (record.model !== onnxPath) await writeFile(recordFile, JSON.stringify({...record, model: onnxPath}, null, 2) + '\n').catch(() => {})
        await touchUsed(recordFile)
        return {path: file, record: {...record, model: onnxPath}, made: false}
      }
    } catch {
      // No record or a damaged one: make the copy again.
    }
  }
  onStatus?.(`--dtype fp16: writing the float16-compute copy of ${onnxPath} (once) to ${file}`)
  const [{readModel}, {toFloat16Compute}, {writeModel}] = await Promise.all([import('../onnx/read.js'), import('../onnx/fp16.js'), import('../onnx/write.js')])
  const {model, report} = toFloat16Compute(await readModel(onnxPath))
  await mkdir(path.dirname(file), {recursive: true})
  await writeModel(model, file)
  const record: Fp16CopyRecord = {model: onnxPath, sha256, rewrite: FP16_REWRITE_VERSION, weights: report.weights, saturated: report.saturated}
  await writeFile(recordFile, JSON.stringify(record, null, 2) + '\n')
  if (report.saturated > 0) onStatus?.(`--dtype fp16: ${report.saturated} weight values beyond ±65504 were saturated`)
  return {path: file, record, made: true}
}
