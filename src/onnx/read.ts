/**
 * Read an ONNX file back into the builder's `OnnxModel` (nodes, initializers, typed inputs and outputs, metadata),
 * so a model can be transformed (fp16.ts) and written again with write.ts. It reads what poster's converter writes
 * and plain exported models of the default ONNX domain: models with external data, functions, subgraphs
 * (If/Loop/Scan bodies) or ops of other domains are refused with what was found, never half-read.
 */
import {readFile} from 'node:fs/promises'
import onnxProto from 'onnx-proto'

import type {DType, HostTensor, TensorData} from '../tensor.js'
import {numel} from '../tensor.js'
import type {AttributeValue, Dim, NodeDef, OnnxModel, ValueInfo} from './graph.js'
import {TensorDataType} from './graph.js'

const {onnx} = onnxProto

export class OnnxReadError extends Error {}

const DTYPES: Record<number, DType> = {
  [TensorDataType.FLOAT]: 'float32',
  [TensorDataType.FLOAT16]: 'float16',
  [TensorDataType.BFLOAT16]: 'bfloat16',
  [TensorDataType.DOUBLE]: 'float64',
  [TensorDataType.INT64]: 'int64',
  [TensorDataType.INT32]: 'int32',
  [TensorDataType.INT16]: 'int16',
  [TensorDataType.INT8]: 'int8',
  [TensorDataType.UINT8]: 'uint8',
  [TensorDataType.BOOL]: 'bool',
}

function dtypeOf(code: number | null | undefined, what: string): DType {
  const d = DTYPES[code ?? 0]
  if (!d) throw new OnnxReadError(`${what}: ONNX data type ${code} is not supported`)
  return d
}

function toNumber(v: number | {toNumber(): number} | null | undefined): number {
  if (v === null || v === undefined) return 0
  return typeof v === 'number' ? v : v.toNumber()
}

/** A typed array over `raw` (copied when it is not aligned for the element size). */
function typedFromRaw(dtype: DType, raw: Uint8Array, count: number, what: string): TensorData {
  const size = dtype === 'float64' || dtype === 'int64' ? 8 : dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'float16' || dtype === 'bfloat16' || dtype === 'int16' ? 2 : 1
  if (raw.byteLength !== count * size) throw new OnnxReadError(`${what}: ${raw.byteLength} bytes of raw data for ${count} ${dtype} values`)
  // new Uint8Array(view) copies (a Buffer's slice() would not).
  const bytes = raw.byteOffset % size === 0 ? raw : new Uint8Array(raw)
  const {buffer, byteOffset} = bytes
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, count)
    case 'float64': return new Float64Array(buffer, byteOffset, count)
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, count)
    case 'int64': return new BigInt64Array(buffer, byteOffset, count)
    case 'int32': return new Int32Array(buffer, byteOffset, count)
    case 'int16': return new Int16Array(buffer, byteOffset, count)
    case 'int8': return new Int8Array(buffer, byteOffset, count)
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, count)
  }
}

function tensorFrom(t: onnxProto.onnx.ITensorProto, what: string): HostTensor {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new OnnxReadError(`${what}: stored as external data, which poster does not read; save the model as one file`)
  }
  const dtype = dtypeOf(t.dataType, what)
  const shape = (t.dims ?? []).map(toNumber)
  const count = numel(shape)
  if (t.rawData && t.rawData.length > 0) return {dtype, shape, data: typedFromRaw(dtype, t.rawData, count, what)}
  let data: TensorData
  switch (dtype) {
    case 'float32': data = Float32Array.from(t.floatData ?? []); break
    case 'float64': data = Float64Array.from(t.doubleData ?? []); break
    case 'int64': data = BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v)))); break
    case 'float16':
    case 'bfloat16': data = Uint16Array.from(t.int32Data ?? []); break
    case 'int32': data = Int32Array.from(t.int32Data ?? []); break
    case 'int16': data = Int16Array.from(t.int32Data ?? []); break
    case 'int8': data = Int8Array.from(t.int32Data ?? []); break
    case 'uint8':
    case 'bool': data = Uint8Array.from(t.int32Data ?? []); break
  }
  if (data.length !== count) throw new OnnxReadError(`${what}: ${data.length} values for shape [${shape.join(', ')}]`)
  return {dtype, shape, data}
}

function attributeFrom(a: onnxProto.onnx.IAttributeProto, what: string): AttributeValue {
  const T = onnx.AttributeProto.AttributeType
  switch (a.type) {
    case T.INT: return {kind: 'int', value: toNumber(a.i)}
    case T.FLOAT: return {kind: 'float', value: a.f ?? 0}
    case T.INTS: return {kind: 'ints', value: (a.ints ?? []).map(toNumber)}
    case T.FLOATS: return {kind: 'floats', value: [...(a.floats ?? [])]}
    case T.STRING: return {kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array())}
    case T.TENSOR: return {kind: 'tensor', value: tensorFrom(a.t ?? {}, `${what} attribute ${a.name}`)}
    default: throw new OnnxReadError(`${what}: attribute ${a.name} of type ${a.type} (graphs, sparse tensors, string lists) is not supported`)
  }
}

function valueInfoFrom(v: onnxProto.onnx.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType
  if (!tt) throw new OnnxReadError(`graph value ${v.name}: not a tensor`)
  const shape: Dim[] = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : '?'))
  return {name: v.name ?? '', dtype: dtypeOf(tt.elemType, `graph value ${v.name}`), shape}
}

/** Decode ModelProto bytes. Initializer payloads stay views of `bytes` where alignment allows. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  let m: onnxProto.onnx.ModelProto
  try {
    m = onnx.ModelProto.decode(bytes)
  } catch (error) {
    throw new OnnxReadError(`not an ONNX model: ${error instanceof Error ? error.message : String(error)}`)
  }
  const g = m.graph
  if (!g) throw new OnnxReadError('the ONNX model has no graph')
  const opsets = m.opsetImport ?? []
  const foreign = opsets.filter((o) => o.domain && o.domain !== 'ai.onnx')
  if (foreign.length > 0) throw new OnnxReadError(`the model imports operator sets of other domains (${foreign.map((o) => o.domain).join(', ')}), which poster does not rewrite`)
  if ((m.functions?.length ?? 0) > 0) throw new OnnxReadError('the model defines functions, which poster does not rewrite')
  const opsetVersion = toNumber(opsets.find((o) => !o.domain || o.domain === 'ai.onnx')?.version)
  const initNames = new Set((g.initializer ?? []).map((i) => i.name))
  const nodes: NodeDef[] = (g.node ?? []).map((n, k) => {
    const name = n.name || `${n.opType}_${k}`
    if (n.domain && n.domain !== 'ai.onnx') throw new OnnxReadError(`node ${name}: op ${n.domain}.${n.opType} is outside the default ONNX domain`)
    const attributes: Record<string, AttributeValue> = {}
    for (const a of n.attribute ?? []) attributes[a.name ?? ''] = attributeFrom(a, `node ${name}`)
    return {op: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes}
  })
  const metadata: Record<string, string> = {}
  for (const p of m.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? ''
  const model: OnnxModel = {
    irVersion: toNumber(m.irVersion),
    opsetVersion,
    producerName: m.producerName ?? '',
    producerVersion: m.producerVersion ?? '',
    graph: {
      name: g.name ?? 'graph',
      nodes,
      initializers: (g.initializer ?? []).map((t) => ({name: t.name ?? '', tensor: tensorFrom(t, `initializer ${t.name}`)})),
      // Older exporters list initializers among the inputs too; those are not inputs to feed.
      inputs: (g.input ?? []).filter((i) => !initNames.has(i.name)).map(valueInfoFrom),
      outputs: (g.output ?? []).map(valueInfoFrom),
    },
    metadata,
  }
  if (m.docString) model.docString = m.docString
  return model
}

export async function readModel(path: string): Promise<OnnxModel> {
  return decodeModel(await readFile(path))
}
