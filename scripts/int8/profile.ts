/** Kernel time per op type: npx tsx scripts/int8/profile.ts BATCH model.onnx */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {randomInput} from '../../src/bench/measure.js'
import {profileModel} from '../../src/runtime/session.js'

const [batchS, model] = process.argv.slice(2)
const batch = Number(batchS)
const dir = await mkdtemp(join(tmpdir(), 'int8-prof-'))
const ops = await profileModel(model!, randomInput(batch * 3 * 224 * 224), batch, {runs: Number(process.env.RUNS ?? 2), threads: 2, tmpDir: dir})
const total = ops.reduce((s, o) => s + o.us, 0)
const runs = Number(process.env.RUNS ?? 2)
for (const o of ops.slice(0, 25)) console.log(`${o.op.padEnd(26)} ${(o.us / 1000 / runs / batch).toFixed(1).padStart(7)} ms/image ${((100 * o.us) / total).toFixed(1).padStart(5)}%  ${o.calls / runs} nodes`)
console.log(`total ${(total / 1000 / runs / batch).toFixed(1)} ms/image`)
await rm(dir, {recursive: true, force: true})
