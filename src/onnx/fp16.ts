/**
 * Rewrite a float32 model to compute in float16 (for GPU providers; `--dtype fp16` at run time), keeping its
 * interface: the float32 inputs are cast to float16 on entry and the outputs back to float32 on exit, so callers
 * feed and read float32 as before. Inside, every float32 weight becomes float16 (values beyond ±65504 saturate,
 * and are counted), every Cast to float32 becomes a Cast to float16 (this also folds the Casts of a model whose
 * weights were *stored* as float16 by `poster convert --dtype fp16`), and float32 tensor attributes (Constant,
 * ConstantOfShape) become float16. Float attributes (epsilons, alphas) are attributes, not tensors, and stay.
 * LayerNormalization keeps its statistics in float32 (its stash_type defaults to float32).
 *
 * The inputs some ops require as float32 whatever the data type (Resize's roi and scales) are left float32, and
 * reductions run in float32 between two Casts (FLOAT32_OPS).
 */
import {float32ArrayToFloat16, FLOAT16_MAX} from './float16.js'
import type {AttributeValue, Initializer, NodeDef, OnnxModel} from './graph.js'
import {TensorDataType} from './graph.js'

/** Bumped whenever the rewrite changes, so cached float16 copies made by an older one are made again. */
export const FP16_REWRITE_VERSION = 1

/** Inputs (by position) that stay float32 in a float16 graph. */
const FLOAT32_INPUTS: Record<string, number[]> = {Resize: [1, 2], Upsample: [1]}

/**
 * Ops computed in float32 inside the float16 graph (their data input cast up, their output cast back): reductions
 * over many values, whose float16 sums overflow (a mean over 224×224 inputs of magnitude 2 passes 65504; WebGPU
 * accumulates in the data type). POSTER++ has none of them.
 */
const FLOAT32_OPS = new Set(['ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'GlobalAveragePool', 'GlobalLpPool', 'LpNormalization'])

export interface Fp16Report {
  /** float32 weights converted. */
  weights: number
  /** Their values that were beyond float16's range and saturated at ±65504. */
  saturated: number
  /** Cast nodes retargeted from float32 to float16. */
  casts: number
  /** Nodes kept in float32 (FLOAT32_OPS). */
  float32Nodes: number
}

function toHalf(data: Float32Array, counter: {saturated: number}): Uint16Array {
  let over = 0
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]!) > FLOAT16_MAX && Number.isFinite(data[i]!)) over++
  if (over === 0) return float32ArrayToFloat16(data)
  counter.saturated += over
  const clamped = Float32Array.from(data, (v) => (Number.isFinite(v) ? Math.max(-FLOAT16_MAX, Math.min(FLOAT16_MAX, v)) : v))
  return float32ArrayToFloat16(clamped)
}

function uniqueNamer(model: OnnxModel): (hint: string) => string {
  const used = new Set<string>()
  for (const n of model.graph.nodes) {
    used.add(n.name)
    for (const o of n.outputs) used.add(o)
    for (const i of n.inputs) used.add(i)
  }
  for (const v of [...model.graph.inputs, ...model.graph.outputs]) used.add(v.name)
  for (const i of model.graph.initializers) used.add(i.name)
  return (hint) => {
    let name = hint
    for (let k = 1; used.has(name); k++) name = `${hint}_${k}`
    used.add(name)
    return name
  }
}

/** A new model computing in float16; `model` is not changed (initializers it keeps are shared). */
export function toFloat16Compute(model: OnnxModel): {model: OnnxModel; report: Fp16Report} {
  const fresh = uniqueNamer(model)
  const counter = {saturated: 0}
  const report: Fp16Report = {weights: 0, saturated: 0, casts: 0, float32Nodes: 0}

  // Initializers that some op needs as float32 (by their consumers).
  const keep32 = new Set<string>()
  for (const n of model.graph.nodes) for (const k of FLOAT32_INPUTS[n.op] ?? []) if (n.inputs[k]) keep32.add(n.inputs[k]!)

  const initializers: Initializer[] = model.graph.initializers.map((init) => {
    if (init.tensor.dtype !== 'float32' || keep32.has(init.name)) return init
    report.weights++
    return {name: init.name, tensor: {dtype: 'float16', shape: [...init.tensor.shape], data: toHalf(init.tensor.data as Float32Array, counter)}}
  })

  const rename = new Map<string, string>()
  const head: NodeDef[] = []
  for (const input of model.graph.inputs) {
    if (input.dtype !== 'float32') continue
    const half = fresh(`${input.name}_fp16`)
    rename.set(input.name, half)
    head.push({op: 'Cast', name: fresh(`${input.name}_to_fp16`), inputs: [input.name], outputs: [half], attributes: {to: {kind: 'int', value: TensorDataType.FLOAT16}}})
  }
  const outputRename = new Map<string, string>()
  for (const output of model.graph.outputs) {
    if (output.dtype === 'float32') outputRename.set(output.name, fresh(`${output.name}_fp16`))
  }

  const nodes: NodeDef[] = model.graph.nodes.flatMap((n): NodeDef[] => {
    const attributes: Record<string, AttributeValue> = {}
    for (const [k, a] of Object.entries(n.attributes)) {
      if (a.kind === 'tensor' && a.value.dtype === 'float32') {
        attributes[k] = {kind: 'tensor', value: {dtype: 'float16', shape: [...a.value.shape], data: toHalf(a.value.data as Float32Array, counter)}}
      } else attributes[k] = a
    }
    if (n.op === 'Cast' && attributes.to?.kind === 'int' && attributes.to.value === TensorDataType.FLOAT) {
      attributes.to = {kind: 'int', value: TensorDataType.FLOAT16}
      report.casts++
    }
    const keep = FLOAT32_INPUTS[n.op] ?? []
    const node: NodeDef = {
      ...n,
      inputs: n.inputs.map((i, k) => (keep.includes(k) ? i : (rename.get(i) ?? outputRename.get(i) ?? i))),
      outputs: n.outputs.map((o) => outputRename.get(o) ?? o),
      attributes,
    }
    if (!FLOAT32_OPS.has(n.op) || node.inputs.length === 0 || node.outputs.length === 0) return [node]
    report.float32Nodes++
    const up = fresh(`${node.inputs[0]}_fp32`)
    const out32 = fresh(`${node.outputs[0]}_fp32`)
    const cast = (name: string, input: string, output: string, to: number): NodeDef => ({op: 'Cast', name: fresh(name), inputs: [input], outputs: [output], attributes: {to: {kind: 'int', value: to}}})
    return [
      cast(`${node.name}_in_fp32`, node.inputs[0]!, up, TensorDataType.FLOAT),
      {...node, inputs: [up, ...node.inputs.slice(1)], outputs: [out32, ...node.outputs.slice(1)]},
      cast(`${node.name}_out_fp16`, out32, node.outputs[0]!, TensorDataType.FLOAT16),
    ]
  })
  const tail: NodeDef[] = [...outputRename.entries()].map(([name, half]) => ({
    op: 'Cast',
    name: fresh(`${name}_to_fp32`),
    inputs: [half],
    outputs: [name],
    attributes: {to: {kind: 'int', value: TensorDataType.FLOAT}},
  }))
  // A graph output that is directly a graph input or an initializer has no producer to rename.
  for (const [name, half] of outputRename) {
    if (!nodes.some((n) => n.outputs.includes(half))) {
      const source = rename.get(name) ?? name
      head.push({op: 'Identity', name: fresh(`${name}_passthrough`), inputs: [source], outputs: [half], attributes: {}})
    }
  }
  report.saturated = counter.saturated
  return {
    model: {
      ...model,
      graph: {...model.graph, nodes: [...head, ...nodes, ...tail], initializers},
      metadata: {...model.metadata, compute_dtype: 'float16'},
    },
    report,
  }
}
