/**
 * Development measurements for the int8 converter (not part of the CLI): builds the deterministic POSTER++ in
 * float32, calibrates on a synthetic RAF-DB train split, writes int8 variants, counts the fused ops onnxruntime
 * runs, and compares speed (interleaved) and agreement with float32 on the test split.
 *   npx tsx scripts/int8/experiment.ts WORKDIR [variant ...]
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {agreement} from '../../src/convert/agreement.js'
import {calibrationImages, imageBatches, observeRanges, runModel, spreadEvenly} from '../../src/convert/calibrate.js'
import {batchNormToDepthwiseConv, tilePreluSlopes} from '../../src/convert/rewrites.js'
import {applyQdq, planQdq, type QdqPolicy, type Range} from '../../src/convert/qdq.js'
import {writeSyntheticRafdb} from '../../src/datasets/synthetic.js'
import {readOpCounts} from '../../src/onnx/op-counts.js'
import {writeModel} from '../../src/onnx/write.js'
import {buildPosterGraph, deterministicPosterWeights} from '../../src/poster/index.js'
import {openSession, writeOptimizedModel} from '../../src/runtime/session.js'
import {randomInput} from '../../src/bench/measure.js'

const work = process.argv[2] ?? '/tmp/int8-work'
const variants = process.argv.slice(3)
const CAL = Number(process.env.CAL ?? 64)

async function speed(path: string, batch: number, calls: number): Promise<number> {
  const s = await openSession(path, {threads: 2})
  const x = randomInput(batch * 3 * 224 * 224)
  await s.run(x, batch)
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) await s.run(x, batch)
  const ips = (calls * batch) / ((performance.now() - t0) / 1000)
  await s.release()
  return ips
}

await mkdir(work, {recursive: true})
const data = join(work, 'rafdb')
if (!existsSync(data)) await writeSyntheticRafdb(data, {perClass: 30, train: 256, seed: 7})
const built = buildPosterGraph(deterministicPosterWeights(7), {})
const model = process.env.NOBN ? built : batchNormToDepthwiseConv(built).model
const fp32 = join(work, 'fp32.onnx')
if (!existsSync(fp32)) await writeModel(built, fp32)

const listing = await calibrationImages(data)
const calPaths = spreadEvenly(listing.paths, CAL)
const {loadDataset} = await import('../../src/datasets/index.js')
const test = await loadDataset(data, {split: 'test'})
const testBatches: Array<{data: Float32Array; n: number}> = []
for await (const b of imageBatches(test.items.map((i) => i.path), 8, () => {})) testBatches.push({data: Float32Array.from(b.data), n: b.n})
const ref = await runModel(fp32, testBatches, {threads: 2})

const head = (n: {name: string}) => n.name.startsWith('face_landback.output_layer')
const first = (n: {name: string}) => n.name === 'ir_back.input_layer.0' || n.name === 'face_landback.conv1'
const attn = (n: {name: string}) => /^(attn\d|VIT\.blocks\.\d\.attn)\.(qk|av)$/.test(n.name)
const policies: Record<string, QdqPolicy> = {
  default: {keepFloat: head},
  allint8: {},
  face: {keepFloat: (n) => n.name.startsWith('face_landback')},
  first: {keepFloat: (n) => head(n) || first(n)},
  attn: {keepFloat: (n) => head(n) || attn(n)},
  vit: {keepFloat: (n) => head(n) || n.name.startsWith('VIT')},
  w7: {keepFloat: head, weightMax: 63},
  floatprelu: {keepFloat: head, int8Prelu: false},
  noadd: {keepFloat: head, quantizeAdd: false},
  facedw: {keepFloat: (n) => head(n) || /^face_landback\.(conv2_dw|.*\.conv_dw)(\.|$)/.test(n.name)},
  facelate: {keepFloat: (n) => head(n) || /^face_landback\.(conv_45|conv_5|conv_6_sep)/.test(n.name)},
}
for (const v of variants.length ? variants : ['base']) {
  const [pname, method = 'minmax', pct = '0.9999'] = v.split(':')
  const policy = policies[pname!]!
  const plan = planQdq(model, policy)
  const t0 = performance.now()
  const cache = join(work, `obs-${pname}-${CAL}${process.env.NOBN ? '' : '-bn'}.json`)
  let saved: {ranges: Record<string, Range>; shapes: Record<string, number[]>; images: number}
  const key = `${method}:${pct}`
  const all: Record<string, typeof saved> = existsSync(cache) ? JSON.parse(readFileSync(cache, 'utf8')) : {}
  if (!all[key]) {
    const {observers, images, shapes} = await observeRanges(model, plan, calPaths, {tmpDir: join(work, 'tmp'), threads: 2})
    for (const m of ['minmax:0.9999', 'percentile:0.9999', 'percentile:0.99999', 'percentile:0.999']) {
      const [mm, pp] = m.split(':')
      const r: Record<string, Range> = {}
      for (const [k, o] of observers) r[k] = o.range(mm as 'minmax' | 'percentile', Number(pp))
      all[m] = {ranges: r, shapes: Object.fromEntries(shapes), images}
    }
    writeFileSync(cache, JSON.stringify(all))
  }
  saved = all[key]!
  const images = saved.images
  const t1 = performance.now()
  const ranges = new Map<string, Range>(Object.entries(saved.ranges))
  const base = process.env.NOTILE ? model : tilePreluSlopes(model, new Map(Object.entries(saved.shapes))).model
  const q = applyQdq(base, plan, ranges, policy)
  const out = join(work, `int8-${v.replace(/[:.]/g, '_')}${process.env.NOBN ? '' : '-bn'}.onnx`)
  const {bytes} = await writeModel(q.model, out)
  await writeOptimizedModel(out, join(work, 'opt.onnx'), {threads: 2})
  const ops = await readOpCounts(join(work, 'opt.onnx'))
  const got = await runModel(out, testBatches, {threads: 2})
  const a = agreement(ref, got)
  console.log(JSON.stringify({variant: v, calImages: images, calSeconds: ((t1 - t0) / 1000).toFixed(1), mb: (bytes / 1e6).toFixed(1), sources: plan.sources.length, int8Nodes: plan.int8Nodes.size, ops, agreement: a}))
  if (process.env.SPEED) {
    const r: number[] = []
    for (let k = 0; k < Number(process.env.SPEED); k++) {
      const f = await speed(fp32, 8, 4)
      const i = await speed(out, 8, 4)
      r.push(i / f)
      console.log(`  fp32 ${f.toFixed(2)} img/s  int8 ${i.toFixed(2)} img/s  ratio ${(i / f).toFixed(2)}`)
    }
  }
}
