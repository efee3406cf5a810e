/**
 * The two-layer ViT head of POSTER++ (models/vit_model.py VisionTransformer with depth=2, as the official forward
 * uses it): a class token is prepended to the 147 multi-scale tokens, the position embedding added, two
 * pre-norm Blocks (8-head attention over all 148 tokens, MLP 768→3072→768, LayerNorm eps 1e-6), a final
 * LayerNorm, the class token taken, an SE block (x · sigmoid(W2 relu(W1 x))) and the linear classifier.
 *
 * Not used by that forward and left out of the graph: patch_embed, eca_block, CON1, IRLinear1/2 and each block's
 * Conv1d (`blocks.i.conv`). Only the class token leaves the last block, so that block computes its attention
 * query, residuals and MLP for the class token alone (per-token operations, so the result is unchanged).
 */

import {gelu, layerNorm, linear, Ctx} from './layers.js'
import {SpecBuilder} from './spec.js'
import {EMBED_DIM, TOKENS_PER_STAGE} from './embedding.js'

export const VIT_DEPTH = 2
export const VIT_HEADS = 8
export const VIT_TOKENS = 3 * TOKENS_PER_STAGE + 1
const MLP_DIM = 4 * EMBED_DIM
const LN_EPS = 1e-6

export function vitSpec(s: SpecBuilder, numClasses: number, p = 'VIT'): void {
  const D = EMBED_DIM
  s.param(`${p}.cls_token`, [1, 1, D], 0, 0.5)
  s.param(`${p}.pos_embed`, [1, VIT_TOKENS, D], 0, 0.5)
  s.linear(`${p}.se_block.linear1`, D, D).linear(`${p}.se_block.linear2`, D, D)
  s.unused((u) => u.conv(`${p}.patch_embed.proj`, D, 256, 1, true))
  s.linear(`${p}.head.linear`, numClasses, D)
  s.unused((u) => {
    u.fanIn(`${p}.eca_block.conv.weight`, [1, 1, 5])
    u.conv(`${p}.CON1`, D, 256, 1, false)
    u.linear(`${p}.IRLinear1`, D, 1024).linear(`${p}.IRLinear2`, 512, D)
  })
  for (let i = 0; i < VIT_DEPTH; i++) {
    const b = `${p}.blocks.${i}`
    s.layerNorm(`${b}.norm1`, D)
    s.unused((u) => u.fanIn(`${b}.conv.weight`, [VIT_TOKENS, VIT_TOKENS, 1]).bias(`${b}.conv.bias`, VIT_TOKENS))
    s.linear(`${b}.attn.qkv`, 3 * D, D).linear(`${b}.attn.proj`, D, D)
    s.layerNorm(`${b}.norm2`, D)
    s.linear(`${b}.mlp.fc1`, MLP_DIM, D).linear(`${b}.mlp.fc2`, D, MLP_DIM)
  }
  s.layerNorm(`${p}.norm`, D)
}

/** Split [N, T, 768] into heads: [N, 8, T, 96], or transposed [N, 8, 96, T] for keys. */
function heads(ctx: Ctx, x: string, tokens: number, name: string, transposed: boolean): string {
  const {g} = ctx
  const r = g.node('Reshape', [x, g.int64([0, tokens, VIT_HEADS, EMBED_DIM / VIT_HEADS])], {}, {name: `${name}_heads`})
  return g.node('Transpose', [r], {perm: transposed ? [0, 2, 3, 1] : [0, 2, 1, 3]}, {name: `${name}_t`})
}

/**
 * Block.forward: x = x + proj(softmax(q kᵀ · scale) v) on norm1(x); x = x + mlp(norm2(x)).
 * With `clsOnly`, the queries, residuals and MLP are computed for token 0 only: returns [N, 1, 768].
 */
function block(ctx: Ctx, x: string, b: string, clsOnly: boolean): string {
  const {g} = ctx
  const D = EMBED_DIM
  const h = layerNorm(ctx, x, `${b}.norm1`, LN_EPS)
  const first = (t: string, name: string) =>
    g.node('Slice', [t, g.int64([0]), g.int64([1]), g.int64([1])], {}, {name})
  const qIn = clsOnly ? first(h, `${b}.cls_norm1`) : h
  const residual = clsOnly ? first(x, `${b}.cls_token`) : x
  const Tq = clsOnly ? 1 : VIT_TOKENS

  const q = heads(ctx, linear(ctx, qIn, `${b}.attn.qkv`, {rows: [0, D], name: `${b}.attn.q`}), Tq, `${b}.attn.q`, false)
  const kT = heads(ctx, linear(ctx, h, `${b}.attn.qkv`, {rows: [D, 2 * D], name: `${b}.attn.k`}), VIT_TOKENS, `${b}.attn.k`, true)
  const v = heads(ctx, linear(ctx, h, `${b}.attn.qkv`, {rows: [2 * D, 3 * D], name: `${b}.attn.v`}), VIT_TOKENS, `${b}.attn.v`, false)

  // Attention.scale is the Python float head_dim ** -0.5, applied to a float32 tensor: float32(96 ** -0.5).
  let attn = g.node('MatMul', [q, kT], {}, {name: `${b}.attn.qk`})
  attn = g.node('Mul', [attn, g.float32([Math.fround((D / VIT_HEADS) ** -0.5)], [])], {}, {name: `${b}.attn.scale`})
  attn = g.node('Softmax', [attn], {axis: -1}, {name: `${b}.attn.softmax`})
  let o = g.node('MatMul', [attn, v], {}, {name: `${b}.attn.av`})
  o = g.node('Transpose', [o], {perm: [0, 2, 1, 3]}, {name: `${b}.attn.merge_t`})
  o = g.node('Reshape', [o, g.int64([0, Tq, D])], {}, {name: `${b}.attn.merge_heads`})
  o = linear(ctx, o, `${b}.attn.proj`)
  const x1 = g.node('Add', [residual, o], {}, {name: `${b}.residual1`})

  let m = layerNorm(ctx, x1, `${b}.norm2`, LN_EPS)
  m = linear(ctx, m, `${b}.mlp.fc1`)
  m = gelu(ctx, m, `${b}.mlp.act`)
  m = linear(ctx, m, `${b}.mlp.fc2`)
  return g.node('Add', [x1, m], {}, {name: `${b}.residual2`})
}

/** VisionTransformer.forward on the [N, 147, 768] tokens: returns the logits [N, numClasses]. */
export function visionTransformer(ctx: Ctx, tokens: string, p = 'VIT'): string {
  const {g, w} = ctx
  const D = EMBED_DIM

  // cat(cls_token, x) + pos_embed == pad x with a zero token in front, then add pos_embed whose row 0 already holds
  // cls_token + pos_embed[0] (one float32 addition either way, so the values are identical).
  const pos = Float32Array.from(w.f32(`${p}.pos_embed`))
  const cls = w.f32(`${p}.cls_token`)
  for (let c = 0; c < D; c++) pos[c] = cls[c]! + pos[c]!
  let x = g.node('Pad', [tokens, g.int64([0, 1, 0, 0, 0, 0])], {mode: 'constant'}, {name: `${p}.cls_pad`})
  x = g.node('Add', [x, g.weight(`${p}.pos_embed_cls`, pos, [1, VIT_TOKENS, D])], {}, {name: `${p}.pos_add`})

  for (let i = 0; i < VIT_DEPTH; i++) x = block(ctx, x, `${p}.blocks.${i}`, i === VIT_DEPTH - 1)
  x = layerNorm(ctx, x, `${p}.norm`, LN_EPS) // [N, 1, 768]
  x = g.node('Flatten', [x], {axis: 1}, {name: `${p}.cls_select`}) // x[:, 0]

  // SE_block: x · sigmoid(linear2(relu(linear1(x)))).
  let s = linear(ctx, x, `${p}.se_block.linear1`, {rank: 2})
  s = g.node('Relu', [s], {}, {name: `${p}.se_block.relu`})
  s = linear(ctx, s, `${p}.se_block.linear2`, {rank: 2})
  s = g.node('Sigmoid', [s], {}, {name: `${p}.se_block.sigmoid`})
  x = g.node('Mul', [x, s], {}, {name: `${p}.se_block.mul`})
  return linear(ctx, x, `${p}.head.linear`, {rank: 2})
}
