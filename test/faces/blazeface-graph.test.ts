/**
 * The BlazeFace graphs rewritten for a window of their input (blazeface-graph.ts) and the window's anchors: the
 * rewritten graph at the full size computes exactly what the package's file does; at a window it gives the
 * anchors of that window's cells, and on a real photo the face the full input finds, at the same place.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {blazeFaceAnchors, decodeCandidates, FULL_GRID, weightedNms, type GridWindow} from '../../src/faces/blazeface.js'
import {blazeFaceForInput, padBlazeFaceChannels} from '../../src/faces/blazeface-graph.js'
import {blazeFaceModelPaths, firstLookRegions, gridWindow, regionTensor} from '../../src/faces/detect.js'
import {decodeRgb} from '../../src/image/sharp.js'
import {openGenericModel, type FloatTensor, type GenericModel} from '../../src/runtime/session.js'

const {onnx} = onnxProto
const backBytes = readFileSync(blazeFaceModelPaths().back)
const frontBytes = readFileSync(blazeFaceModelPaths().front)
const PHOTO = path.resolve(import.meta.dirname, '../fixtures/faces/photos/hopper-640x480.jpg')

const opened: GenericModel[] = []
const open = async (bytes: Uint8Array) => {
  const m = await openGenericModel(bytes)
  opened.push(m)
  return m
}
afterAll(async () => {
  await Promise.all(opened.map((m) => m.release()))
})

const run = async (m: GenericModel, data: Float32Array, height: number, width: number) => {
  const out = await m.run({[m.inputs[0]!.name]: {data, dims: [1, height, width, 3]}})
  return m.outputs.map((o) => out[o.name]!)
}
const candidates = (tensors: FloatTensor[], window: GridWindow) => {
  const byLast = (last: number) => tensors.filter((t) => t.dims[2] === last).sort((a, b) => b.dims[1]! - a.dims[1]!)
  return weightedNms(decodeCandidates(byLast(1).map((t) => t.data), byLast(16).map((t) => t.data), 256, 0.3, blazeFaceAnchors(window)))
}

describe('blazeFaceAnchors for a window', () => {
  it("are the full input's anchors that lie in the window's cells, in the same order", () => {
    const window = {col: 1, row: 2, cols: 5, rows: 3}
    const inside = (a: {x: number; y: number}) => a.x > window.col / 8 && a.x < (window.col + window.cols) / 8 && a.y > window.row / 8 && a.y < (window.row + window.rows) / 8
    const got = blazeFaceAnchors(window)
    expect(got).toEqual(blazeFaceAnchors().filter(inside))
    expect(got).toHaveLength(5 * 3 * (4 * 2 + 6)) // per coarse cell: 2×2 fine cells of 2 anchors, and 6
    expect(blazeFaceAnchors(FULL_GRID)).toHaveLength(896)
  })
})

describe('blazeFaceForInput', () => {
  let img: Awaited<ReturnType<typeof decodeRgb>>
  beforeAll(async () => {
    img = await decodeRgb(PHOTO)
  })

  it('at the full 256×256 size computes exactly what the original graph does', async () => {
    const region = firstLookRegions(img.width, img.height)[0]!
    const input = regionTensor(img, region, 256)
    const [a, b] = [await run(await open(backBytes), input, 256, 256), await run(await open(blazeFaceForInput(backBytes, {height: 256, width: 256})), input, 256, 256)]
    expect(b.map((t) => t.dims)).toEqual(a.map((t) => t.dims))
    b.forEach((t, k) => expect(t.data).toEqual(a[k]!.data))
  })

  it('at a window (a 640×480 photo without its letterbox bars, 256×192) finds the face the full input finds', async () => {
    const region = firstLookRegions(img.width, img.height)[0]!
    const grid = gridWindow(img, region, 256)
    expect(grid).toEqual({col: 0, row: 1, cols: 8, rows: 6})
    const window = {x: 0, y: 32, width: 256, height: 192}
    const part = await run(await open(blazeFaceForInput(backBytes, {height: 192, width: 256})), regionTensor(img, region, 256, window), 192, 256)
    expect(part.map((t) => t.dims[1]).sort((x, y) => x! - y!)).toEqual([288, 288, 384, 384])
    const full = candidates(await run(await open(backBytes), regionTensor(img, region, 256), 256, 256), FULL_GRID)
    const seen = candidates(part, grid)
    expect(full).toHaveLength(1)
    expect(seen).toHaveLength(1)
    const [f, s] = [full[0]!, seen[0]!]
    expect(Math.abs(s.cx - f.cx) / f.w).toBeLessThan(0.01)
    expect(Math.abs(s.cy - f.cy) / f.w).toBeLessThan(0.01)
    expect(Math.abs(s.w / f.w - 1)).toBeLessThan(0.02)
    expect(Math.abs(s.score - f.score)).toBeLessThan(0.02)
  })

  it("with symbolic sizes ('any') computes what the fixed graphs do, at the full input and at a window", async () => {
    const any = await open(blazeFaceForInput(frontBytes, 'any'))
    expect(any.inputs[0]!.shape.slice(1, 3).every((d) => typeof d === 'string')).toBe(true)
    const region = {x: 150, y: 0, side: 500}
    const close = (a: FloatTensor[], b: FloatTensor[]) => {
      expect(b.map((t) => t.dims)).toEqual(a.map((t) => t.dims))
      a.forEach((t, k) => t.data.forEach((v, i) => expect(Math.abs(v - b[k]!.data[i]!)).toBeLessThan(1e-3)))
    }
    close(await run(await open(frontBytes), regionTensor(img, region, 128), 128, 128), await run(any, regionTensor(img, region, 128), 128, 128))
    const window = {x: 16, y: 0, width: 96, height: 112}
    const part = regionTensor(img, region, 128, window)
    close(await run(await open(blazeFaceForInput(frontBytes, {height: 112, width: 96})), part, 112, 96), await run(any, part, 112, 96))
  })

  it('refuses sizes off the coarsest grid or larger than the input, and graphs it does not know', () => {
    expect(() => blazeFaceForInput(backBytes, {height: 200, width: 256})).toThrow(/multiples of 32 up to 256/)
    expect(() => blazeFaceForInput(backBytes, {height: 288, width: 256})).toThrow(/multiples of 32 up to 256/)
    const model = onnx.ModelProto.decode(backBytes)
    model.graph!.node![3]!.opType = 'Softmax'
    expect(() => blazeFaceForInput(onnx.ModelProto.encode(model).finish(), {height: 192, width: 256})).toThrow(/unexpected operator Softmax/)
  })
})

describe('padBlazeFaceChannels', () => {
  let img: Awaited<ReturnType<typeof decodeRgb>>
  beforeAll(async () => {
    img = await decodeRgb(PHOTO)
  })
  // Relative to the value's size (box regressions are in input pixels, up to hundreds).
  const maxDiff = (a: FloatTensor[], b: FloatTensor[]) => {
    expect(a.map((t) => t.dims)).toEqual(b.map((t) => t.dims))
    let worst = 0
    a.forEach((t, k) => t.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k]!.data[i]!) / (1 + Math.abs(b[k]!.data[i]!))))))
    return worst
  }
  const convChannels = (bytes: Uint8Array) => {
    const graph = onnx.ModelProto.decode(bytes).graph!
    const dims = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', (t.dims ?? []).map(Number)]))
    const headInputs = new Set((graph.node ?? []).filter((n) => n.opType === 'Transpose').flatMap((n) => n.input ?? []))
    return {
      ops: new Set((graph.node ?? []).map((n) => n.opType)),
      // Output channels of every convolution that is not a head, and input channels of every one past the first.
      inner: (graph.node ?? []).filter((n) => n.opType === 'Conv' && !headInputs.has(n.output![0]!)).map((n) => dims.get(n.input![1]!)![0]!),
    }
  }

  for (const [kind, bytes, side] of [['back', backBytes, 256], ['front', frontBytes, 128]] as const)
    for (const block of [16, 8]) {
      it(`${kind} model, block ${block}: channels are multiples of the block, the outputs those of the package's graph`, async () => {
        const padded = padBlazeFaceChannels(bytes, block)
        const {ops, inner} = convChannels(padded)
        expect(ops.has('Concat') || ops.has('ConstantOfShape')).toBe(false)
        expect(inner.every((c) => c % block === 0), inner.join(' ')).toBe(true)
        // Before: 24 (both), 28, 36, 42 (front) are not multiples of 16; with 8 only the front's 28, 36, 42 are not.
        expect(convChannels(bytes).inner.some((c) => c % block !== 0)).toBe(block === 16 || kind === 'front')
        const region = firstLookRegions(img.width, img.height)[0]!
        const input = regionTensor(img, region, side)
        const want = await run(await open(bytes), input, side, side)
        const got = await run(await open(padded), input, side, side)
        // Zero channels add nothing: only the order of float sums differs.
        expect(maxDiff(got, want)).toBeLessThan(1e-4)
        // And it composes with the window rewrite (the detector pads first, then sizes).
        const window = blazeFaceForInput(padded, 'any')
        expect(maxDiff(await run(await open(window), input, side, side), want)).toBeLessThan(1e-4)
      })
    }

  it('block 1 changes no channel count; a graph with an operator it does not know is refused', () => {
    expect(padBlazeFaceChannels(backBytes, 1)).toBe(backBytes)
    const model = onnx.ModelProto.decode(frontBytes)
    model.graph!.node![5]!.opType = 'Sigmoid'
    expect(() => padBlazeFaceChannels(onnx.ModelProto.encode(model).finish(), 16)).toThrow(/unexpected operator Sigmoid/)
    expect(() => padBlazeFaceChannels(frontBytes, 0)).toThrow(/positive integer/)
  })
})
