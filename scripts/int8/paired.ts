/** Paired speed: both sessions open, calls alternate A B A B; npx tsx scripts/int8/paired.ts BATCH PAIRS a.onnx b.onnx */
import {randomInput} from '../../src/bench/measure.js'
import {openSession} from '../../src/runtime/session.js'

const [batchS, pairsS, a, b] = process.argv.slice(2)
const batch = Number(batchS)
const x = randomInput(batch * 3 * 224 * 224)
const sa = await openSession(a!, {threads: 2})
const sb = await openSession(b!, {threads: 2})
await sa.run(x, batch)
await sb.run(x, batch)
const ta: number[] = []
const tb: number[] = []
for (let i = 0; i < Number(pairsS); i++) {
  let t = performance.now()
  await sa.run(x, batch)
  ta.push(performance.now() - t)
  t = performance.now()
  await sb.run(x, batch)
  tb.push(performance.now() - t)
}
const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!
const ratios = ta.map((v, i) => v / tb[i]!)
console.log(`A ${((batch * 1000) / med(ta)).toFixed(2)} img/s  B ${((batch * 1000) / med(tb)).toFixed(2)} img/s  median pair ratio B/A speed ${med(ratios).toFixed(2)}  (ratios ${ratios.map((r) => r.toFixed(2)).join(' ')})`)
