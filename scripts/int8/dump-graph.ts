/** Print nodes of an ONNX file (initializers with their dims): npx tsx scripts/int8/dump-graph.ts model.onnx [from] [count] */
import {readFile} from 'node:fs/promises'
import onnxProto from 'onnx-proto'
const m = onnxProto.onnx.ModelProto.decode(await readFile(process.argv[2]!))
const nodes = m.graph!.node!
const init = new Map(m.graph!.initializer!.map((t) => [t.name, t.dims]))
const i = Number(process.argv[3] ?? 0)
for (const n of nodes.slice(i, i + Number(process.argv[4] ?? 30))) console.log(n.opType, n.domain, n.name, 'in:', n.input!.map((x) => init.has(x) ? `${x}[${init.get(x)}]` : x).join(', '), '→', n.output!.join(','))
