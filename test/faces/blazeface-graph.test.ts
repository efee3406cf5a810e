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
import {blazeFaceForInput} from '../../src/faces/blazeface-graph.js'
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
