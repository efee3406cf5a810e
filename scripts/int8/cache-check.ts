/** An int8 model through openSession's optimised-graph cache, twice (write, then load): same logits? */
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {randomInput} from '../../src/bench/measure.js'
import {openSession} from '../../src/runtime/session.js'

const model = process.argv[2]!
const cache = join(await mkdtemp(join(tmpdir(), 'int8-cache-')), 'optimized.onnx')
const x = randomInput(2 * 3 * 224 * 224)
const out: Float32Array[] = []
for (let i = 0; i < 2; i++) {
  const t0 = performance.now()
  const s = await openSession(model, {threads: 2, optimizedCache: cache})
  const ms = performance.now() - t0
  out.push(Float32Array.from((await s.run(x, 2)).logits))
  await s.release()
  console.log(`session ${i + 1}: ${ms.toFixed(0)} ms`)
}
let d = 0
for (let i = 0; i < out[0]!.length; i++) d = Math.max(d, Math.abs(out[0]![i]! - out[1]![i]!))
console.log(`max |Δlogit| between a fresh and a cached optimised graph: ${d}`)
