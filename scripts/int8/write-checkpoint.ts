/** The deterministic parity weights as a released-layout .pth: npx tsx scripts/int8/write-checkpoint.ts OUT.pth [classes] */
import {deterministicPosterWeights} from '../../src/poster/index.js'
import {releasedCheckpoint, torchSave} from '../../test/helpers/torch-save.js'

const classes = Number(process.argv[3] ?? 7)
torchSave(process.argv[2]!, releasedCheckpoint(deterministicPosterWeights(classes), {epoch: 1, bestAcc: 0}))
