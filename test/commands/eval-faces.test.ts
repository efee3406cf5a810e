/**
 * `poster eval` on AffectNet's CSV release crops each image at its annotated face box by default, exactly as
 * PIL's Image.crop((x, y, x + w, y + h)) then the usual Resize((224, 224)): per image, the probabilities equal those
 * of the same model on crops cut out beforehand by an independent implementation (sharp's extract, with black
 * padding where the box leaves the image, as Pillow pads). test/faces/box.test.ts checks the crop itself byte for
 * byte against Pillow.
 */
import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {beforeAll, describe, expect, it} from 'vitest'

import Eval from '../../src/commands/eval.js'
import {AFFECTNET7} from '../../src/datasets/labels.js'
import {loadSharp} from '../../src/image/sharp.js'
import {parsePredictionsCsv} from '../../src/report/predictions-csv.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname
const W = 160
const H = 120

/** A photo whose colour changes across it, so that every box gives different channel means (the tiny model's input). */
function gradientPhoto(seed: number): Buffer {
  const px = Buffer.alloc(W * H * 3)
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3
      px[o] = (x * 255) / (W - 1)
      px[o + 1] = (y * 255) / (H - 1)
      px[o + 2] = ((x * 7 + y * 3 + seed * 40) % 256)
    }
  return px
}

/** Pillow's crop by another route: pad the photo with black on every side, then extract the box. */
async function independentCrop(px: Buffer, box: {x: number; y: number; w: number; h: number}): Promise<Buffer> {
  const sharp = await loadSharp()
  const pad = 200
  // Two pipelines: within one, sharp extracts before it extends.
  const padded = await sharp(px, {raw: {width: W, height: H, channels: 3}})
    .extend({top: pad, bottom: pad, left: pad, right: pad, background: {r: 0, g: 0, b: 0}})
    .raw()
    .toBuffer()
  return sharp(padded, {raw: {width: W + 2 * pad, height: H + 2 * pad, channels: 3}})
    .extract({left: box.x + pad, top: box.y + pad, width: box.w, height: box.h})
    .png()
    .toBuffer()
}

// Boxes inside the image, touching its edges, leaving it on each side, and one row whose box is empty.
const BOXES = [
  {x: 10, y: 5, w: 60, h: 60},
  {x: 0, y: 0, w: W, h: H},
  {x: 100, y: 40, w: 90, h: 100},
  {x: -20, y: -10, w: 70, h: 50},
  {x: 30, y: 70, w: 40, h: 80},
  {x: 55, y: 20, w: 33, h: 71},
]

let work: string
let model: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'poster-eval-faces-'))
  model = await writeTinyModel(join(work, 'affectnet7.onnx'), {...SEVEN_CLASS_SPEC, labels: AFFECTNET7.names})
}, 60_000)

describe('eval on AffectNet CSV with face boxes', () => {
  it('scores each annotated box as Pillow crops it (per-image probabilities equal to pre-cut crops), and an empty box is an error row', async () => {
    const sharp = await loadSharp()
    const aff = join(work, 'affectnet')
    const crops = join(work, 'crops')
    await mkdir(join(aff, 'Manually_Annotated_Images', '7'), {recursive: true})
    await mkdir(crops, {recursive: true})
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    const rows = [header]
    const manifest = ['path,label_affectnet7']
    for (const [i, box] of BOXES.entries()) {
      const px = gradientPhoto(i)
      await sharp(px, {raw: {width: W, height: H, channels: 3}}).png().toFile(join(aff, 'Manually_Annotated_Images', '7', `p${i}.png`))
      await writeFile(join(crops, `p${i}.png`), await independentCrop(px, box))
      const label = i % 7
      rows.push(`7/p${i}.png,${box.x},${box.y},${box.w},${box.h},"1;2",${label},0,0`)
      manifest.push(`p${i}.png,${AFFECTNET7.names[label]}`)
    }
    // Another image (an image listed twice is refused): its box is empty.
    await sharp(gradientPhoto(9), {raw: {width: W, height: H, channels: 3}}).png().toFile(join(aff, 'Manually_Annotated_Images', '7', 'empty-box.png'))
    rows.push(`7/empty-box.png,10,10,0,40,"1;2",3,0,0`)
    await writeFile(join(aff, 'validation.csv'), rows.join('\n') + '\n')
    await writeFile(join(aff, 'training.csv'), header + '\n')
    await writeFile(join(crops, 'manifest.csv'), manifest.join('\n') + '\n')

    const boxOut = join(work, 'box-run')
    const r = await captureOutput(() => Eval.run([aff, '--model', model, '--classes', '7', '--out', boxOut, '--json', '--no-pictures'], {root: ROOT}))
    expect(r.error).toBeUndefined()
    const m = JSON.parse(r.stdout)
    expect(m.faces.mode).toBe('box')

    const cutOut = join(work, 'crop-run')
    const r2 = await captureOutput(() =>
      Eval.run([join(crops, 'manifest.csv'), '--model', model, '--out', cutOut, '--json', '--no-pictures'], {root: ROOT}),
    )
    expect(r2.error).toBeUndefined()
    expect(JSON.parse(r2.stdout).faces.mode).toBe('whole')

    const boxed = parsePredictionsCsv(await readFile(join(boxOut, 'predictions.csv')))
    const cut = parsePredictionsCsv(await readFile(join(cutOut, 'predictions.csv')))
    const ok = boxed.rows.filter((x) => x.status === 'ok')
    expect(ok).toHaveLength(BOXES.length)
    // Probabilities in class order (the two runs may spell the names differently: the model's names and the registry's).
    const probs = (file: typeof boxed, row: Record<string, string>) => file.columns.filter((c) => c.startsWith('p_')).map((c) => Number(row[c]))
    const distinct = new Set<string>()
    for (const [i, row] of ok.entries()) {
      const ref = cut.rows.find((x) => x.path === `p${i}.png`)!
      const a = probs(boxed, row)
      const b = probs(cut, ref)
      expect(a).toHaveLength(7)
      expect(a.indexOf(Math.max(...a)), `p${i} top-1`).toBe(b.indexOf(Math.max(...b)))
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!), `p${i} ${AFFECTNET7.names[k]}`).toBeLessThan(1e-6)
      distinct.add(a.map((v) => v.toFixed(4)).join())
    }
    // The boxes give different inputs (else the comparison could not tell a wrong box from a right one).
    expect(distinct.size).toBe(BOXES.length)
    const bad = boxed.rows.filter((x) => x.status !== 'ok')
    expect(bad).toHaveLength(1)
    expect(bad[0]!.error).toMatch(/box/)
  }, 120_000)
})
