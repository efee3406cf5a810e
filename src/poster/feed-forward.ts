/**
 * `feedforward` of PosterV2_7cls.py, after each window cross-attention:
 *   x = shortcut + γ1 · attn_out;   x = x + γ2 · Mlp(LayerNorm(x))     (Mlp: Linear 4× → GELU → Linear)
 * where the shortcut is the LayerNorm-ed image tokens of the `window` module. Drop-path is the identity at
 * inference. Works on channel-last tokens [N, T, C].
 */

import {gelu, layerNorm, linear, Ctx} from './layers.js'
import {SpecBuilder} from './spec.js'
import type {StageDef} from './cross-attention.js'

export function feedForwardSpec(s: SpecBuilder, st: StageDef): void {
  const p = `ffn${st.index}`
  s.param(`${p}.gamma1`, [st.dim], 0.5, 0.1)
  s.param(`${p}.gamma2`, [st.dim], 0.5, 0.1)
  s.linear(`${p}.mlp.fc1`, 4 * st.dim, st.dim)
  s.linear(`${p}.mlp.fc2`, st.dim, 4 * st.dim)
  s.layerNorm(`${p}.norm`, st.dim)
}

export function feedForward(ctx: Ctx, attnOut: string, shortcut: string, st: StageDef): string {
  const {g, w} = ctx
  const p = `ffn${st.index}`
  const gamma1 = g.weight(`${p}.gamma1`, w.f32(`${p}.gamma1`), [st.dim])
  const gamma2 = g.weight(`${p}.gamma2`, w.f32(`${p}.gamma2`), [st.dim])
  let x = g.node('Mul', [attnOut, gamma1], {}, {name: `${p}.gamma1_mul`})
  x = g.node('Add', [shortcut, x], {}, {name: `${p}.residual1`})
  let h = layerNorm(ctx, x, `${p}.norm`, 1e-5)
  h = linear(ctx, h, `${p}.mlp.fc1`)
  h = gelu(ctx, h, `${p}.mlp.act`)
  h = linear(ctx, h, `${p}.mlp.fc2`)
  h = g.node('Mul', [h, gamma2], {}, {name: `${p}.gamma2_mul`})
  return g.node('Add', [x, h], {}, {name: `${p}.residual2`})
}
