/**
 * POSTER++ (POSTER V2, arXiv 2301.12149) as an ONNX graph, following pyramid_trans_expr2.forward:
 *
 *   input [N,3,224,224] ─ nearest resize to 112 ─┬─ MobileFaceNet ─ landmark maps (28², 14², 7²→last_face_conv)
 *                                                │        └─ GDC head ─ landmarks [N,68,2]
 *                                                └─ IR-50 ─ image maps (56², 28², 14²) ─ conv1..3 (stride 2)
 *   per stage: window LayerNorm → window cross-attention (landmark queries, image keys/values) → feed-forward
 *   embed_q/k/v → 147 tokens → two-layer ViT → SE block → logits [N,C]
 *
 * Everything is batch-dynamic (the batch is the symbolic dim N; reshapes copy it with 0), BatchNorms after
 * convolutions are folded, LayerNorm and GELU are single ops, and unused weights are left out.
 */

import {INPUT_SIZE} from '../basics.js'
import {defaultLabelsFor} from '../datasets/labels.js'
import {GraphBuilder, OnnxModel} from '../onnx/graph.js'
import type {TensorMap} from '../tensor.js'
import {validatePosterWeights} from './architecture.js'
import {landmarkQuery, STAGES, windowAttentionGlobal, windowTokens} from './cross-attention.js'
import {concatTokens, downsampleConv, lastFaceConv, toChannelFirst, tokenEmbedding} from './embedding.js'
import {feedForward} from './feed-forward.js'
import {ir50} from './ir50.js'
import {Ctx, Weights} from './layers.js'
import {LANDMARK_COUNT, mobileFaceNet} from './mobilefacenet.js'
import {visionTransformer} from './vit.js'

export const INPUT_NAME = 'input'
export const LOGITS_NAME = 'logits'
export const LANDMARKS_NAME = 'landmarks'
export {INPUT_SIZE}
export const ARCHITECTURE = 'poster-v2'

/** The official evaluation transform, stored in the model's `preprocess` metadata. */
export const PREPROCESS = {
  color: 'RGB',
  resize: {width: INPUT_SIZE, height: INPUT_SIZE, interpolation: 'bilinear', antialias: true},
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'NCHW',
} as const

export interface BuildOptions {
  /** Expected class count; must match the checkpoint's head when given (the head decides otherwise). */
  numClasses?: number
  /** Class names in class order; default: RAF-DB names for 7 classes, AffectNet for 8, else class_0... */
  labels?: string[]
  /** Extra metadata_props (source sha256, epoch, best_acc, ...). The reserved keys are always ours. */
  metadata?: Record<string, string>
  /** Storage type of the float weights: float16 halves the file, compute stays float32. */
  dtype?: 'float32' | 'float16'
  /** Also expose per-module intermediate tensors as outputs named `debug:<module>` (as in expected-*.json). */
  debugOutputs?: boolean
}

/** Build the POSTER++ graph from a state dict (keys as in the official model, 'module.' prefix optional). */
export function buildPosterGraph(weights: TensorMap, opts: BuildOptions = {}): OnnxModel {
  const {numClasses, weights: sd} = validatePosterWeights(weights, {numClasses: opts.numClasses})
  const labels = opts.labels ?? defaultLabelsFor(numClasses) ?? Array.from({length: numClasses}, (_, i) => `class_${i}`)
  if (labels.length !== numClasses) {
    throw new Error(`${labels.length} labels given for a ${numClasses}-class model: ${labels.join(', ')}`)
  }
  const dtype = opts.dtype ?? 'float32'
  const g = new GraphBuilder({name: 'poster_v2', weightDtype: dtype})
  const ctx: Ctx = {g, w: new Weights(sd)}
  const debug: Array<[string, string, Array<number | string>]> = []
  const tap = (module: string, value: string, shape: Array<number | string>) => {
    if (opts.debugOutputs) debug.push([module, value, shape])
  }

  const input = g.input(INPUT_NAME, 'float32', ['N', 3, INPUT_SIZE, INPUT_SIZE])
  // F.interpolate(x, size=112) (mode 'nearest'): source index floor(dst · 224/112) = 2·dst, i.e. every other pixel
  // from 0. Both branches resize the same input, so it is computed once.
  const x112 = g.node(
    'Slice',
    [input, g.int64([0, 0]), g.int64([INPUT_SIZE, INPUT_SIZE]), g.int64([2, 3]), g.int64([2, 2])],
    {},
    {name: 'resize_112_nearest'},
  )

  const face = mobileFaceNet(ctx, x112)
  const faceQ3 = lastFaceConv(ctx, face.features)
  tap('face_landback[0]', face.out3, ['N', 64, 28, 28])
  tap('face_landback[1]', face.out4, ['N', 128, 14, 14])
  tap('face_landback[2]', face.features, ['N', 512, 7, 7])
  tap('last_face_conv', faceQ3, ['N', 256, 7, 7])

  const ir = ir50(ctx, x112)
  tap('ir_back[0]', ir[0], ['N', 64, 56, 56])
  tap('ir_back[1]', ir[1], ['N', 128, 28, 28])
  tap('ir_back[2]', ir[2], ['N', 256, 14, 14])

  const faceMaps = [face.out3, face.out4, faceQ3]
  const stageOut: string[] = []
  for (const st of STAGES) {
    const i = st.index - 1
    const T = st.window ** 2
    const x = downsampleConv(ctx, ir[i]!, st)
    tap(`conv${st.index}`, x, ['N', st.dim, st.window, st.window])
    const tokens = windowTokens(ctx, x, st)
    const q = landmarkQuery(ctx, faceMaps[i]!, st)
    const a = windowAttentionGlobal(ctx, tokens, q, st)
    tap(`attn${st.index}`, a, ['N', T, st.dim])
    const o = feedForward(ctx, a, tokens, st)
    tap(`ffn${st.index}`, o, ['N', T, st.dim])
    stageOut.push(toChannelFirst(ctx, o, st))
  }
  const maps = tokenEmbedding(ctx, stageOut[0]!, stageOut[1]!, stageOut[2]!)
  tap('embed_q', maps[0], ['N', 768, 7, 7])
  tap('embed_k', maps[1], ['N', 768, 7, 7])
  tap('embed_v', maps[2], ['N', 768, 7, 7])
  const logits = visionTransformer(ctx, concatTokens(ctx, maps))

  g.output(logits, LOGITS_NAME, 'float32', ['N', numClasses])
  const landmarks = g.node('Reshape', [face.landmarks, g.int64([0, LANDMARK_COUNT, 2])], {}, {name: 'landmarks_pairs'})
  g.output(landmarks, LANDMARKS_NAME, 'float32', ['N', LANDMARK_COUNT, 2])
  for (const [module, value, shape] of debug) g.output(value, `debug:${module}`, 'float32', shape)

  const metadata: Record<string, string> = {
    ...(opts.metadata ?? {}),
    architecture: ARCHITECTURE,
    num_classes: String(numClasses),
    labels: JSON.stringify(labels),
    preprocess: JSON.stringify(PREPROCESS),
    weights_dtype: dtype,
  }
  return g.build(
    metadata,
    `POSTER++ (POSTER V2) facial expression recognition, ${numClasses} classes. ` +
      `Input ${INPUT_NAME} [N,3,224,224] float32 (RGB, normalised); outputs ${LOGITS_NAME} [N,${numClasses}] and ` +
      `${LANDMARKS_NAME} [N,68,2] (MobileFaceNet landmark head).`,
  )
}
