/**
 * The complete POSTER++ (POSTER V2) state_dict layout, in the official module order, and the check that a state
 * dict matches it before a graph is built. A checkpoint of another model (POSTER V1, a plain ResNet, ...) is
 * refused with an ArchitectureError that names the missing, unexpected and mis-shaped keys.
 */

import {printable} from '../basics.js'
import type {HostTensor, TensorMap} from '../tensor.js'
import {numel} from '../tensor.js'
import {relativePositionIndexMatches, STAGES, windowAttentionSpec, windowSpec} from './cross-attention.js'
import {downsampleConvSpec, EMBED_DIM, lastFaceConvSpec, tokenEmbeddingSpec} from './embedding.js'
import {feedForwardSpec} from './feed-forward.js'
import {ir50Spec} from './ir50.js'
import {mobileFaceNetSpec} from './mobilefacenet.js'
import {ParamSpec, SpecBuilder} from './spec.js'
import {vitSpec} from './vit.js'

export const HEAD_WEIGHT = 'VIT.head.linear.weight'
export const HEAD_BIAS = 'VIT.head.linear.bias'

/** Every state_dict entry of pyramid_trans_expr2(num_classes), in state_dict order. */
export function posterV2Spec(numClasses: number): ParamSpec[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`invalid class count ${numClasses}`)
  const s = new SpecBuilder()
  mobileFaceNetSpec(s)
  vitSpec(s, numClasses)
  ir50Spec(s)
  for (const st of STAGES) windowAttentionSpec(s, st)
  for (const st of STAGES) windowSpec(s, st)
  downsampleConvSpec(s)
  for (const st of STAGES) feedForwardSpec(s, st)
  lastFaceConvSpec(s)
  tokenEmbeddingSpec(s)
  return s.entries
}

export interface ShapeMismatch {
  key: string
  expected: string
  actual: string
}

/** The state dict does not describe POSTER++: lists what is missing, unexpected or mis-shaped. */
export class ArchitectureError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: ShapeMismatch[],
    readonly hint?: string,
  ) {
    super(printable(message)) // it lists the checkpoint's own key names
    this.name = 'ArchitectureError'
  }
}

export interface ValidatedWeights {
  numClasses: number
  /** The same tensors keyed without any 'module.' (DataParallel) prefix. */
  weights: TensorMap
}

const FLOAT_DTYPES = new Set(['float32', 'float16', 'bfloat16', 'float64'])
const INT_DTYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint8'])

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

function listSome(items: string[], max = 5): string {
  const shown = items.slice(0, max).join(', ')
  return items.length > max ? `${shown} and ${items.length - max} more` : shown
}

function stripPrefix(weights: TensorMap): TensorMap {
  let prefixed = false
  for (const k of weights.keys()) if (k.startsWith('module.')) prefixed = true
  if (!prefixed) return weights
  const out: TensorMap = new Map()
  for (const [k, v] of weights) out.set(k.startsWith('module.') ? k.slice(7) : k, v)
  return out
}

function guessOtherModel(keys: string[]): string | undefined {
  const has = (re: RegExp) => keys.some((k) => re.test(k))
  if (has(/^pyramid_fuse\./) || has(/^ir_layer\./) || has(/^ir_back\.body\.\d/)) {
    return 'this looks like a POSTER (V1) checkpoint (pyramid_fuse / ir_layer keys); only POSTER++ (POSTER V2) is supported'
  }
  if (has(/^layer1\.0\.conv1\.weight$/) || has(/^fc\.weight$/)) {
    return 'this looks like a plain ResNet state dict (conv1 / layer1..4 / fc keys), not a POSTER++ checkpoint'
  }
  if (has(/^ir_back\./) && !has(/^face_landback\./)) return 'this looks like a bare IR-50 backbone, not a full POSTER++ model'
  if (has(/^(conv_6_sep|conv_23|output_layer)\./)) return 'this looks like a bare MobileFaceNet, not a full POSTER++ model'
  return undefined
}

/**
 * Check a state dict against the POSTER++ layout and read its class count from the classifier head. Keys the
 * forward pass does not use (IR-50 output layer, ViT patch_embed/CON1/IRLinear/eca/block convs) and the derived
 * buffers (num_batches_tracked, relative_position_index) may be absent; when present they must have the right
 * shape. Throws ArchitectureError otherwise.
 */
export function validatePosterWeights(input: TensorMap, opts: {numClasses?: number} = {}): ValidatedWeights {
  const weights = stripPrefix(input)
  const head = weights.get(HEAD_WEIGHT)
  const headClasses = head && head.shape.length === 2 && head.shape[1] === EMBED_DIM ? head.shape[0]! : undefined
  const numClasses = headClasses ?? opts.numClasses ?? 7
  const spec = posterV2Spec(numClasses)

  const missing: string[] = []
  const mismatched: ShapeMismatch[] = []
  const known = new Set<string>()
  for (const p of spec) {
    known.add(p.key)
    const t = weights.get(p.key)
    if (!t) {
      if (p.use === 'forward') missing.push(p.key)
      continue
    }
    const problem = checkTensor(p, t)
    if (problem) mismatched.push({key: p.key, expected: problem.expected, actual: problem.actual})
  }
  if (opts.numClasses !== undefined && headClasses !== undefined && headClasses !== opts.numClasses) {
    mismatched.unshift({
      key: HEAD_WEIGHT,
      expected: `${fmtShape([opts.numClasses, EMBED_DIM])} (${opts.numClasses} classes requested)`,
      actual: fmtShape(head!.shape),
    })
  }
  const unexpected = [...weights.keys()].filter((k) => !known.has(k))

  if (missing.length + unexpected.length + mismatched.length === 0) return {numClasses, weights}
  if (opts.numClasses !== undefined && headClasses !== undefined && opts.numClasses !== headClasses && missing.length + unexpected.length === 0 && mismatched.length === 1) {
    // A sound POSTER++ whose only fault is the class count asked for: say so, not "not a POSTER++ state dict".
    throw new ArchitectureError(
      `this POSTER++ checkpoint has ${headClasses} classes (${HEAD_WEIGHT} ${fmtShape(head!.shape)}), not the ${opts.numClasses} ` +
        `requested; convert it with --classes ${headClasses} (or auto)`,
      [],
      [],
      mismatched,
    )
  }

  const hint = guessOtherModel([...weights.keys()])
  const parts: string[] = []
  if (missing.length > 0) parts.push(`${missing.length} missing key${missing.length > 1 ? 's' : ''} (${listSome(missing)})`)
  if (unexpected.length > 0) {
    parts.push(`${unexpected.length} unexpected key${unexpected.length > 1 ? 's' : ''} (${listSome(unexpected)})`)
  }
  if (mismatched.length > 0) {
    const shown = mismatched.map((m) => `${m.key}: ${m.actual}, expected ${m.expected}`)
    parts.push(`${mismatched.length} mis-shaped (${listSome(shown, 3)})`)
  }
  const found = spec.filter((p) => weights.has(p.key)).length
  let message = `not a POSTER++ (POSTER V2) state dict: ${parts.join('; ')}`
  if (found === 0) message += `; none of the ${spec.length} POSTER++ keys is present`
  else if (found < spec.length / 2) message += `; only ${found} of the ${spec.length} POSTER++ keys ${found === 1 ? 'is' : 'are'} present`
  if (hint) message += `. Hint: ${hint}`
  throw new ArchitectureError(message, missing, unexpected, mismatched, hint)
}

function checkTensor(p: ParamSpec, t: HostTensor): {expected: string; actual: string} | undefined {
  const isFloat = FLOAT_DTYPES.has(t.dtype)
  if (p.dtype === 'float32' && !isFloat) return {expected: `${fmtShape(p.shape)} float`, actual: `${fmtShape(t.shape)} ${t.dtype}`}
  if (p.dtype === 'int64' && !INT_DTYPES.has(t.dtype)) {
    return {expected: `${fmtShape(p.shape)} integer`, actual: `${fmtShape(t.shape)} ${t.dtype}`}
  }
  const sameShape =
    t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i])
  // A scalar buffer saved as shape [1] is harmless.
  const scalarOk = p.shape.length === 0 && numel(t.shape) === 1
  if (!sameShape && !scalarOk) return {expected: fmtShape(p.shape), actual: fmtShape(t.shape)}
  if (t.data.length !== numel(t.shape)) {
    return {expected: `${numel(t.shape)} values`, actual: `${t.data.length} values`}
  }
  if (p.key.endsWith('.relative_position_index')) {
    const w = Math.round(Math.sqrt(p.shape[0]!))
    if (!relativePositionIndexMatches(t.data as ArrayLike<number | bigint>, w)) {
      return {expected: `the relative position index of a ${w}×${w} window`, actual: 'different values'}
    }
  }
  return undefined
}
