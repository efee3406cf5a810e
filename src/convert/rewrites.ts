/**
 * Exact rewrites of the float graph that make its int8 version cheaper (same values in float32).
 *
 * PRelu in an int8 graph. onnxruntime runs QLinearConv in NHWC and moves the PRelu between its DequantizeLinear
 * and QuantizeLinear into NHWC too, with the slope [C, 1, 1] turned into [1, 1, 1, C]: its broadcasting kernel then
 * works one pixel (C values) per call, and PRelu took a third of the int8 graph's time. Tiling the slope along
 * the width ([C, 1, W], the same values) makes each call a whole image row (W·C values in NHWC): exactly the same
 * results, a few KB more per PRelu.
 */
import type {Initializer, OnnxModel} from '../onnx/graph.js'

/**
 * The model with every PRelu whose slope is [C, 1, 1] and whose input's dimensions are known ([C, H, W] after the
 * batch) given a slope tiled to [C, 1, W]. Returns the model and how many PRelus changed.
 */
export function tilePreluSlopes(model: OnnxModel, shapes: ReadonlyMap<string, readonly number[]>): {model: OnnxModel; tiled: number} {
  const inits = new Map(model.graph.initializers.map((i) => [i.name, i]))
  const readers = new Map<string, number>()
  for (const n of model.graph.nodes) for (const t of n.inputs) readers.set(t, (readers.get(t) ?? 0) + 1)
  const replaced = new Map<string, {name: string; tensor: {dtype: 'float32'; shape: number[]; data: Float32Array}}>()
  let tiled = 0
  const taken = new Set(inits.keys())
  const nodes = model.graph.nodes.map((n) => {
    if (n.op !== 'PRelu') return n
    const slope = inits.get(n.inputs[1]!)
    const dims = shapes.get(n.inputs[0]!)
    if (!slope || slope.tensor.dtype !== 'float32' || !dims || dims.length !== 3) return n
    const [c, , w] = dims as [number, number, number]
    const s = slope.tensor.shape
    if (s.length !== 3 || s[0] !== c || s[1] !== 1 || s[2] !== 1 || w <= 1) return n
    const src = slope.tensor.data as Float32Array
    const data = new Float32Array(c * w)
    for (let k = 0; k < c; k++) data.fill(src[k]!, k * w, (k + 1) * w)
    let name = `${slope.name}.tiled_w${w}`
    while (taken.has(name)) name += '_'
    taken.add(name)
    replaced.set(name, {name, tensor: {dtype: 'float32', shape: [c, 1, w], data}})
    tiled++
    return {...n, inputs: [n.inputs[0]!, name, ...n.inputs.slice(2)]}
  })
  const stillRead = new Set(nodes.flatMap((n) => n.inputs))
  const initializers = [...model.graph.initializers.filter((i) => stillRead.has(i.name)), ...replaced.values()]
  return {model: {...model, graph: {...model.graph, nodes, initializers}}, tiled}
}

/**
 * BatchNormalization (inference) as a depthwise 1×1 convolution: y = x·s + t per channel with
 * s = γ / sqrt(var + ε), t = β - mean·s. The int8 graph then runs it as one uint8 QLinearConv (its one weight per
 * channel quantises exactly) instead of DequantizeLinear → BatchNormalization → QuantizeLinear between layout
 * transposes. (POSTER++'s IR-50 has one before each unit's first convolution, where the zero padding keeps it
 * from being folded.) Returns the model and how many were rewritten.
 */
export function batchNormToDepthwiseConv(model: OnnxModel): {model: OnnxModel; rewritten: number} {
  const inits = new Map(model.graph.initializers.map((i) => [i.name, i]))
  const added: Initializer[] = []
  const taken = new Set(inits.keys())
  const fresh = (hint: string) => {
    let name = hint
    while (taken.has(name)) name += '_'
    taken.add(name)
    return name
  }
  let rewritten = 0
  const nodes = model.graph.nodes.map((n) => {
    if (n.op !== 'BatchNormalization' || n.outputs.length !== 1) return n
    const params = n.inputs.slice(1, 5).map((t) => inits.get(t)?.tensor)
    if (params.length !== 4 || params.some((p) => !p || p.dtype !== 'float32' || p.shape.length !== 1)) return n
    const [gamma, beta, mean, variance] = params.map((p) => p!.data as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array]
    const eps = n.attributes.epsilon?.kind === 'float' ? n.attributes.epsilon.value : 1e-5
    const c = gamma.length
    const w = new Float32Array(c)
    const b = new Float32Array(c)
    for (let k = 0; k < c; k++) {
      const scale = gamma[k]! / Math.sqrt(variance[k]! + eps)
      w[k] = scale
      b[k] = beta[k]! - mean[k]! * scale
    }
    const wName = fresh(`${n.name}.as_conv.weight`)
    const bName = fresh(`${n.name}.as_conv.bias`)
    added.push({name: wName, tensor: {dtype: 'float32', shape: [c, 1, 1, 1], data: w}}, {name: bName, tensor: {dtype: 'float32', shape: [c], data: b}})
    rewritten++
    return {
      op: 'Conv',
      name: n.name,
      inputs: [n.inputs[0]!, wName, bName],
      outputs: [...n.outputs],
      attributes: {kernel_shape: {kind: 'ints' as const, value: [1, 1]}, group: {kind: 'int' as const, value: c}},
    }
  })
  const stillRead = new Set(nodes.flatMap((x) => x.inputs))
  const initializers = [...model.graph.initializers.filter((i) => stillRead.has(i.name)), ...added]
  return {model: {...model, graph: {...model.graph, nodes, initializers}}, rewritten}
}
