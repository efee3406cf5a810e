/**
 * Serialise an OnnxModel to ONNX ModelProto bytes.
 *
 * Everything except the initializer payloads goes through onnx-proto (protobufjs). The initializers, which are
 * ~175 MB for POSTER++, are written as hand-framed TensorProto records (dims, data_type, name via protobufjs, then
 * the raw_data field appended by hand) straight from the tensors' own memory, so nothing is copied or buffered
 * twice. Protobuf lets a message's fields come in any order and repeated fields be split, so the GraphProto is
 * written as "graph without initializers" followed by one `initializer` field per tensor; all lengths are known
 * up front, which is what allows streaming.
 */

import {open, rename, unlink} from 'node:fs/promises'
import {endianness} from 'node:os'
import {dirname} from 'node:path'
import onnxProto from 'onnx-proto'

import {removeStaleTemps, tempFileFor} from '../basics.js'
import type {HostTensor} from '../tensor.js'
import type {AttributeValue, Dim, Initializer, NodeDef, OnnxModel, ValueInfo} from './graph.js'
import {onnxDataType} from './graph.js'

const {onnx} = onnxProto

const WIRE_LEN = 2
const MODEL_GRAPH_FIELD = 7
const GRAPH_INITIALIZER_FIELD = 5
const TENSOR_RAW_DATA_FIELD = 9

const LITTLE_ENDIAN = endianness() === 'LE'

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function encodeVarint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  let i = 0
  while (n >= 0x80) {
    out[i++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[i] = n
  return out
}

function fieldHeader(field: number, length: number): Uint8Array {
  const tag = encodeVarint((field << 3) | WIRE_LEN)
  const len = encodeVarint(length)
  const out = new Uint8Array(tag.length + len.length)
  out.set(tag, 0)
  out.set(len, tag.length)
  return out
}

/** The tensor's values as little-endian bytes (a view of its memory on little-endian hosts). */
function payloadBytes(t: HostTensor): Uint8Array {
  const d = t.data
  if (d instanceof Uint8Array || d instanceof Int8Array || LITTLE_ENDIAN) {
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
  }
  const out = new Uint8Array(d.byteLength)
  const view = new DataView(out.buffer)
  const size = d.BYTES_PER_ELEMENT
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!
    if (typeof v === 'bigint') view.setBigInt64(i * 8, v, true)
    else if (d instanceof Float32Array) view.setFloat32(i * 4, v, true)
    else if (d instanceof Float64Array) view.setFloat64(i * 8, v, true)
    else if (size === 4) view.setInt32(i * 4, v, true)
    else view.setUint16(i * 2, v, true)
  }
  return out
}

function tensorProto(name: string, t: HostTensor, withData: boolean): onnxProto.onnx.ITensorProto {
  const p: onnxProto.onnx.ITensorProto = {name, dims: t.shape, dataType: onnxDataType(t.dtype)}
  if (withData) p.rawData = payloadBytes(t)
  return p
}

function attributeProto(name: string, a: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType
  switch (a.kind) {
    case 'int': return {name, type: T.INT, i: a.value}
    case 'float': return {name, type: T.FLOAT, f: a.value}
    case 'ints': return {name, type: T.INTS, ints: a.value}
    case 'floats': return {name, type: T.FLOATS, floats: a.value}
    case 'string': return {name, type: T.STRING, s: new TextEncoder().encode(a.value)}
    case 'tensor': return {name, type: T.TENSOR, t: tensorProto('', a.value, true)}
  }
}

function nodeProto(n: NodeDef): onnxProto.onnx.INodeProto {
  const p: onnxProto.onnx.INodeProto = {
    name: n.name,
    opType: n.op,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
  }
  if (n.domain) p.domain = n.domain
  return p
}

function valueInfoProto(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = {elemType: onnxDataType(v.dtype)}
  if (!v.unknownShape) tensorType.shape = {dim: v.shape.map((d: Dim) => (typeof d === 'number' ? {dimValue: d} : {dimParam: d}))}
  return {name: v.name, type: {tensorType}}
}

interface InitializerRecord {
  /** Field header + TensorProto without raw_data + raw_data field header. */
  head: Uint8Array
  payload: Uint8Array
}

function initializerRecord(init: Initializer): InitializerRecord {
  const payload = payloadBytes(init.tensor)
  const meta = onnx.TensorProto.encode(tensorProto(init.name, init.tensor, false)).finish()
  const rawHeader = fieldHeader(TENSOR_RAW_DATA_FIELD, payload.length)
  const tensorLength = meta.length + rawHeader.length + payload.length
  const outer = fieldHeader(GRAPH_INITIALIZER_FIELD, tensorLength)
  const head = new Uint8Array(outer.length + meta.length + rawHeader.length)
  head.set(outer, 0)
  head.set(meta, outer.length)
  head.set(rawHeader, outer.length + meta.length)
  return {head, payload}
}

/**
 * The model as a sequence of byte chunks whose concatenation is the ModelProto. Large payload chunks are views of
 * the initializers' memory.
 */
export function* modelChunks(model: OnnxModel): Generator<Uint8Array> {
  const g = model.graph
  const graphBytes = onnx.GraphProto.encode({
    name: g.name,
    node: g.nodes.map(nodeProto),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
  }).finish()
  // Record heads are small; compute them all first to know the graph's length.
  const records = g.initializers.map(initializerRecord)
  let graphLength = graphBytes.length
  for (const r of records) graphLength += r.head.length + r.payload.length
  if (graphLength > 2 ** 31 - 1) throw new Error(`model too large for a single protobuf (${graphLength} bytes)`)

  const modelProto: onnxProto.onnx.IModelProto = {
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImport: [{domain: '', version: model.opsetVersion}],
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({key, value})),
  }
  if (model.docString !== undefined) modelProto.docString = model.docString
  yield onnx.ModelProto.encode(modelProto).finish()
  yield fieldHeader(MODEL_GRAPH_FIELD, graphLength)
  yield graphBytes
  for (const r of records) {
    yield r.head
    if (r.payload.length > 0) yield r.payload
  }
}

/** Total serialised size in bytes. */
export function modelByteLength(model: OnnxModel): number {
  let n = 0
  for (const c of modelChunks(model)) n += c.length
  return n
}

/** Serialise to one Buffer (fine for small graphs; the full model is better streamed with writeModel). */
export function serializeModel(model: OnnxModel): Buffer {
  return Buffer.concat([...modelChunks(model)])
}

/**
 * Write the model to `path` atomically: stream into a temporary file next to it, then rename over the target.
 * Temporary files of `path` left by runs killed while writing it are removed first (a model's is ~180 MB).
 * Returns the number of bytes written and the stale temporary files removed.
 */
export async function writeModel(model: OnnxModel, path: string): Promise<{bytes: number; staleTemps: {path: string; bytes: number}[]}> {
  const staleTemps = await removeStaleTemps(dirname(path), {target: path})
  const tmp = tempFileFor(path)
  let bytes = 0
  try {
    const fh = await open(tmp, 'wx')
    try {
      for (const chunk of modelChunks(model)) {
        let offset = 0
        while (offset < chunk.length) {
          const {bytesWritten} = await fh.write(chunk, offset, chunk.length - offset)
          offset += bytesWritten
        }
        bytes += chunk.length
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  return {bytes, staleTemps}
}

