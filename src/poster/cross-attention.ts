/**
 * Window-based cross-attention (the `window`, `_to_query` and `WindowAttentionGlobal` of PosterV2_7cls.py):
 * image features give keys and values, landmark features the (global) queries, with a Swin/GCViT relative
 * position bias inside each window. POSTER++ runs three stages:
 *   stage 1: 28×28×64,  2 heads, window 28
 *   stage 2: 14×14×128, 4 heads, window 14
 *   stage 3:  7×7×256,  8 heads, window 7
 * In every stage the feature map is exactly one window, so window partition/reverse are plain reshapes: the graph
 * works on [N, H·W, C] tokens directly. The bias table is gathered by the relative position index at build time
 * (the index is derived from the window size, never read from the checkpoint).
 */

import {layerNorm, linear, Ctx} from './layers.js'
import {SpecBuilder} from './spec.js'

export interface StageDef {
  /** 1, 2 or 3: the suffix of attnK / windowK / ffnK / convK. */
  index: number
  dim: number
  heads: number
  window: number
}

export const STAGES: readonly StageDef[] = [
  {index: 1, dim: 64, heads: 2, window: 28},
  {index: 2, dim: 128, heads: 4, window: 14},
  {index: 3, dim: 256, heads: 8, window: 7},
]

/** relative_position_index of a w×w window, [w², w²] row-major, as Swin/GCViT define it. */
export function relativePositionIndex(w: number): Int32Array {
  const n = w * w
  const out = new Int32Array(n * n)
  for (let i = 0; i < n; i++) {
    const hi = Math.floor(i / w)
    const wi = i % w
    for (let j = 0; j < n; j++) {
      const hj = Math.floor(j / w)
      const wj = j % w
      out[i * n + j] = (hi - hj + w - 1) * (2 * w - 1) + (wi - wj + w - 1)
    }
  }
  return out
}

export function windowSpec(s: SpecBuilder, st: StageDef): void {
  s.layerNorm(`window${st.index}.norm`, st.dim)
}

export function windowAttentionSpec(s: SpecBuilder, st: StageDef): void {
  const p = `attn${st.index}`
  s.param(`${p}.relative_position_bias_table`, [(2 * st.window - 1) ** 2, st.heads], 0, 0.5)
  s.buffer(`${p}.relative_position_index`, [st.window ** 2, st.window ** 2])
  s.linear(`${p}.qkv`, 2 * st.dim, st.dim)
  s.linear(`${p}.proj`, st.dim, st.dim)
}

/**
 * `window` module: NCHW image feature → channel-last tokens [N, H·W, C] → LayerNorm. The normalised tokens are
 * both the attention input and the feed-forward shortcut.
 */
export function windowTokens(ctx: Ctx, x: string, st: StageDef): string {
  const {g} = ctx
  const tokens = g.node('Reshape', [x, g.int64([0, st.dim, st.window ** 2])], {}, {name: `window${st.index}.flatten`})
  const cl = g.node('Transpose', [tokens], {perm: [0, 2, 1]}, {name: `window${st.index}.to_channel_last`})
  return layerNorm(ctx, cl, `window${st.index}.norm`, 1e-5)
}

/**
 * `_to_query` on an NCHW landmark feature: channel c = head·d + j of token n becomes q[n, head, token, j].
 * Returns [N, heads, H·W, head_dim].
 */
export function landmarkQuery(ctx: Ctx, face: string, st: StageDef): string {
  const {g} = ctx
  const hd = st.dim / st.heads
  const r = g.node('Reshape', [face, g.int64([0, st.heads, hd, st.window ** 2])], {}, {name: `q${st.index}.split_heads`})
  return g.node('Transpose', [r], {perm: [0, 1, 3, 2]}, {name: `q${st.index}.to_tokens`})
}

/**
 * WindowAttentionGlobal.forward(x, q_global) for a single window per image:
 *   k, v = qkv(x);  attn = softmax((q · scale) kᵀ + bias);  out = proj(attn v).
 * `tokens` is [N, T, C] (T = window²), `query` is [N, heads, T, head_dim]; returns [N, T, C].
 */
export function windowAttentionGlobal(ctx: Ctx, tokens: string, query: string, st: StageDef): string {
  const {g, w} = ctx
  const p = `attn${st.index}`
  const {dim, heads} = st
  const hd = dim / heads
  const T = st.window ** 2

  // head_dim is torch.div(dim, heads), a float32 tensor, so the scale is float32(head_dim ** -0.5).
  const scale = g.float32([Math.fround(hd ** -0.5)], [])
  const q = g.node('Mul', [query, scale], {}, {name: `${p}.q_scale`})

  // qkv is Linear(dim, 2·dim): rows [0, dim) are k, [dim, 2·dim) are v, each split head-major.
  const k = linear(ctx, tokens, `${p}.qkv`, {rows: [0, dim], name: `${p}.k`})
  const v = linear(ctx, tokens, `${p}.qkv`, {rows: [dim, 2 * dim], name: `${p}.v`})
  const kHeads = g.node('Reshape', [k, g.int64([0, T, heads, hd])], {}, {name: `${p}.k_heads`})
  const kT = g.node('Transpose', [kHeads], {perm: [0, 2, 3, 1]}, {name: `${p}.k_t`}) // [N, heads, hd, T]
  const vHeads = g.node('Reshape', [v, g.int64([0, T, heads, hd])], {}, {name: `${p}.v_heads`})
  const vT = g.node('Transpose', [vHeads], {perm: [0, 2, 1, 3]}, {name: `${p}.v_t`}) // [N, heads, T, hd]

  // relative_position_bias_table[relative_position_index] → [heads, T, T], gathered here once.
  const table = w.f32(`${p}.relative_position_bias_table`)
  const index = relativePositionIndex(st.window)
  const bias = new Float32Array(heads * T * T)
  for (let h = 0; h < heads; h++) {
    const base = h * T * T
    for (let ij = 0; ij < T * T; ij++) bias[base + ij] = table[index[ij]! * heads + h]!
  }
  const biasName = g.weight(`${p}.relative_position_bias`, bias, [heads, T, T])

  let attn = g.node('MatMul', [q, kT], {}, {name: `${p}.qk`})
  attn = g.node('Add', [attn, biasName], {}, {name: `${p}.add_bias`})
  attn = g.node('Softmax', [attn], {axis: -1}, {name: `${p}.softmax`})
  const out = g.node('MatMul', [attn, vT], {}, {name: `${p}.av`}) // [N, heads, T, hd]
  const merged = g.node('Transpose', [out], {perm: [0, 2, 1, 3]}, {name: `${p}.merge_t`})
  const flat = g.node('Reshape', [merged, g.int64([0, T, dim])], {}, {name: `${p}.merge_heads`})
  return linear(ctx, flat, `${p}.proj`)
}

/** Check the relative_position_index buffer of a checkpoint, if present, against the derived one. */
export function relativePositionIndexMatches(data: ArrayLike<number | bigint>, w: number): boolean {
  const expected = relativePositionIndex(w)
  if (data.length !== expected.length) return false
  for (let i = 0; i < expected.length; i++) if (Number(data[i]) !== expected[i]) return false
  return true
}
