/**
 * IR-50 image backbone (ArcFace "improved residual" ResNet-50, models/ir50.py), as POSTER++ uses it: the input
 * layer and the first three stages only. Their outputs feed the three cross-attention stages:
 *   112×112×3 → input layer 112×112×64 → body1 56×56×64 → body2 28×28×128 → body3 14×14×256.
 * The output layer (BN, Linear 25088→512, BN) exists in the state dict but is never called.
 */

import {batchNorm2d, conv2d, Ctx, prelu} from './layers.js'
import {SpecBuilder} from './spec.js'

interface Stage {
  name: 'body1' | 'body2' | 'body3'
  inC: number
  depth: number
  units: number
}

/** get_blocks(50) as the official code trims it: three stages, each starting with a stride-2 unit. */
export const IR50_STAGES: readonly Stage[] = [
  {name: 'body1', inC: 64, depth: 64, units: 3},
  {name: 'body2', inC: 64, depth: 128, units: 4},
  {name: 'body3', inC: 128, depth: 256, units: 14},
]

export function ir50Spec(s: SpecBuilder, p = 'ir_back'): void {
  s.conv(`${p}.input_layer.0`, 64, 3, 3, false).batchNorm(`${p}.input_layer.1`, 64).prelu(`${p}.input_layer.2.weight`, 64)
  s.unused((u) =>
    u.batchNorm(`${p}.output_layer.0`, 512).linear(`${p}.output_layer.3`, 512, 512 * 7 * 7).batchNorm(`${p}.output_layer.4`, 512),
  )
  for (const st of IR50_STAGES) {
    for (let i = 0; i < st.units; i++) {
      const u = `${p}.${st.name}.${i}`
      const inC = i === 0 ? st.inC : st.depth
      if (inC !== st.depth) s.conv(`${u}.shortcut_layer.0`, st.depth, inC, 1, false).batchNorm(`${u}.shortcut_layer.1`, st.depth)
      s.batchNorm(`${u}.res_layer.0`, inC)
        .conv(`${u}.res_layer.1`, st.depth, inC, 3, false)
        .prelu(`${u}.res_layer.2.weight`, st.depth)
        .conv(`${u}.res_layer.3`, st.depth, st.depth, 3, false)
        .batchNorm(`${u}.res_layer.4`, st.depth)
    }
  }
}

/**
 * bottleneck_IR: res = BN → conv3×3 → PReLU → conv3×3(stride) → BN, plus a shortcut that is a stride-s
 * subsampling (MaxPool2d(1, s)) when the width is kept, else conv1×1(stride) → BN.
 * The leading BN cannot be folded into the padded conv after it (the zero padding would change), so it stays a
 * BatchNormalization node; the trailing BNs are folded into their convs.
 */
function bottleneckIR(ctx: Ctx, x: string, u: string, inC: number, depth: number, stride: number): string {
  const {g} = ctx
  let shortcut: string
  if (inC === depth) {
    shortcut = stride === 1 ? x : g.node('MaxPool', [x], {kernel_shape: [1, 1], strides: [stride, stride]}, {name: `${u}.shortcut_layer`})
  } else {
    shortcut = conv2d(ctx, x, `${u}.shortcut_layer.0.weight`, {stride, bn: `${u}.shortcut_layer.1`, name: `${u}.shortcut_layer`})
  }
  let r = batchNorm2d(ctx, x, `${u}.res_layer.0`)
  r = conv2d(ctx, r, `${u}.res_layer.1.weight`, {pad: 1})
  r = prelu(ctx, r, `${u}.res_layer.2.weight`)
  r = conv2d(ctx, r, `${u}.res_layer.3.weight`, {stride, pad: 1, bn: `${u}.res_layer.4`})
  return g.node('Add', [r, shortcut], {}, {name: `${u}.add`})
}

/** Backbone.forward on the 112×112 image: returns (x1, x2, x3) = the outputs of body1, body2, body3 (NCHW). */
export function ir50(ctx: Ctx, image112: string, p = 'ir_back'): [string, string, string] {
  let x = conv2d(ctx, image112, `${p}.input_layer.0.weight`, {pad: 1, bn: `${p}.input_layer.1`})
  x = prelu(ctx, x, `${p}.input_layer.2.weight`)
  const outs: string[] = []
  for (const st of IR50_STAGES) {
    for (let i = 0; i < st.units; i++) {
      const inC = i === 0 ? st.inC : st.depth
      x = bottleneckIR(ctx, x, `${p}.${st.name}.${i}`, inC, st.depth, i === 0 ? 2 : 1)
    }
    outs.push(x)
  }
  return outs as [string, string, string]
}
