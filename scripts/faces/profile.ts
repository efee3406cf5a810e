/**
 * Times the face stage's pieces on one photo, by hand (not a test):
 *
 *   node --import tsx scripts/faces/profile.ts [PHOTO] [--repeats N]
 *
 * Each piece runs in turn, interleaved, N times; per piece the median wall time and the median CPU time of the
 * process (process.cpuUsage: on a machine shared with other work, far steadier than wall time, and what a run
 * that overlaps detection with POSTER++ pays). The pieces: the first look's tensor and model run, one second
 * look's tensors and model run, the alignment, and the whole stage.
 */
import {cpus, loadavg} from 'node:os'

import {alignFace} from '../../src/faces/align.js'
import {blazeFaceForInput} from '../../src/faces/blazeface-graph.js'
import {blazeFaceModelBytes, firstLookRegions, gridWindow, regionTensor, type Region} from '../../src/faces/detect.js'
import {detectStage} from '../../src/faces/stage.js'
import {decodeRgb} from '../../src/image/sharp.js'
import {openGenericModel} from '../../src/runtime/session.js'

const args = process.argv.slice(2)
const photo = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--repeats') ?? 'test/fixtures/faces/photos/hopper-640x480.jpg'
const repeats = Number(args[args.indexOf('--repeats') + 1]) || 40

const img = await decodeRgb(photo)
const whole = firstLookRegions(img.width, img.height)[0]!
const grid = gridWindow(img, whole, 256)
const window = {x: grid.col * 32, y: grid.row * 32, width: grid.cols * 32, height: grid.rows * 32}
// As the detector opens them: channels padded to the CPU's NCHWc block.
const models = await blazeFaceModelBytes()
const back = await openGenericModel(blazeFaceForInput(models.back, {height: window.height, width: window.width}))
const front = await openGenericModel(models.front)
const stage = await detectStage()
const crops = await stage.crops(img, {relPath: photo})
const face = crops[0]?.face
if (!face?.eyeR || !face.eyeL || !face.nose || !face.mouth) throw new Error(`no face in ${photo}`)
const points = {eyeR: face.eyeR, eyeL: face.eyeL, nose: face.nose, mouth: face.mouth}
const side = Math.max(face.box.w, face.box.h)
const cx = face.box.x + face.box.w / 2
const cy = face.box.y + face.box.h / 2
const around = (k: number): Region => ({x: cx - (k * side) / 2, y: cy - (k * side) / 2, side: k * side})
const t256 = regionTensor(img, whole, 256, window)
const t128 = regionTensor(img, around(2), 128)

const pieces: Record<string, () => unknown> = {
  [`first look tensor ${window.width}x${window.height}`]: () => regionTensor(img, whole, 256, window),
  'first look back model': () => back.run({[back.inputs[0]!.name]: {data: t256, dims: [1, window.height, window.width, 3]}}),
  'second look tensor 2x': () => regionTensor(img, around(2), 128),
  'second look tensor 3x': () => regionTensor(img, around(3), 128),
  'second look front model': () => front.run({[front.inputs[0]!.name]: {data: t128, dims: [1, 128, 128, 3]}}),
  alignFace: () => alignFace(img, points),
  'whole stage (detect + align)': () => stage.crops(img, {relPath: photo}),
}
const wall: Record<string, number[]> = {}
const cpu: Record<string, number[]> = {}
for (let i = -3; i < repeats; i++) {
  for (const [name, piece] of Object.entries(pieces)) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await piece()
    const t1 = performance.now()
    const c = process.cpuUsage(c0)
    if (i < 0) continue
    ;(wall[name] ??= []).push(t1 - t0)
    ;(cpu[name] ??= []).push((c.user + c.system) / 1000)
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
for (const name of Object.keys(pieces)) {
  console.log(`${name.padEnd(32)} wall ${median(wall[name]!).toFixed(2).padStart(6)} ms   cpu ${median(cpu[name]!).toFixed(2).padStart(6)} ms`)
}
console.log(`${photo}: ${crops.length} face(s), face side ${side.toFixed(0)} px; ${repeats} repeats; ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
await Promise.all([back.release(), front.release(), stage.release()])
