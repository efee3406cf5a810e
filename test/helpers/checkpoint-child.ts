/**
 * Reads checkpoints in a child process, so a test can bound its heap (`node --max-old-space-size=…`) and time:
 *   node --max-old-space-size=256 --import tsx test/helpers/checkpoint-child.ts FILE...
 * Prints one JSON line per file: {file, ok, code?, message?, ms, maxRssMB}, maxRssMB being the process's peak
 * resident memory so far (ArrayBuffers included, which the heap limit does not cover).
 */
import {readCheckpoint, CheckpointError} from '../../src/checkpoint/index.js'

for (const file of process.argv.slice(2)) {
  const t0 = performance.now()
  let line: Record<string, unknown>
  try {
    const ck = await readCheckpoint(file)
    line = {file, ok: true, tensors: ck.stateDict.size}
  } catch (err) {
    line = err instanceof CheckpointError
      ? {file, ok: false, code: err.code, message: err.message}
      : {file, ok: false, code: 'uncaught', message: String((err as Error)?.stack ?? err)}
  }
  line.ms = Math.round(performance.now() - t0)
  line.maxRssMB = Math.round(process.resourceUsage().maxRSS / 1024)
  process.stdout.write(JSON.stringify(line) + '\n')
}
