/** Micro-benchmark of exact PRelu forms on one [N, C, H, W] tensor: npx tsx scripts/int8/prelu-bench.ts */
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GraphBuilder} from '../../src/onnx/graph.js'
import {writeModel} from '../../src/onnx/write.js'
import {openGenericModel} from '../../src/runtime/session.js'

const [N, C, H, W] = [8, 64, 56, 56]
const dir = await mkdtemp(join(tmpdir(), 'prelu-'))
const slope = Float32Array.from({length: C}, (_, i) => 0.15 + (0.2 * i) / C)
const forms: Record<string, (g: GraphBuilder, x: string) => string> = {
  prelu: (g, x) => g.node('PRelu', [x, g.weight('a', slope, [C, 1, 1])]),
  preluNHWCslope: (g, x) => {
    const t = g.node('Transpose', [x], {perm: [0, 2, 3, 1]})
    const y = g.node('PRelu', [t, g.weight('a', slope, [C])])
    return g.node('Transpose', [y], {perm: [0, 3, 1, 2]})
  },
  leaky: (g, x) => g.node('LeakyRelu', [x], {alpha: {kind: 'float', value: 0.25}}),
  maxmul: (g, x) => g.node('Max', [x, g.node('Mul', [x, g.weight('a', slope, [C, 1, 1])])]),
  relu: (g, x) => g.node('Relu', [x]),
  mul: (g, x) => g.node('Mul', [x, g.weight('a', slope, [C, 1, 1])]),
  transposeOnly: (g, x) => g.node('Transpose', [g.node('Transpose', [x], {perm: [0, 2, 3, 1]})], {perm: [0, 3, 1, 2]}),
}
const x = new Float32Array(N * C * H * W).map((_, i) => Math.sin(i * 0.37))
for (const [name, f] of Object.entries(forms)) {
  const g = new GraphBuilder()
  const inp = g.input('x', 'float32', [N, C, H, W])
  let y = inp
  for (let k = 0; k < 10; k++) y = f(g, y)
  g.output(y, 'y', 'float32', [N, C, H, W])
  const path = join(dir, `${name}.onnx`)
  await writeModel(g.build(), path)
  const s = await openGenericModel(path, {threads: 2})
  await s.run({x: {data: x, dims: [N, C, H, W]}})
  const times: number[] = []
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now()
    await s.run({x: {data: x, dims: [N, C, H, W]}})
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  console.log(`${name.padEnd(16)} ${(times[3]! / N / 10).toFixed(2)} ms/image/op  ${((times[3]! * 1e6) / x.length / 10).toFixed(2)} ns/value/op`)
  await s.release()
}
