/**
 * int8 QDQ rewriting of a float ONNX graph (pure: graph in, graph out; calibration is calibrate.ts's job).
 *
 * Weights of Conv, Gemm and MatMul become per-output-channel symmetric int8 (zero point 0) with a
 * DequantizeLinear in front of the node; their biases become int32 in units of input scale × weight scale, as
 * QLinearConv and QGemm want them. Activations that an int8 node reads or writes get a QuantizeLinear →
 * DequantizeLinear pair (uint8, asymmetric, the range measured by calibration). onnxruntime's QDQ transformer
 * then fuses DQ → Conv → Q into QLinearConv, DQ → MatMul → Q into QLinearMatMul (MatMulIntegerToFloat when the
 * output stays float), DQ → Gemm (→ Q) into QGemm and DQ, DQ → Add → Q into QLinearAdd, and runs data-movement
 * nodes (Reshape, Transpose, Slice, MaxPool, ...) on the uint8 values when both sides share one scale.
 *
 * Which tensors are quantised follows from which nodes compute in int8:
 *  - Conv, Gemm and MatMul (unless kept in float): every activation input; a Conv's output always (onnxruntime
 *    fuses a Conv only with a Q after it), a Gemm's or MatMul's output when all its readers want int8 input;
 *  - a data-movement node whose output is quantised runs in uint8: its input is quantised with the same scale;
 *  - an Add (residuals) whose output is quantised and one of whose inputs already is: QLinearAdd.
 * Everything else (PRelu, LayerNormalization, Gelu, Softmax, BatchNormalization, Pad, ...) computes in float32
 * between a DequantizeLinear and, where an int8 node reads its output, a QuantizeLinear.
 */
import type {Initializer, NodeDef, OnnxModel} from '../onnx/graph.js'
import type {HostTensor} from '../tensor.js'

/** Nodes that compute in int8 when their weights are quantised. */
export const COMPUTE_OPS: ReadonlySet<string> = new Set(['Conv', 'Gemm', 'MatMul'])
/** Nodes that only move values: onnxruntime runs them on uint8 when input and output share quantisation. */
export const MOVE_OPS: ReadonlySet<string> = new Set(['Reshape', 'Transpose', 'Flatten', 'Slice', 'MaxPool', 'Squeeze', 'Unsqueeze'])

export interface QdqPolicy {
  /** Nodes to keep in float32 (their inputs and outputs are quantised only if another int8 node needs them). */
  keepFloat?: (node: NodeDef) => boolean
  /**
   * Largest |q| of a weight: 127 uses the whole int8 range; 63 (7-bit weights) avoids the int16 saturation of
   * AVX2's u8×s8 instruction (vpmaddubsw) on x86 CPUs without VNNI.
   */
  weightMax?: number
  /** Residual Adds as QLinearAdd where their output is quantised anyway (default true). */
  quantizeAdd?: boolean
  /**
   * PRelu between quantised tensors computed in uint8 (default true): y + (a - 1)·min(y, 0) as QLinearLeakyRelu
   * (a lookup table whose output range [min y, 0] clamps the positive part away), QLinearMul by the per-channel
   * constant a - 1, and QLinearAdd. Float PRelu was a third of the int8 graph's time.
   */
  int8Prelu?: boolean
}

export interface QdqPlan {
  /** Every tensor that gets a Q → DQ pair, with the tensor whose measured range it uses. */
  rangeOf: Map<string, string>
  /** The tensors calibration must observe (the distinct values of rangeOf), in graph order. */
  sources: string[]
  /** Names of the nodes that compute in int8 (Conv, Gemm, MatMul, Add, data movement). */
  int8Nodes: Set<string>
}

/** A measured activation range. */
export interface Range {
  min: number
  max: number
}

/** uint8 asymmetric quantisation parameters of an activation: q = clamp(round(x / scale) + zeroPoint, 0, 255). */
export interface ActivationParams {
  scale: number
  zeroPoint: number
}

interface GraphIndex {
  producer: Map<string, NodeDef>
  consumers: Map<string, Array<{node: NodeDef; slot: number}>>
  initializers: Map<string, Initializer>
  graphInputs: Set<string>
  graphOutputs: Set<string>
}

function indexGraph(model: OnnxModel): GraphIndex {
  const producer = new Map<string, NodeDef>()
  const consumers = new Map<string, Array<{node: NodeDef; slot: number}>>()
  for (const n of model.graph.nodes) {
    for (const o of n.outputs) producer.set(o, n)
    n.inputs.forEach((t, slot) => {
      if (!t) return
      let list = consumers.get(t)
      if (!list) consumers.set(t, (list = []))
      list.push({node: n, slot})
    })
  }
  return {
    producer,
    consumers,
    initializers: new Map(model.graph.initializers.map((i) => [i.name, i])),
    graphInputs: new Set(model.graph.inputs.map((i) => i.name)),
    graphOutputs: new Set(model.graph.outputs.map((o) => o.name)),
  }
}

function intAttr(n: NodeDef, name: string, fallback: number): number {
  const a = n.attributes[name]
  return a && a.kind === 'int' ? a.value : fallback
}

function floatWeight(ix: GraphIndex, name: string | undefined): HostTensor | undefined {
  if (!name) return undefined
  const t = ix.initializers.get(name)?.tensor
  return t && t.dtype === 'float32' ? t : undefined
}

/** The activation input slots a compute node reads in int8, or undefined when it cannot be quantised. */
function computeSlots(n: NodeDef, ix: GraphIndex): number[] | undefined {
  switch (n.op) {
    case 'Conv':
      return floatWeight(ix, n.inputs[1])?.shape.length === 4 && !ix.initializers.has(n.inputs[0]!) ? [0] : undefined
    case 'Gemm': {
      const w = floatWeight(ix, n.inputs[1])
      const plain = intAttr(n, 'transA', 0) === 0 && intAttr(n, 'transB', 0) === 1 && !n.attributes.alpha && !n.attributes.beta
      return w?.shape.length === 2 && plain && !ix.initializers.has(n.inputs[0]!) ? [0] : undefined
    }
    case 'MatMul': {
      if (ix.initializers.has(n.inputs[0]!)) return undefined
      const w = ix.initializers.get(n.inputs[1]!)
      if (!w) return [0, 1] // activation × activation (attention)
      return w.tensor.dtype === 'float32' && w.tensor.shape.length === 2 ? [0] : undefined
    }
    default:
      return undefined
  }
}

/** Decide which nodes compute in int8 and which tensors are quantised (see the file comment). */
export function planQdq(model: OnnxModel, policy: QdqPolicy = {}): QdqPlan {
  const ix = indexGraph(model)
  const keepFloat = policy.keepFloat ?? (() => false)
  const quantizeAdd = policy.quantizeAdd ?? true
  const int8Prelu = policy.int8Prelu ?? true
  const int8Nodes = new Set<string>()
  /** Input slots of int8 nodes that read quantised values: key `${node}#${slot}`. */
  const wantsInt8 = new Set<string>()
  const quantized = new Set<string>()
  const tiedTo = new Map<string, string>()

  const isActivation = (t: string) => !!t && !ix.initializers.has(t)
  for (const n of model.graph.nodes) {
    if (!COMPUTE_OPS.has(n.op) || keepFloat(n)) continue
    const slots = computeSlots(n, ix)
    if (!slots) continue
    int8Nodes.add(n.name)
    for (const s of slots) {
      wantsInt8.add(`${n.name}#${s}`)
      quantized.add(n.inputs[s]!)
    }
    if (n.op === 'Conv' && !ix.graphOutputs.has(n.outputs[0]!)) quantized.add(n.outputs[0]!)
  }

  const allReadersWantInt8 = (t: string): boolean => {
    if (ix.graphOutputs.has(t)) return false
    const readers = ix.consumers.get(t) ?? []
    return readers.length > 0 && readers.every((c) => wantsInt8.has(`${c.node.name}#${c.slot}`))
  }
  const anyReaderWantsInt8 = (t: string): boolean =>
    !ix.graphOutputs.has(t) && (ix.consumers.get(t) ?? []).some((c) => wantsInt8.has(`${c.node.name}#${c.slot}`))

  // Fixpoint, walking the graph backwards: an int8 reader makes its input quantised, which may make the node
  // producing it int8 too.
  for (let changed = true; changed; ) {
    changed = false
    for (let i = model.graph.nodes.length - 1; i >= 0; i--) {
      const n = model.graph.nodes[i]!
      if (keepFloat(n)) continue
      const out = n.outputs[0]!
      if ((n.op === 'Gemm' || n.op === 'MatMul') && int8Nodes.has(n.name) && !quantized.has(out) && allReadersWantInt8(out)) {
        quantized.add(out)
        changed = true
      }
      if (int8Nodes.has(n.name)) continue
      if (MOVE_OPS.has(n.op)) {
        const input = n.inputs[0]!
        const fromNode = ix.producer.has(input) // never quantise a graph input (a Q on the 224² input costs more than after the resize)
        if (fromNode && (quantized.has(out) || anyReaderWantsInt8(out))) {
          int8Nodes.add(n.name)
          wantsInt8.add(`${n.name}#0`)
          quantized.add(out)
          quantized.add(input)
          tiedTo.set(out, input)
          changed = true
        }
      } else if (n.op === 'PRelu' && int8Prelu) {
        const [y, slope] = n.inputs as [string, string]
        if (floatWeight(ix, slope) && isActivation(y) && quantized.has(y) && (quantized.has(out) || anyReaderWantsInt8(out))) {
          int8Nodes.add(n.name)
          wantsInt8.add(`${n.name}#0`)
          quantized.add(out)
          changed = true
        }
      } else if (n.op === 'Add' && quantizeAdd) {
        const [a, b] = n.inputs as [string, string]
        if (isActivation(a) && isActivation(b) && (quantized.has(a) || quantized.has(b)) && (quantized.has(out) || anyReaderWantsInt8(out))) {
          int8Nodes.add(n.name)
          wantsInt8.add(`${n.name}#0`)
          wantsInt8.add(`${n.name}#1`)
          quantized.add(a)
          quantized.add(b)
          quantized.add(out)
          changed = true
        }
      }
    }
  }

  const rangeOf = new Map<string, string>()
  const sourceOf = (t: string): string => {
    let s = t
    for (let guard = 0; tiedTo.has(s) && guard < 1000; guard++) s = tiedTo.get(s)!
    return s
  }
  for (const t of quantized) rangeOf.set(t, sourceOf(t))
  const order = new Map<string, number>()
  model.graph.inputs.forEach((i, k) => order.set(i.name, -1 - k))
  model.graph.nodes.forEach((n, k) => n.outputs.forEach((o) => order.set(o, k)))
  const sources = [...new Set(rangeOf.values())].sort((x, y) => (order.get(x) ?? 0) - (order.get(y) ?? 0))
  return {rangeOf, sources, int8Nodes}
}

/** uint8 parameters for a range; the range is widened to include 0 so that zero (padding) is exact. */
export function activationParams(r: Range): ActivationParams {
  const lo = Math.min(r.min, 0)
  let hi = Math.max(r.max, 0)
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`activation range [${r.min}, ${r.max}] is not finite`)
  if (hi - lo < 1e-12) hi = lo + 1e-6
  const scale = Math.fround((hi - lo) / 255)
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)))
  return {scale, zeroPoint}
}

/** Per-channel symmetric int8 weights: q = round(w / scale[c]) in [-weightMax, weightMax] along `axis`. */
export function quantizeWeight(w: HostTensor, axis: number, weightMax: number): {q: Int8Array; scale: Float32Array} {
  const data = w.data as Float32Array
  const shape = w.shape
  const channels = shape[axis]!
  let inner = 1
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!
  const outer = data.length / (channels * inner)
  const absMax = new Float64Array(channels)
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner
      let m = absMax[c]!
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(data[base + i]!)
        if (v > m) m = v
      }
      absMax[c] = m
    }
  }
  const scale = new Float32Array(channels)
  for (let c = 0; c < channels; c++) scale[c] = absMax[c]! > 0 ? absMax[c]! / weightMax : 1
  const q = quantizeWithScales(w, axis, scale, weightMax)
  return {q, scale}
}

const INT32_MAX = 2 ** 31 - 1

export interface QdqResult {
  model: OnnxModel
  /** The quantisation parameters given to each quantised tensor. */
  params: Map<string, ActivationParams>
}

/**
 * Rewrite `model` per `plan` with the measured `ranges` (by source tensor). The float model is not changed;
 * initializers that no node reads any more (the float weights) are left out.
 */
export function applyQdq(model: OnnxModel, plan: QdqPlan, ranges: Map<string, Range>, policy: QdqPolicy = {}): QdqResult {
  const ix = indexGraph(model)
  const weightMax = policy.weightMax ?? 127
  const used = new Set<string>([...ix.producer.keys(), ...ix.initializers.keys(), ...ix.graphInputs, ...model.graph.nodes.map((n) => n.name)])
  const fresh = (hint: string): string => {
    let name = hint
    for (let k = 1; used.has(name); k++) name = `${hint}_${k}`
    used.add(name)
    return name
  }
  const inits: Initializer[] = []
  const addInit = (hint: string, tensor: HostTensor): string => {
    const name = fresh(hint)
    inits.push({name, tensor})
    return name
  }

  const params = new Map<string, ActivationParams>()
  const paramsBySource = new Map<string, {p: ActivationParams; scale: string; zp: string}>()
  const qdqFor = (t: string) => {
    const src = plan.rangeOf.get(t)!
    let e = paramsBySource.get(src)
    if (!e) {
      const r = ranges.get(src)
      if (!r) throw new Error(`no calibration range for ${src}`)
      const p = activationParams(r)
      e = {
        p,
        scale: addInit(`${src}.q_scale`, {dtype: 'float32', shape: [], data: Float32Array.of(p.scale)}),
        zp: addInit(`${src}.q_zero_point`, {dtype: 'uint8', shape: [], data: Uint8Array.of(p.zeroPoint)}),
      }
      paramsBySource.set(src, e)
    }
    params.set(t, e.p)
    return e
  }

  const dropped = new Set<string>()
  // Tensor renames for readers: quantised tensor T is read as DQ(Q(T)) except by its own Q and graph outputs.
  const readAs = new Map<string, string>()
  const nodes: NodeDef[] = []
  const emitQdq = (t: string) => {
    const e = qdqFor(t)
    const q = fresh(`${t}_quantized`)
    const dq = fresh(`${t}_dequantized`)
    nodes.push({op: 'QuantizeLinear', name: fresh(`${t}.quantize`), inputs: [t, e.scale, e.zp], outputs: [q], attributes: {}})
    nodes.push({op: 'DequantizeLinear', name: fresh(`${t}.dequantize`), inputs: [q, e.scale, e.zp], outputs: [dq], attributes: {}})
    readAs.set(t, dq)
  }
  for (const i of model.graph.inputs) if (plan.rangeOf.has(i.name)) emitQdq(i.name)

  /** A Q → DQ pair on a tensor that exists only in the int8 graph, with parameters given directly. */
  const qdqDirect = (t: string, p: ActivationParams): string => {
    const scale = addInit(`${t}.q_scale`, {dtype: 'float32', shape: [], data: Float32Array.of(p.scale)})
    const zp = addInit(`${t}.q_zero_point`, {dtype: 'uint8', shape: [], data: Uint8Array.of(p.zeroPoint)})
    const q = fresh(`${t}_quantized`)
    const dq = fresh(`${t}_dequantized`)
    nodes.push({op: 'QuantizeLinear', name: fresh(`${t}.quantize`), inputs: [t, scale, zp], outputs: [q], attributes: {}})
    nodes.push({op: 'DequantizeLinear', name: fresh(`${t}.dequantize`), inputs: [q, scale, zp], outputs: [dq], attributes: {}})
    params.set(t, p)
    return dq
  }

  /**
   * PRelu(y) = y + (a - 1)·min(y, 0) in uint8. min(y, 0) is LeakyRelu(alpha 1) quantised to [min y, 0] (zero point
   * 255, so positive values saturate to 0); the ranges of the two new tensors follow from y's range and a.
   */
  const emitInt8Prelu = (n: NodeDef, yRead: string) => {
    const y = n.inputs[0]!
    const slope = ix.initializers.get(n.inputs[1]!)!.tensor
    const yLo = Math.min(0, ranges.get(plan.rangeOf.get(y)!)!.min)
    const mParams: ActivationParams = {scale: Math.fround(Math.max(-yLo, 1e-12) / 255), zeroPoint: 255}
    const m = fresh(`${n.name}.negative_part`)
    nodes.push({op: 'LeakyRelu', name: fresh(`${n.name}.negative`), inputs: [yRead], outputs: [m], attributes: {alpha: {kind: 'float', value: 1}}})
    const mRead = qdqDirect(m, mParams)
    const c = Float32Array.from(slope.data as Float32Array, (a) => a - 1)
    let cLo = 0
    let cHi = 0
    for (const v of c) {
      cLo = Math.min(cLo, v)
      cHi = Math.max(cHi, v)
    }
    const cParams = activationParams({min: cLo, max: cHi})
    const cq = Uint8Array.from(c, (v) => Math.min(255, Math.max(0, Math.round(v / cParams.scale) + cParams.zeroPoint)))
    const cName = addInit(`${n.inputs[1]!}.minus_one.uint8`, {dtype: 'uint8', shape: slope.shape, data: cq})
    const cScale = addInit(`${n.inputs[1]!}.minus_one.scale`, {dtype: 'float32', shape: [], data: Float32Array.of(cParams.scale)})
    const cZp = addInit(`${n.inputs[1]!}.minus_one.zero_point`, {dtype: 'uint8', shape: [], data: Uint8Array.of(cParams.zeroPoint)})
    const cRead = fresh(`${n.inputs[1]!}.minus_one_dequantized`)
    nodes.push({op: 'DequantizeLinear', name: fresh(`${n.inputs[1]!}.minus_one.dequantize`), inputs: [cName, cScale, cZp], outputs: [cRead], attributes: {}})
    dropped.add(n.inputs[1]!)
    // (a - 1)·m over the whole range of m: its extremes are (a - 1)·min y for the smallest and largest a - 1.
    const t = fresh(`${n.name}.negative_scaled`)
    nodes.push({op: 'Mul', name: fresh(`${n.name}.slope_mul`), inputs: [mRead, cRead], outputs: [t], attributes: {}})
    const tRead = qdqDirect(t, activationParams({min: Math.min(0, cHi * yLo), max: Math.max(0, cLo * yLo)}))
    nodes.push({op: 'Add', name: n.name, inputs: [yRead, tRead], outputs: [...n.outputs], attributes: {}})
  }

  for (const n of model.graph.nodes) {
    const inputs = n.inputs.map((t) => readAs.get(t) ?? t)
    if (plan.int8Nodes.has(n.name) && COMPUTE_OPS.has(n.op) && ix.initializers.has(n.inputs[1]!)) {
      const wName = n.inputs[1]!
      const w = ix.initializers.get(wName)!.tensor
      const axis = n.op === 'MatMul' ? 1 : 0
      const {q, scale} = quantizeWeight(w, axis, weightMax)
      const xParams = qdqFor(n.inputs[0]!).p
      const biasName = n.op === 'MatMul' ? undefined : n.inputs[2]
      const bias = floatWeight(ix, biasName)
      let biasQ: Int32Array | undefined
      if (bias) {
        // Bias in units of x_scale · w_scale[c]; a channel whose bias would overflow int32 gets a coarser weight scale.
        biasQ = new Int32Array(bias.data.length)
        for (let c = 0; c < biasQ.length; c++) {
          const b = (bias.data as Float32Array)[c]!
          const need = Math.abs(b) / (xParams.scale * INT32_MAX)
          if (need > scale[c]!) scale[c] = need * 1.0001
        }
        const requant = quantizeWithScales(w, axis, scale, weightMax)
        q.set(requant)
        for (let c = 0; c < biasQ.length; c++) biasQ[c] = Math.round((bias.data as Float32Array)[c]! / (xParams.scale * scale[c]!))
      }
      const channels = scale.length
      const wq = addInit(`${wName}.int8`, {dtype: 'int8', shape: w.shape, data: q})
      const ws = addInit(`${wName}.scale`, {dtype: 'float32', shape: [channels], data: scale})
      const wz = addInit(`${wName}.zero_point`, {dtype: 'int8', shape: [channels], data: new Int8Array(channels)})
      const wdq = fresh(`${wName}_dequantized`)
      nodes.push({op: 'DequantizeLinear', name: fresh(`${wName}.dequantize`), inputs: [wq, ws, wz], outputs: [wdq], attributes: {axis: {kind: 'int', value: axis}}})
      inputs[1] = wdq
      dropped.add(wName)
      if (bias && biasQ && biasName) {
        const bScale = new Float32Array(channels)
        for (let c = 0; c < channels; c++) bScale[c] = xParams.scale * scale[c]!
        const bq = addInit(`${biasName}.int32`, {dtype: 'int32', shape: [channels], data: biasQ})
        const bs = addInit(`${biasName}.scale`, {dtype: 'float32', shape: [channels], data: bScale})
        const bz = addInit(`${biasName}.zero_point`, {dtype: 'int32', shape: [channels], data: new Int32Array(channels)})
        const bdq = fresh(`${biasName}_dequantized`)
        nodes.push({op: 'DequantizeLinear', name: fresh(`${biasName}.dequantize`), inputs: [bq, bs, bz], outputs: [bdq], attributes: {axis: {kind: 'int', value: 0}}})
        inputs[2] = bdq
        dropped.add(biasName)
      }
    }
    if (n.op === 'PRelu' && plan.int8Nodes.has(n.name)) emitInt8Prelu(n, inputs[0]!)
    else nodes.push({...n, inputs})
    for (const o of n.outputs) if (plan.rangeOf.has(o)) emitQdq(o)
  }

  // Float initializers no node reads any more are left out; everything else is kept as it was.
  const stillRead = new Set<string>()
  for (const n of nodes) for (const t of n.inputs) stillRead.add(t)
  const kept = model.graph.initializers.filter((i) => !dropped.has(i.name) || stillRead.has(i.name))
  return {
    model: {
      ...model,
      graph: {...model.graph, nodes, initializers: [...kept, ...inits]},
      metadata: {...model.metadata},
    },
    params,
  }
}

function quantizeWithScales(w: HostTensor, axis: number, scale: Float32Array, weightMax: number): Int8Array {
  const data = w.data as Float32Array
  const channels = w.shape[axis]!
  let inner = 1
  for (let d = axis + 1; d < w.shape.length; d++) inner *= w.shape[d]!
  const outer = data.length / (channels * inner)
  const q = new Int8Array(data.length)
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner
      const s = scale[c]!
      for (let i = 0; i < inner; i++) q[base + i] = Math.max(-weightMax, Math.min(weightMax, Math.round(data[base + i]! / s)))
    }
  }
  return q
}
