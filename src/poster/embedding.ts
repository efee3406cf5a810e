/**
 * The convolutions between the blocks of PosterV2_7cls.py:
 *  - conv1..3: stride-2 3×3 convs bringing the IR-50 maps (56², 28², 14²) to the window sizes (28², 14², 7²);
 *  - last_face_conv: 3×3 conv 512→256 on MobileFaceNet's last map, the stage-3 landmark query;
 *  - embed_q / embed_k / embed_v: the multi-scale token embedding, each stage's output to 7×7×768
 *    (embed_q: two stride-2 3×3 convs, embed_k: one, embed_v: a 1×1 "PatchEmbed" conv),
 *    concatenated into the 147 tokens the ViT reads.
 */

import {conv2d, Ctx} from './layers.js'
import {SpecBuilder} from './spec.js'
import {STAGES, StageDef} from './cross-attention.js'

export const EMBED_DIM = 768
export const TOKENS_PER_STAGE = 49

export function downsampleConvSpec(s: SpecBuilder): void {
  for (const st of STAGES) s.conv(`conv${st.index}`, st.dim, st.dim, 3, true)
}

export function lastFaceConvSpec(s: SpecBuilder): void {
  s.conv('last_face_conv', 256, 512, 3, true)
}

export function tokenEmbeddingSpec(s: SpecBuilder): void {
  s.conv('embed_q.0', EMBED_DIM, 64, 3, true).conv('embed_q.1', EMBED_DIM, EMBED_DIM, 3, true)
  s.conv('embed_k.0', EMBED_DIM, 128, 3, true)
  s.conv('embed_v.proj', EMBED_DIM, 256, 1, true)
}

/** convK: nn.Conv2d(dim, dim, 3, stride=2, padding=1) on the IR-50 map of stage K. */
export function downsampleConv(ctx: Ctx, x: string, st: StageDef): string {
  return conv2d(ctx, x, `conv${st.index}.weight`, {stride: 2, pad: 1, bias: `conv${st.index}.bias`})
}

/** last_face_conv: nn.Conv2d(512, 256, 3, padding=1). */
export function lastFaceConv(ctx: Ctx, x: string): string {
  return conv2d(ctx, x, 'last_face_conv.weight', {pad: 1, bias: 'last_face_conv.bias'})
}

/** Channel-last stage output [N, T, C] back to NCHW [N, C, w, w] (`_to_channel_first`). */
export function toChannelFirst(ctx: Ctx, tokens: string, st: StageDef): string {
  const {g} = ctx
  const t = g.node('Transpose', [tokens], {perm: [0, 2, 1]}, {name: `o${st.index}.to_channel_first`})
  return g.node('Reshape', [t, g.int64([0, st.dim, st.window, st.window])], {}, {name: `o${st.index}.unflatten`})
}

/** embed_q, embed_k, embed_v on the three stage outputs (NCHW): each [N, 768, 7, 7]. */
export function tokenEmbedding(ctx: Ctx, o1: string, o2: string, o3: string): [string, string, string] {
  const sconv = (x: string, p: string, stride: number, pad: number) =>
    conv2d(ctx, x, `${p}.weight`, {stride, pad, bias: `${p}.bias`})
  const q = sconv(sconv(o1, 'embed_q.0', 2, 1), 'embed_q.1', 2, 1)
  const k = sconv(o2, 'embed_k.0', 2, 1)
  const v = sconv(o3, 'embed_v.proj', 1, 0)
  return [q, k, v]
}

/**
 * torch.cat([q.flatten(2).transpose(1, 2), k..., v...], dim=1): [N, 147, 768]. Concatenating the NCHW maps along
 * H first gives the same token order with a single Transpose.
 */
export function concatTokens(ctx: Ctx, maps: [string, string, string]): string {
  const {g} = ctx
  const cat = g.node('Concat', maps, {axis: 2}, {name: 'tokens.concat'}) // [N, 768, 21, 7]
  const flat = g.node('Reshape', [cat, g.int64([0, EMBED_DIM, 3 * TOKENS_PER_STAGE])], {}, {name: 'tokens.flatten'})
  return g.node('Transpose', [flat], {perm: [0, 2, 1]}, {name: 'tokens.to_channel_last'})
}
