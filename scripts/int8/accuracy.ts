/**
 * The accuracy proxy of an int8 model against its float32 original on a dataset's test split:
 *   npx tsx scripts/int8/accuracy.ts FP32.onnx INT8.onnx DATASET
 * prints the agreement (top-1 on all and on the confident images, logit and landmark errors) as JSON.
 */
import {agreement} from '../../src/convert/agreement.js'
import {imageBatches, runModel} from '../../src/convert/calibrate.js'
import {loadDataset} from '../../src/datasets/index.js'

const [fp32, int8, data] = process.argv.slice(2)
const ds = await loadDataset(data!, {split: 'test'})
const batches: Array<{data: Float32Array; n: number}> = []
for await (const b of imageBatches(ds.items.map((i) => i.path), 8, () => {})) batches.push({data: Float32Array.from(b.data), n: b.n})
const ref = await runModel(fp32!, batches, {threads: 2})
let range = 0
for (let i = 0; i < ref.n; i++) {
  const row = ref.logits.subarray(i * ref.classes, (i + 1) * ref.classes)
  range += Math.max(...row) - Math.min(...row)
}
console.log(JSON.stringify({meanFloatLogitRange: range / ref.n, ...agreement(ref, await runModel(int8!, batches, {threads: 2}))}))
