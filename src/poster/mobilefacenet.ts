/**
 * MobileFaceNet landmark branch (models/mobilefacenet.py, frozen in POSTER++). On the 112×112 face it yields the
 * three landmark feature maps POSTER++ uses as queries:
 *   conv_3 → 28×28×64,  conv_4 → 14×14×128,  conv_6_sep → 7×7×512,
 * and its own landmark head (`output_layer`, GDC: depthwise 7×7 → Linear 512→136 → BN1d) on the last map, which
 * the official forward computes and discards; here it becomes the `landmarks` output (68 (x, y) pairs).
 */

import {bnAffine, conv2d, Ctx, linear, prelu} from './layers.js'
import {SpecBuilder} from './spec.js'

interface DepthWiseDef {
  name: string
  inC: number
  outC: number
  groups: number
  stride: number
}

interface ResidualDef {
  name: string
  c: number
  blocks: number
  groups: number
}

const CONV_23: DepthWiseDef = {name: 'conv_23', inC: 64, outC: 64, groups: 128, stride: 2}
const CONV_3: ResidualDef = {name: 'conv_3', c: 64, blocks: 4, groups: 128}
const CONV_34: DepthWiseDef = {name: 'conv_34', inC: 64, outC: 128, groups: 256, stride: 2}
const CONV_4: ResidualDef = {name: 'conv_4', c: 128, blocks: 6, groups: 256}
const CONV_45: DepthWiseDef = {name: 'conv_45', inC: 128, outC: 128, groups: 512, stride: 2}
const CONV_5: ResidualDef = {name: 'conv_5', c: 128, blocks: 2, groups: 256}

export const LANDMARK_COUNT = 68

/** Conv_block: conv (no bias) → BN → PReLU; Linear_block: conv → BN. */
function convBlockSpec(s: SpecBuilder, p: string, outC: number, inPerGroup: number, k: number, withPrelu: boolean): void {
  s.conv(`${p}.conv`, outC, inPerGroup, k, false).batchNorm(`${p}.bn`, outC)
  if (withPrelu) s.prelu(`${p}.prelu.weight`, outC)
}

function depthWiseSpec(s: SpecBuilder, p: string, inC: number, outC: number, groups: number): void {
  convBlockSpec(s, `${p}.conv`, groups, inC, 1, true)
  convBlockSpec(s, `${p}.conv_dw`, groups, 1, 3, true)
  convBlockSpec(s, `${p}.project`, outC, groups, 1, false)
}

export function mobileFaceNetSpec(s: SpecBuilder, p = 'face_landback'): void {
  convBlockSpec(s, `${p}.conv1`, 64, 3, 3, true)
  convBlockSpec(s, `${p}.conv2_dw`, 64, 1, 3, true)
  const dw = (d: DepthWiseDef) => depthWiseSpec(s, `${p}.${d.name}`, d.inC, d.outC, d.groups)
  const res = (r: ResidualDef) => {
    for (let i = 0; i < r.blocks; i++) depthWiseSpec(s, `${p}.${r.name}.model.${i}`, r.c, r.c, r.groups)
  }
  dw(CONV_23)
  res(CONV_3)
  dw(CONV_34)
  res(CONV_4)
  dw(CONV_45)
  res(CONV_5)
  convBlockSpec(s, `${p}.conv_6_sep`, 512, 128, 1, true)
  // GDC landmark head.
  convBlockSpec(s, `${p}.output_layer.conv_6_dw`, 512, 1, 7, false)
  s.linear(`${p}.output_layer.linear`, LANDMARK_COUNT * 2, 512, false).batchNorm(`${p}.output_layer.bn`, LANDMARK_COUNT * 2)
}

/** Conv_block / Linear_block with its BatchNorm folded into the convolution. */
function convBlock(
  ctx: Ctx,
  x: string,
  p: string,
  opts: {stride?: number; pad?: number; groups?: number; prelu: boolean},
): string {
  const y = conv2d(ctx, x, `${p}.conv.weight`, {stride: opts.stride, pad: opts.pad, groups: opts.groups, bn: `${p}.bn`, name: p})
  return opts.prelu ? prelu(ctx, y, `${p}.prelu.weight`) : y
}

/** Depth_Wise: 1×1 expand → depthwise 3×3 (stride) → 1×1 project, with an identity residual in Residual. */
function depthWise(ctx: Ctx, x: string, p: string, groups: number, stride: number, residual: boolean): string {
  let y = convBlock(ctx, x, `${p}.conv`, {prelu: true})
  y = convBlock(ctx, y, `${p}.conv_dw`, {stride, pad: 1, groups, prelu: true})
  y = convBlock(ctx, y, `${p}.project`, {prelu: false})
  return residual ? ctx.g.node('Add', [x, y], {}, {name: `${p}.add`}) : y
}

function residual(ctx: Ctx, x: string, p: string, r: ResidualDef): string {
  for (let i = 0; i < r.blocks; i++) x = depthWise(ctx, x, `${p}.${r.name}.model.${i}`, r.groups, 1, true)
  return x
}

export interface MobileFaceNetOutputs {
  /** conv_3 output, [N, 64, 28, 28]. */
  out3: string
  /** conv_4 output, [N, 128, 14, 14]. */
  out4: string
  /** conv_6_sep output, [N, 512, 7, 7]. */
  features: string
  /** GDC landmark head, [N, 136]. */
  landmarks: string
}

export function mobileFaceNet(ctx: Ctx, face112: string, p = 'face_landback'): MobileFaceNetOutputs {
  const {g, w} = ctx
  let x = convBlock(ctx, face112, `${p}.conv1`, {stride: 2, pad: 1, prelu: true})
  x = convBlock(ctx, x, `${p}.conv2_dw`, {pad: 1, groups: 64, prelu: true})
  x = depthWise(ctx, x, `${p}.${CONV_23.name}`, CONV_23.groups, CONV_23.stride, false)
  const out3 = residual(ctx, x, p, CONV_3)
  x = depthWise(ctx, out3, `${p}.${CONV_34.name}`, CONV_34.groups, CONV_34.stride, false)
  const out4 = residual(ctx, x, p, CONV_4)
  x = depthWise(ctx, out4, `${p}.${CONV_45.name}`, CONV_45.groups, CONV_45.stride, false)
  x = residual(ctx, x, p, CONV_5)
  const features = convBlock(ctx, x, `${p}.conv_6_sep`, {prelu: true})

  // GDC: depthwise 7×7 (+BN) → flatten → Linear (no bias) with the BatchNorm1d folded in.
  const head = `${p}.output_layer`
  let y = convBlock(ctx, features, `${head}.conv_6_dw`, {groups: 512, prelu: false})
  y = g.node('Flatten', [y], {axis: 1}, {name: `${head}.flatten`})
  const {scale, shift} = bnAffine(w, `${head}.bn`)
  const landmarks = linear(ctx, y, `${head}.linear`, {rank: 2, bias: false, scaleRows: scale, shiftRows: shift})
  return {out3, out4, features, landmarks}
}
