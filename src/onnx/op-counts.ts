/** Node counts per op type of an ONNX file on disk (e.g. the graph onnxruntime optimised), top-level graph only. */
import {readFile} from 'node:fs/promises'

import onnxProto from 'onnx-proto'

const {onnx} = onnxProto

export async function readOpCounts(path: string): Promise<Record<string, number>> {
  const model = onnx.ModelProto.decode(await readFile(path))
  const counts: Record<string, number> = {}
  for (const n of model.graph?.node ?? []) {
    const op = n.opType ?? '?'
    counts[op] = (counts[op] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])))
}
