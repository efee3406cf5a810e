import {buildPosterGraph, deterministicPosterWeights} from '../../src/poster/index.js'
import {modelStats} from '../../src/onnx/index.js'
console.log(JSON.stringify(modelStats(buildPosterGraph(deterministicPosterWeights(7))).ops))
