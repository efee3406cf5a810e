/** The small graph `probeDevice` runs on each provider: y = Relu(x·W + b), x [2,64], deterministic values. */
import {GraphBuilder} from '../onnx/graph.js'
import {serializeModel} from '../onnx/write.js'

export function probeModelBytes(): {bytes: Uint8Array; input: Float32Array; dims: number[]} {
  const n = 64
  const g = new GraphBuilder({name: 'poster_probe'})
  const x = g.input('x', 'float32', [2, n])
  const w = new Float32Array(n * n)
  for (let i = 0; i < w.length; i++) w[i] = ((i * 37) % 17) / 17 - 0.5
  const b = new Float32Array(n).map((_, i) => (i % 5) / 10)
  const y = g.node('Relu', [g.node('Add', [g.node('MatMul', [x, g.weight('w', w, [n, n])]), g.weight('b', b, [n])])])
  g.output(y, 'y', 'float32', [2, n])
  const input = new Float32Array(2 * n).map((_, i) => Math.sin(i))
  return {bytes: serializeModel(g.build()), input, dims: [2, n]}
}
