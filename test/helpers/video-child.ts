/**
 * predict-child.ts for runs with videos: the same pacing options, plus `squares: true` to find faces with the
 * test stand-in detector (a function cannot travel in the JSON argument).
 *   node --import tsx test/helpers/video-child.ts '<json PredictOptions + delayMs + stallAfterRows + squares>'
 */
import {predict, type PredictOptions} from '../../src/pipeline/predict.js'
import {squareFaceStage} from './synthetic-faces.js'

const opts = JSON.parse(process.argv[2]!) as PredictOptions & {delayMs?: number; stallAfterRows?: number; squares?: boolean}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let written = 0
const summary = await predict({
  ...opts,
  video: {...opts.video, ...(opts.squares ? {faceStage: async () => squareFaceStage()} : {})},
  onBatch: async (rows) => {
    written += rows.length
    if (opts.stallAfterRows !== undefined && written >= opts.stallAfterRows) await sleep(600_000)
    if (opts.delayMs) await sleep(opts.delayMs)
  },
})
process.stdout.write(JSON.stringify(summary) + '\n')
