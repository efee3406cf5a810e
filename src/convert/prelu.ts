/**
 * PRelu in an int8 graph. onnxruntime runs QLinearConv in NHWC and moves the PRelu between its DequantizeLinear
 * and QuantizeLinear into NHWC too, with the slope [C, 1, 1] turned into [1, 1, 1, C]: its broadcasting kernel then
 * works one pixel (C values) per call, and PRelu took a third of the int8 graph's time. Tiling the slope along
 * the width ([C, 1, W], the same values) makes each call a whole image row (W·C values in NHWC): exactly the same
 * results, a few KB more per PRelu.
 */
import type {OnnxModel} from '../onnx/graph.js'

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
