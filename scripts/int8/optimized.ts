/** Write the graph onnxruntime runs and print its op counts: npx tsx scripts/int8/optimized.ts model.onnx out.onnx */
import {readOpCounts} from '../../src/onnx/op-counts.js'
import {writeOptimizedModel} from '../../src/runtime/session.js'

await writeOptimizedModel(process.argv[2]!, process.argv[3]!, {threads: 2})
console.log(JSON.stringify(await readOpCounts(process.argv[3]!)))
