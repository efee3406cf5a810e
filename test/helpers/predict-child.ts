/**
 * Runs the predict pipeline in a child process, for tests that kill it part-way:
 *   node --import tsx test/helpers/predict-child.ts '<json PredictOptions + delayMs + stallAfterRows>'
 * After each batch is on disk: `delayMs` sleeps that long; once this run has written `stallAfterRows` rows it
 * stops making progress (sleeps for ten minutes), so a test can SIGKILL it at a known point.
 * Prints the summary as JSON on success.
 */
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'

const opts = JSON.parse(process.argv[2]!) as PredictOptions & {delayMs?: number; stallAfterRows?: number}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let written = 0
const summary = await predict({
  ...opts,
  onBatch: async (rows) => {
    written += rows.length
    if (opts.stallAfterRows !== undefined && written >= opts.stallAfterRows) await sleep(600_000)
    if (opts.delayMs) await sleep(opts.delayMs)
  },
})
process.stdout.write(JSON.stringify(summary) + '\n')
