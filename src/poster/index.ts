/** Public API of the POSTER++ graph: build from a state dict, validate, deterministic demo weights. */

export {ArchitectureError, posterV2Spec, validatePosterWeights} from './architecture.js'
export type {ShapeMismatch, ValidatedWeights} from './architecture.js'
export {
  ARCHITECTURE,
  buildPosterGraph,
  INPUT_NAME,
  INPUT_SIZE,
  LANDMARKS_NAME,
  LOGITS_NAME,
  PREPROCESS,
} from './build.js'
export type {BuildOptions} from './build.js'
export {
  deterministicInput,
  deterministicPosterWeights,
  deterministicTensor,
  deterministicWeights,
  fnv1a32,
  INPUT_SEED,
  posterManifest,
  WEIGHT_SEED,
} from './deterministic-weights.js'
export type {ManifestEntry} from './deterministic-weights.js'
export type {ParamSpec} from './spec.js'
