/** Interleaved model-only speed of ONNX files at one batch size: npx tsx scripts/int8/speed.ts BATCH ROUNDS CALLS a.onnx b.onnx ... */
import {randomInput} from '../../src/bench/measure.js'
import {openSession} from '../../src/runtime/session.js'

const [batchS, roundsS, callsS, ...models] = process.argv.slice(2)
const batch = Number(batchS)
const x = randomInput(batch * 3 * 224 * 224)
const results = new Map<string, number[]>(models.map((m) => [m, []]))
for (let r = 0; r < Number(roundsS); r++) {
  for (const m of models) {
    const s = await openSession(m, {threads: Number(process.env.THREADS ?? 2)})
    await s.run(x, batch)
    const t0 = performance.now()
    for (let i = 0; i < Number(callsS); i++) await s.run(x, batch)
    results.get(m)!.push((Number(callsS) * batch) / ((performance.now() - t0) / 1000))
    await s.release()
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const base = med(results.get(models[0]!)!)
for (const [m, v] of results) console.log(`${m}: median ${med(v).toFixed(2)} img/s (${v.map((x) => x.toFixed(2)).join(' ')}) ×${(med(v) / base).toFixed(2)}`)
