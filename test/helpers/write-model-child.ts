/**
 * Writes a model with writeModel and stops for good after its first chunk is on disk, so that a test can SIGKILL
 * it half-way, as a user killing `poster convert` would:
 *   node --import tsx test/helpers/write-model-child.ts OUT.onnx
 * Prints the temporary file's size when it stalls. (FileHandle.prototype.write is wrapped: the first write
 * completes, every later one never returns.)
 */
import {open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GraphBuilder, writeModel} from '../../src/onnx/index.js'

const probe = await open(join(tmpdir(), `poster-probe-${process.pid}`), 'w')
const proto = Object.getPrototypeOf(probe) as {write: (...args: unknown[]) => Promise<unknown>}
await probe.close()
const write = proto.write
let calls = 0
proto.write = async function (this: unknown, ...args: unknown[]) {
  if (calls++ > 0) {
    process.stdout.write('stalled\n')
    setInterval(() => {}, 1 << 30) // keep the process alive, stuck, until it is killed
    return new Promise(() => {})
  }
  return write.apply(this, args)
}

const g = new GraphBuilder({name: 'big'})
const x = g.input('input', 'float32', ['N', 4])
const w = g.weight('w', new Float32Array(4 * 1 << 20).fill(0.5), [4, 1 << 20])
g.output(g.node('MatMul', [x, w]), 'logits', 'float32', ['N', 1 << 20])
await writeModel(g.build({}), process.argv[2]!)
