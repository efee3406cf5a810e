import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readPredictions} from '../../src/report/predictions-csv.js'
import {overlayNames, overlaySvg, predict, predictOutPath, type PredictSummary} from '../../src/pipeline/predict.js'
import {loadSharp} from '../../src/image/sharp.js'
import {cleanupTmp, makeZoo, SPEC, tinyModel, tmpDir, type Zoo} from '../helpers/predict-fixtures.js'
import {expectedLandmarks, expectedLogits} from '../helpers/tiny-model.js'

function softmax(x: number[]): number[] {
  const m = Math.max(...x)
  const e = x.map((v) => Math.exp(v - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / s)
}

let zoo: Zoo
let model: string
let work: string
let full: {summary: PredictSummary; csv: string; out: string}

beforeAll(async () => {
  zoo = await makeZoo({nonUtf8: true})
  work = tmpDir()
  model = await tinyModel(work)
  const out = path.join(work, 'all.csv')
  const summary = await predict({inputs: [zoo.root], recursive: true, model, out, landmarks: true, overlay: path.join(work, 'overlays'), batchSize: 4, maxPixels: zoo.maxPixels, threads: 1})
  full = {summary, csv: readFileSync(out, 'utf8'), out}
})

afterAll(() => cleanupTmp())

describe('predict on a generated folder', () => {
  it('gives every input exactly one row, in sorted path order, with the right status', async () => {
    const file = await readPredictions(full.out)
    const paths = file.rows.map((r) => r.path)
    expect(new Set(paths).size).toBe(paths.length)
    expect([...paths].sort()).toEqual([...zoo.expected.keys()].sort())
    expect(paths).toEqual([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
    for (const a of zoo.absent) expect(paths).not.toContain(a)
    for (const r of file.rows) {
      const exp = zoo.expected.get(r.path)!
      expect(r.status, r.path).toBe(exp.status)
      if (exp.status === 'error') {
        expect(r.error, r.path).toMatch(exp.reason!)
        expect(r.pred).toBe('')
        expect(r.p_anger).toBe('')
      } else {
        expect(r.error, r.path).toBe('')
      }
    }
    const nOk = [...zoo.expected.values()].filter((e) => e.status === 'ok').length
    expect(full.summary).toMatchObject({
      output: full.out,
      images: zoo.expected.size,
      ok: nOk,
      errors: zoo.expected.size - nOk,
      skipped_resumed: 0,
      shard: null,
      classes: SPEC.labels,
    })
    expect(full.summary.images_per_s).toBeGreaterThan(0)
  })

  it('header: predict columns, p_<class> per model label, 136 landmark columns', async () => {
    const file = await readPredictions(full.out)
    expect(file.columns.slice(0, 10)).toEqual(['path', 'status', 'error', 'pred', 'pred_name', 'confidence', 'p_anger', 'p_joy, "big"', 'p_neutral', 'p_sad'])
    expect(file.columns.length).toBe(10 + 136)
    expect(file.columns.slice(10, 12)).toEqual(['lm0_x', 'lm0_y'])
    expect(file.columns.at(-1)).toBe('lm67_y')
    // RFC 4180: CRLF, header with the quoted class name.
    expect(full.csv.startsWith('path,status,error,pred,pred_name,confidence,p_anger,"p_joy, ""big""",p_neutral,p_sad,lm0_x')).toBe(true)
  })

  it("probabilities and landmarks equal the tiny model's hand-computed values", async () => {
    const file = await readPredictions(full.out)
    let checked = 0
    for (const r of file.rows) {
      const exp = zoo.expected.get(r.path)!
      if (exp.status !== 'ok') continue
      const probs = softmax(expectedLogits(SPEC, exp.rgb!))
      const pred = probs.indexOf(Math.max(...probs))
      expect(Number(r.pred), r.path).toBe(pred)
      expect(r.pred_name).toBe(SPEC.labels![pred])
      expect(Number(r.confidence)).toBeCloseTo(probs[pred]!, 4)
      SPEC.labels!.forEach((name, k) => expect(Number(r[`p_${name}`]), `${r.path} p_${name}`).toBeCloseTo(probs[k]!, 4))
      const lm = expectedLandmarks(exp.rgb!)
      for (let i = 0; i < 68; i++) {
        expect(Math.abs(Number(r[`lm${i}_x`]) - lm[2 * i]! * exp.width!), `${r.path} lm${i}_x`).toBeLessThan(1e-3 * exp.width!)
        expect(Math.abs(Number(r[`lm${i}_y`]) - lm[2 * i + 1]! * exp.height!), `${r.path} lm${i}_y`).toBeLessThan(1e-3 * exp.height!)
      }
      checked++
    }
    expect(checked).toBeGreaterThanOrEqual(14)
  })

  it('uses the first frame of an animated GIF, reads AVIF, and keeps awkward names intact', async () => {
    const file = await readPredictions(full.out)
    const by = new Map(file.rows.map((r) => [r.path, r]))
    expect(by.get(`${zoo.root}/anim.gif`)!.status).toBe('ok')
    expect(by.get(`${zoo.root}/nested/deeper/face.avif`)!.status).toBe('ok')
    for (const name of ['comma,name.png', 'quote"d.png', 'new\nline.png', 'ünï cödé 表情 😀.png', 'nested/dir, with "quotes"/x.png', 'latin1-\\xe9\\xff.png']) {
      expect(by.get(`${zoo.root}/${name}`)?.status, name).toBe('ok')
    }
    // The raw CSV quotes exactly the fields that need it.
    expect(full.csv).toContain(`"${zoo.root}/new\nline.png",ok,`)
    expect(full.csv).toContain(`"${zoo.root}/quote""d.png",ok,`)
  })

  it('writes one overlay PNG per readable image, the size of the image, same base names kept apart', async () => {
    const dir = path.join(work, 'overlays')
    const files = readdirSync(dir).sort()
    const nOk = [...zoo.expected.values()].filter((e) => e.status === 'ok').length
    expect(files.length).toBe(nOk)
    expect(files.filter((f) => /^red-[0-9a-f]{8}\.png$/.test(f)).length).toBe(2)
    expect(files).toContain('face.png')
    expect(files).toContain('new\nline.png')
    const sharp = await loadSharp()
    const meta = await sharp(readFileSync(path.join(dir, 'green.png'))).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 32, 48])
  })

  it('refuses to overwrite an existing output without --resume, and leaves it untouched', async () => {
    const out = path.join(work, 'exists.csv')
    writeFileSync(out, 'precious\n')
    await expect(predict({inputs: [zoo.root], model, out})).rejects.toThrow(/exists\.csv already exists; pass --resume to continue it, or remove it/)
    expect(readFileSync(out, 'utf8')).toBe('precious\n')
    await expect(predict({inputs: [zoo.root], model, out, resume: true})).rejects.toThrow(/cannot resume .*exists\.csv: it is not a predictions file/)
    expect(readFileSync(out, 'utf8')).toBe('precious\n')
  })

  it('resume on a finished file runs nothing and changes nothing', async () => {
    const s = await predict({inputs: [zoo.root], recursive: true, model, out: full.out, landmarks: true, resume: true, maxPixels: zoo.maxPixels})
    expect(readFileSync(full.out, 'utf8')).toBe(full.csv)
    expect(s).toMatchObject({images: zoo.expected.size, skipped_resumed: zoo.expected.size, ok: full.summary.ok, errors: full.summary.errors})
  })

  it('--resume on a file that does not exist yet simply starts it (a restarted job can always pass --resume)', async () => {
    const out = path.join(tmpDir(), 'sub', 'fresh.csv')
    const s = await predict({inputs: [`${zoo.root}/red.png`, `${zoo.root}/blue.Tiff`], model, out, resume: true})
    expect(s).toMatchObject({images: 2, ok: 2, skipped_resumed: 0})
    expect((await readPredictions(out)).rows.map((r) => r.path)).toEqual([`${zoo.root}/blue.Tiff`, `${zoo.root}/red.png`])
  })

  it('resume refuses a file written with other columns (no --landmarks)', async () => {
    await expect(predict({inputs: [zoo.root], recursive: true, model, out: full.out, resume: true})).rejects.toThrow(/cannot resume .*all\.csv: it was written by another kind of run: it has landmark columns \(pass --landmarks\)\. Use the same model/)
    expect(readFileSync(full.out, 'utf8')).toBe(full.csv)
    const dir = tmpDir()
    const other = await tinyModel(dir, {...SPEC, labels: ['a', 'b', 'c', 'd']})
    await expect(predict({inputs: [zoo.root], recursive: true, model: other, out: full.out, landmarks: true, resume: true})).rejects.toThrow(
      /its classes are \[anger, joy, "big", neutral, sad\], this model's are \[a, b, c, d\]/,
    )
    expect(readFileSync(full.out, 'utf8')).toBe(full.csv)
  })

  it('an empty input set is an error that says so', async () => {
    const empty = tmpDir()
    writeFileSync(path.join(empty, 'readme.txt'), 'x')
    await expect(predict({inputs: [empty], model, out: path.join(work, 'none.csv')})).rejects.toThrow(/no images found/)
    expect(existsSync(path.join(work, 'none.csv'))).toBe(false)
  })

  it('--landmarks with a model that has no landmark output is an error', async () => {
    const dir = tmpDir()
    const m = await tinyModel(dir, {...SPEC, landmarks: false})
    await expect(predict({inputs: [`${zoo.root}/red.png`], model: m, out: path.join(dir, 'x.csv'), landmarks: true})).rejects.toThrow(/no 'landmarks' output/)
  })

  it('--overlay with a model without landmarks draws the label only, and says so', async () => {
    const dir = tmpDir()
    const m = await tinyModel(dir, {...SPEC, landmarks: false})
    const s = await predict({inputs: [`${zoo.root}/red.png`, `${zoo.root}/empty.png`], model: m, out: path.join(dir, 'x.csv'), overlay: path.join(dir, 'ov')})
    expect(s.warnings.join('\n')).toMatch(/no 'landmarks' output; overlays show the predicted label only/)
    expect(readdirSync(path.join(dir, 'ov'))).toEqual(['red.png'])
  })

  it('a model without class names gets class_0.. columns and a warning', async () => {
    const dir = tmpDir()
    const m = await tinyModel(dir, {...SPEC, labels: undefined})
    const s = await predict({inputs: [`${zoo.root}/red.png`], model: m, out: path.join(dir, 'x.csv')})
    expect(s.classes).toEqual(['class_0', 'class_1', 'class_2', 'class_3'])
    expect(s.warnings.join('\n')).toMatch(/no class names/)
    expect(readFileSync(path.join(dir, 'x.csv'), 'utf8').split('\r\n')[0]).toBe('path,status,error,pred,pred_name,confidence,p_class_0,p_class_1,p_class_2,p_class_3')
  })
})

describe('predict helpers', () => {
  it('output path: default, per-shard default, {shard} placeholder', () => {
    expect(predictOutPath(undefined, undefined)).toBe('predictions.csv')
    expect(predictOutPath(undefined, {index: 1, count: 4, source: ''})).toBe('predictions-2-of-4.csv')
    expect(predictOutPath('r/part-{shard}.csv', {index: 0, count: 3, source: ''})).toBe('r/part-1-of-3.csv')
    expect(predictOutPath('a.csv', {index: 0, count: 3, source: ''})).toBe('a.csv')
  })

  it('overlay names are unique and do not depend on which items a shard holds', () => {
    const items = ['a/x.jpg', 'b/x.jpg', 'c/X.png', 'y.jpg', 'z'].map((relPath) => ({relPath}))
    const names = overlayNames(items)
    expect(new Set(names.values()).size).toBe(5)
    expect(names.get('y.jpg')).toBe('y.png')
    expect(names.get('z')).toBe('z.png')
    expect(names.get('a/x.jpg')).toMatch(/^x-[0-9a-f]{8}\.png$/)
    expect(names.get('c/X.png')).toMatch(/^X-[0-9a-f]{8}\.png$/)
  })

  it('overlay SVG escapes the label and draws 68 points', () => {
    const svg = overlaySvg(100, 50, new Float64Array(136).fill(10), 'a<b & "c"')
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;')
    expect(svg.match(/<circle/g)?.length).toBe(68)
  })
})
