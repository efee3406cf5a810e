/**
 * A small ONNX graph builder: initializers, nodes with attributes, typed inputs/outputs whose batch dimension may
 * be symbolic, unique value names and cached shape constants. It produces a plain `OnnxModel` description;
 * `write.ts` turns that into protobuf bytes (streaming the initializer payloads).
 */

import type {DType, HostTensor} from '../tensor.js'
import {numel} from '../tensor.js'
import {fitsFloat16, float32ArrayToFloat16} from './float16.js'

/** A dimension: a fixed size or a symbolic name such as 'N'. */
export type Dim = number | string

export interface ValueInfo {
  name: string
  dtype: DType
  shape: Dim[]
  /** Written without a shape (rank unknown): extra outputs of a calibration graph, whose shapes ORT infers. */
  unknownShape?: boolean
}

export type AttributeValue =
  | {kind: 'int'; value: number}
  | {kind: 'float'; value: number}
  | {kind: 'ints'; value: number[]}
  | {kind: 'floats'; value: number[]}
  | {kind: 'string'; value: string}
  | {kind: 'tensor'; value: HostTensor}

/**
 * What `node()` accepts for an attribute: plain integers become INT, integer arrays INTS, strings STRING;
 * floats must be spelled with `attr.float()` / `attr.floats()` so that 1.0 is never taken for an INT.
 */
export type AttributeInput = number | number[] | string | AttributeValue

export const attr = {
  int: (value: number): AttributeValue => ({kind: 'int', value}),
  float: (value: number): AttributeValue => ({kind: 'float', value}),
  ints: (value: number[]): AttributeValue => ({kind: 'ints', value}),
  floats: (value: number[]): AttributeValue => ({kind: 'floats', value}),
  string: (value: string): AttributeValue => ({kind: 'string', value}),
  tensor: (value: HostTensor): AttributeValue => ({kind: 'tensor', value}),
}

export interface NodeDef {
  op: string
  name: string
  inputs: string[]
  outputs: string[]
  attributes: Record<string, AttributeValue>
  domain?: string
}

export interface Initializer {
  name: string
  tensor: HostTensor
}

export interface OnnxGraph {
  name: string
  nodes: NodeDef[]
  initializers: Initializer[]
  inputs: ValueInfo[]
  outputs: ValueInfo[]
}

export interface OnnxModel {
  irVersion: number
  opsetVersion: number
  producerName: string
  producerVersion: string
  docString?: string
  graph: OnnxGraph
  /** Written as ModelProto.metadata_props, in insertion order. */
  metadata: Record<string, string>
}

export interface GraphBuilderOptions {
  name?: string
  /** How float weights are stored. float16 halves the file; a Cast to float32 follows each, so compute stays float32. */
  weightDtype?: 'float32' | 'float16'
  opsetVersion?: number
  irVersion?: number
}

export const DEFAULT_OPSET = 21
export const DEFAULT_IR_VERSION = 10

function toAttribute(v: AttributeInput): AttributeValue {
  if (typeof v === 'string') return {kind: 'string', value: v}
  if (typeof v === 'number') return Number.isInteger(v) ? {kind: 'int', value: v} : {kind: 'float', value: v}
  if (Array.isArray(v)) {
    if (!v.every((x) => Number.isInteger(x))) throw new Error(`integer list expected, got [${v.join(', ')}]; use attr.floats()`)
    return {kind: 'ints', value: v}
  }
  return v
}

export class GraphBuilder {
  readonly name: string
  readonly weightDtype: 'float32' | 'float16'
  readonly opsetVersion: number
  readonly irVersion: number
  private readonly nodes: NodeDef[] = []
  private readonly initializers: Initializer[] = []
  private readonly inputs: ValueInfo[] = []
  private readonly outputs: ValueInfo[] = []
  private readonly used = new Set<string>()
  private readonly counters = new Map<string, number>()
  private readonly constCache = new Map<string, string>()

  constructor(opts: GraphBuilderOptions = {}) {
    this.name = opts.name ?? 'graph'
    this.weightDtype = opts.weightDtype ?? 'float32'
    this.opsetVersion = opts.opsetVersion ?? DEFAULT_OPSET
    this.irVersion = opts.irVersion ?? DEFAULT_IR_VERSION
  }

  /** A value name not used yet, derived from `hint` (hint itself when free, else hint_1, hint_2, ...). */
  uniqueName(hint: string): string {
    const base = hint.length > 0 ? hint : 'v'
    if (!this.used.has(base)) {
      this.used.add(base)
      return base
    }
    let n = this.counters.get(base) ?? 0
    let name: string
    do name = `${base}_${++n}`
    while (this.used.has(name))
    this.counters.set(base, n)
    this.used.add(name)
    return name
  }

  /** Declare a graph input; returns its value name (exactly `name`). */
  input(name: string, dtype: DType, shape: Dim[]): string {
    if (this.used.has(name)) throw new Error(`graph input name "${name}" is already taken`)
    this.used.add(name)
    this.inputs.push({name, dtype, shape})
    return name
  }

  /**
   * Declare `value` as a graph output called `name`. When they differ, the producing node's output is renamed
   * (and its consumers updated), so no Identity node is added.
   */
  output(value: string, name: string, dtype: DType, shape: Dim[]): string {
    if (value !== name) {
      if (this.used.has(name)) throw new Error(`graph output name "${name}" is already taken`)
      const producer = this.nodes.find((n) => n.outputs.includes(value))
      if (!producer || this.outputs.some((o) => o.name === value) || this.inputs.some((i) => i.name === value)) {
        // Not a node output (an input or initializer), or already exported: keep both names via Identity.
        this.node('Identity', [value], {}, {outputs: [name]})
      } else {
        producer.outputs = producer.outputs.map((o) => (o === value ? name : o))
        for (const n of this.nodes) n.inputs = n.inputs.map((i) => (i === value ? name : i))
        this.used.add(name)
      }
    }
    this.outputs.push({name, dtype, shape})
    return name
  }

  /** Add an initializer stored exactly as given (shape constants, index tensors, ...). Returns its name. */
  constant(hint: string, tensor: HostTensor): string {
    if (numel(tensor.shape) !== tensor.data.length) {
      throw new Error(`initializer ${hint}: shape [${tensor.shape.join(', ')}] does not match ${tensor.data.length} values`)
    }
    const name = this.uniqueName(hint)
    this.initializers.push({name, tensor})
    return name
  }

  /**
   * Add a float32 weight. With weightDtype float16 it is stored as float16 followed by a Cast to float32 (unless a
   * value would overflow float16, then it stays float32). Returns the name of the float32 value to consume.
   */
  weight(hint: string, data: Float32Array, shape: number[]): string {
    if (numel(shape) !== data.length) {
      throw new Error(`weight ${hint}: shape [${shape.join(', ')}] does not match ${data.length} values`)
    }
    if (this.weightDtype === 'float16' && fitsFloat16(data)) {
      const stored = this.constant(`${hint}_fp16`, {dtype: 'float16', shape, data: float32ArrayToFloat16(data)})
      return this.node('Cast', [stored], {to: TensorDataType.FLOAT}, {outputs: [hint]})
    }
    return this.constant(hint, {dtype: 'float32', shape, data})
  }

  /** A cached int64 constant (shapes, axes, slice bounds). */
  int64(values: readonly number[], shape: number[] = [values.length]): string {
    const key = `i64:${shape.join('x')}:${values.join(',')}`
    let name = this.constCache.get(key)
    if (!name) {
      name = this.constant('const_i64', {dtype: 'int64', shape, data: BigInt64Array.from(values, (v) => BigInt(v))})
      this.constCache.set(key, name)
    }
    return name
  }

  /** A cached float32 constant, exact (never stored as float16). */
  float32(values: readonly number[], shape: number[] = [values.length]): string {
    const key = `f32:${shape.join('x')}:${values.join(',')}`
    let name = this.constCache.get(key)
    if (!name) {
      name = this.constant('const_f32', {dtype: 'float32', shape, data: Float32Array.from(values)})
      this.constCache.set(key, name)
    }
    return name
  }

  /** Add a node with a single output; returns the output's value name. */
  node(
    op: string,
    inputs: string[],
    attributes: Record<string, AttributeInput> = {},
    opts: {name?: string; outputs?: string[]; domain?: string} = {},
  ): string {
    return this.nodeMulti(op, inputs, attributes, {...opts, outputs: opts.outputs ?? 1})[0]!
  }

  /**
   * Add a node with several outputs (a count, or explicit names used as hints: kept when free, else suffixed);
   * returns their value names.
   */
  nodeMulti(
    op: string,
    inputs: string[],
    attributes: Record<string, AttributeInput> = {},
    opts: {name?: string; outputs?: number | string[]; domain?: string} = {},
  ): string[] {
    const nodeName = this.uniqueName(opts.name ?? op)
    const spec = opts.outputs ?? 1
    const outputs =
      typeof spec === 'number'
        ? Array.from({length: spec}, (_, i) => this.uniqueName(spec === 1 ? `${nodeName}_out` : `${nodeName}_out${i}`))
        : spec.map((o) => this.uniqueName(o)) // explicit names are kept when free, else suffixed
    const attrs: Record<string, AttributeValue> = {}
    for (const [k, v] of Object.entries(attributes)) attrs[k] = toAttribute(v)
    const node: NodeDef = {op, name: nodeName, inputs: [...inputs], outputs, attributes: attrs}
    if (opts.domain) node.domain = opts.domain
    this.nodes.push(node)
    return outputs
  }

  /** Snapshot the graph as an OnnxModel. */
  build(metadata: Record<string, string> = {}, docString?: string): OnnxModel {
    const model: OnnxModel = {
      irVersion: this.irVersion,
      opsetVersion: this.opsetVersion,
      producerName: 'poster',
      producerVersion: '0.1.0',
      graph: {
        name: this.name,
        nodes: [...this.nodes],
        initializers: [...this.initializers],
        inputs: [...this.inputs],
        outputs: [...this.outputs],
      },
      metadata: {...metadata},
    }
    if (docString !== undefined) model.docString = docString
    return model
  }
}

/** ONNX TensorProto.DataType codes. */
export const TensorDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const

export function onnxDataType(dtype: DType): number {
  switch (dtype) {
    case 'float32': return TensorDataType.FLOAT
    case 'float16': return TensorDataType.FLOAT16
    case 'bfloat16': return TensorDataType.BFLOAT16
    case 'float64': return TensorDataType.DOUBLE
    case 'int64': return TensorDataType.INT64
    case 'int32': return TensorDataType.INT32
    case 'int16': return TensorDataType.INT16
    case 'int8': return TensorDataType.INT8
    case 'uint8': return TensorDataType.UINT8
    case 'bool': return TensorDataType.BOOL
  }
}

/** Summary counts of a model: nodes, ops by type, initializers and parameters. */
export function modelStats(model: OnnxModel): {
  nodes: number
  ops: Record<string, number>
  initializers: number
  parameters: number
  initializerBytes: number
} {
  const ops: Record<string, number> = {}
  for (const n of model.graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1
  let parameters = 0
  let initializerBytes = 0
  for (const i of model.graph.initializers) {
    parameters += i.tensor.data.length
    initializerBytes += i.tensor.data.byteLength
  }
  return {nodes: model.graph.nodes.length, ops, initializers: model.graph.initializers.length, parameters, initializerBytes}
}
