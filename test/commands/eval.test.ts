/**
 * `poster eval` end to end on a synthetic RAF-DB tree with a tiny classifier whose logits are computable by hand:
 * per-image predictions, every metric, the files, and the errors a user meets.
 */
import {mkdir, mkdtemp, readFile, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {beforeAll, describe, expect, it} from 'vitest'

import Eval from '../../src/commands/eval.js'
import {loadSharp} from '../../src/image/sharp.js'
import {AFFECTNET7, RAFDB} from '../../src/datasets/labels.js'
import {SEVEN_CLASS_SPEC, SEVEN_COLORS, expectedLogits, writeTinyModel, type TinyModelSpec} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname

type RGB = [number, number, number]

const COLORS = SEVEN_COLORS
const SPEC = SEVEN_CLASS_SPEC

function softmax(v: number[]): number[] {
  const m = Math.max(...v)
  const e = v.map((x) => Math.exp(x - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / s)
}

const argmax = (v: number[]) => v.indexOf(Math.max(...v))

interface Sample {
  name: string
  color: RGB
  label: number
}

async function solidJpeg(path: string, rgb: RGB): Promise<void> {
  const sharp = await loadSharp()
  await sharp({create: {width: 100, height: 100, channels: 3, background: {r: rgb[0], g: rgb[1], b: rgb[2]}}})
    .png()
    .toFile(path)
}

/** A RAF-DB basic tree: EmoLabel/list_patition_label.txt + Image/aligned/<stem>_aligned.jpg. */
async function makeRafdb(samples: Sample[], extra: {corrupt?: string[]} = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'poster-raf-'))
  await mkdir(join(root, 'EmoLabel'), {recursive: true})
  await mkdir(join(root, 'Image', 'aligned'), {recursive: true})
  const lines: string[] = []
  for (const s of samples) {
    lines.push(`${s.name}.jpg ${s.label + 1}`)
    // PNG bytes in a .jpg file: decoders sniff content, and PNG keeps the colour exact.
    await solidJpeg(join(root, 'Image', 'aligned', `${s.name}_aligned.jpg`), s.color)
  }
  for (const name of extra.corrupt ?? []) {
    lines.push(`${name}.jpg 1`)
    await writeFile(join(root, 'Image', 'aligned', `${name}_aligned.jpg`), 'this is not an image')
  }
  lines.push('train_00001.jpg 1')
  await solidJpeg(join(root, 'Image', 'aligned', 'train_00001_aligned.jpg'), COLORS[0])
  await writeFile(join(root, 'EmoLabel', 'list_patition_label.txt'), lines.join('\n') + '\n')
  return root
}

describe('poster eval', () => {
  let work: string
  let modelPath: string
  // Labels: mostly the colour's class, with three deliberate mistakes.
  const samples: Sample[] = []
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'poster-eval-'))
    modelPath = await writeTinyModel(join(work, 'tiny.onnx'), SPEC)
    let i = 1
    for (let rep = 0; rep < 2; rep++) {
      for (let c = 0; c < 7; c++) {
        samples.push({name: `test_${String(i++).padStart(4, '0')}`, color: COLORS[c], label: c})
      }
    }
    samples[0].label = 6 // red image labelled Neutral
    samples[1].label = 0 // green image labelled Surprise
    samples[9].label = 3 // blue image labelled Happiness
  })

  it('predicts what the hand formula says and computes every metric', async () => {
    // The colours must map to 7 distinct classes, or the test proves less than it claims.
    expect(new Set(COLORS.map((c) => argmax(expectedLogits(SPEC, c)))).size).toBe(7)
    const root = await makeRafdb(samples, {corrupt: ['test_9999']})
    const out = join(work, 'run1')
    const {stdout, error} = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', out, '--batch-size', '4', '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const metrics = JSON.parse(stdout)

    // Independent expectations.
    const preds = samples.map((s) => argmax(expectedLogits(SPEC, s.color)))
    const correct = samples.filter((s, i) => preds[i] === s.label).length
    expect(correct).toBe(samples.length - 3)
    expect(metrics.n_images).toBe(14)
    expect(metrics.n_failed).toBe(1)
    expect(metrics.accuracy).toBeCloseTo(correct / samples.length, 12)
    const counts = Array.from({length: 7}, () => new Array(7).fill(0))
    samples.forEach((s, i) => counts[s.label][preds[i]]++)
    expect(metrics.confusion.counts).toEqual(counts)
    // Per class by hand: recall = diag / row sum, precision = diag / column sum.
    for (let c = 0; c < 7; c++) {
      const row = counts[c].reduce((a: number, b: number) => a + b, 0)
      const col = counts.reduce((a: number, r: number[]) => a + r[c], 0)
      const recall = row ? counts[c][c] / row : 0
      const precision = col ? counts[c][c] / col : 0
      expect(metrics.per_class[c].name).toBe(RAFDB.names[c])
      expect(metrics.per_class[c].support).toBe(row)
      expect(metrics.per_class[c].recall).toBeCloseTo(recall, 12)
      expect(metrics.per_class[c].precision).toBeCloseTo(precision, 12)
    }
    const supported = counts.map((r, c) => [r.reduce((a, b) => a + b, 0), c]).filter(([n]) => n > 0)
    const mca = supported.reduce((a, [n, c]) => a + counts[c][c] / n, 0) / supported.length
    expect(metrics.mean_class_accuracy).toBeCloseTo(mca, 12)
    const nll = -samples.reduce((a, s) => a + Math.log(softmax(expectedLogits(SPEC, s.color))[s.label]), 0) / samples.length
    expect(metrics.nll).toBeCloseTo(nll, 2)
    expect(metrics.accuracy_ci95[0]).toBeLessThanOrEqual(metrics.accuracy)
    expect(metrics.accuracy_ci95[1]).toBeGreaterThanOrEqual(metrics.accuracy)
    expect(metrics.paper).toEqual({accuracy: 0.9221, benchmark: 'rafdb'}) // the paper's RAF-DB figure beside ours
    expect(metrics.labels).toEqual(RAFDB.names)

    // predictions.csv: dataset order, the corrupt file as an error row, probabilities by class name.
    const csv = (await readFile(join(out, 'predictions.csv'), 'utf8')).trim().split(/\r?\n/)
    const header = csv[0].split(',')
    expect(header.slice(0, 10)).toEqual(['path', 'split', 'label', 'label_name', 'pred', 'pred_name', 'confidence', 'correct', 'status', 'error'])
    expect(header.slice(10)).toEqual(RAFDB.names.map((n) => `p_${n}`))
    expect(csv).toHaveLength(1 + samples.length + 1)
    samples.forEach((s, i) => {
      const cells = csv[1 + i].split(',')
      expect(cells[0]).toContain(`${s.name}_aligned.jpg`)
      expect(Number(cells[4])).toBe(preds[i])
      expect(cells[8]).toBe('ok')
      const p = softmax(expectedLogits(SPEC, s.color))
      p.forEach((v, k) => expect(Number(cells[10 + k])).toBeCloseTo(v, 2))
    })
    const bad = csv[csv.length - 1].split(',')
    expect(bad[0]).toContain('test_9999')
    expect(bad[8]).toBe('error')
    expect(bad[9]).toMatch(/not an image/)

    const files = await readdir(out)
    for (const f of ['predictions.csv', 'metrics.json', 'confusion.csv', 'report.md', 'confusion.svg', 'confusion.png', 'calibration.svg', 'report.html']) {
      expect(files).toContain(f)
    }
    const confusionCsv = (await readFile(join(out, 'confusion.csv'), 'utf8')).trim().split(/\r?\n/)
    expect(confusionCsv[1].split(',').slice(1).map(Number)).toEqual(counts[0])

    // The PNG is the SVG rendered at 144 dpi: twice the SVG's declared size.
    const svg = await readFile(join(out, 'confusion.svg'), 'utf8')
    const [, w, h] = /<svg[^>]*width="(\d+)"[^>]*height="(\d+)"/.exec(svg)!
    const meta = await (await loadSharp())(join(out, 'confusion.png')).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 2 * Number(w), 2 * Number(h)])
    const html = await readFile(join(out, 'report.html'), 'utf8')
    expect(html).toContain('data:image/jpeg;base64,') // the mistakes gallery embeds its thumbnails

    // The same run as its own baseline passes; a model with shuffled class names fails the gate with exit 3.
    const same = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', join(work, 'run1b'), '--baseline', out, '--json'], {root: ROOT}))
    expect(same.error).toBeUndefined()
    expect(JSON.parse(same.stdout).check.verdict).toBe('pass')
    const shuffled = await writeTinyModel(join(work, 'shuffled.onnx'), {...SPEC, labels: [...RAFDB.names.slice(1), RAFDB.names[0]]})
    const worse = await captureOutput(() => Eval.run([root, '--model', shuffled, '--out', join(work, 'run1c'), '--baseline', out, '--json'], {root: ROOT}))
    // With --json a regression is not thrown: the result is printed and the exit code set to 3.
    expect(worse.error).toBeUndefined()
    expect(process.exitCode).toBe(3)
    process.exitCode = undefined
    const gate = JSON.parse(worse.stdout).check
    expect(gate.verdict).toBe('fail')
    expect(gate.pairing.pairs).toBe(14)
  })

  it('maps model classes to dataset classes by name, not position', async () => {
    // Same weights, columns permuted into AffectNet order, labelled with AffectNet names: identical predictions.
    const order = ['Neutral', 'Happiness', 'Sadness', 'Surprise', 'Fear', 'Disgust', 'Anger']
    const perm = order.map((n) => RAFDB.names.indexOf(n))
    const permuted: TinyModelSpec = {
      weights: SPEC.weights.map((row) => perm.map((k) => row[k])),
      bias: perm.map((k) => SPEC.bias![k]),
      labels: ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Angry'],
    }
    const path = await writeTinyModel(join(work, 'permuted.onnx'), permuted)
    const root = await makeRafdb(samples)
    const {stdout, error} = await captureOutput(() => Eval.run([root, '--model', path, '--out', join(work, 'run-perm'), '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const metrics = JSON.parse(stdout)
    const preds = samples.map((s) => argmax(expectedLogits(SPEC, s.color)))
    expect(metrics.accuracy).toBeCloseTo(samples.filter((s, i) => preds[i] === s.label).length / samples.length, 12)
    expect(metrics.label_order.suspicious).toBe(false)
  })

  it('warns with the permutation when the model\'s names are in the wrong order', async () => {
    // Model trained in RAF order but labelled (wrongly) with AffectNet's order.
    const wrong: TinyModelSpec = {...SPEC, labels: ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger']}
    const path = await writeTinyModel(join(work, 'wrong.onnx'), wrong)
    const many: Sample[] = []
    for (let i = 0; i < 42; i++) many.push({name: `test_${String(i + 1).padStart(4, '0')}`, color: COLORS[i % 7], label: i % 7})
    const root = await makeRafdb(many)
    const {stdout} = await captureOutput(() => Eval.run([root, '--model', path, '--out', join(work, 'run-wrong'), '--json'], {root: ROOT}))
    const metrics = JSON.parse(stdout)
    expect(metrics.label_order.suspicious).toBe(true)
    expect(metrics.label_order.best_accuracy).toBe(1)
    expect(metrics.accuracy).toBeLessThan(0.5)
    // Relabelling the model with the suggestion gives the right names back (in RAF order).
    expect(metrics.label_order.suggested_labels.split(',')).toEqual(RAFDB.names)
    expect(metrics.warnings.join('\n')).toMatch(/label order looks wrong/)
  })

  it('refuses a class-count mismatch and a wrong input shape, naming both sides', async () => {
    const root = await makeRafdb(samples.slice(0, 3))
    const eight = await writeTinyModel(join(work, 'eight.onnx'), {weights: [[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0]]})
    const r1 = await captureOutput(() => Eval.run([root, '--model', eight, '--out', join(work, 'x1')], {root: ROOT}))
    expect(r1.error?.message).toMatch(/8 classes but the dataset has 7/)
    expect(r1.error?.oclif?.exit).toBe(1)

    const small = await writeTinyModel(join(work, 'small.onnx'), {...SPEC, inputShape: ['N', 3, 112, 112]})
    const r2 = await captureOutput(() => Eval.run([root, '--model', small, '--out', join(work, 'x2')], {root: ROOT}))
    expect(r2.error?.message).toMatch(/expected the model input to be float32 \[N, 3, 224, 224\]; found input: float32 \[N, 3, 112, 112\]/)
  })

  it('stops on an unknown layout and on --strict with a corrupt image', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'poster-empty-'))
    await writeFile(join(empty, 'notes.txt'), 'hello')
    const r1 = await captureOutput(() => Eval.run([empty, '--model', modelPath], {root: ROOT}))
    expect(r1.error?.message).toMatch(/cannot tell the dataset layout of .*Found: notes\.txt/)
    expect(r1.error?.oclif?.exit).toBe(1)

    const root = await makeRafdb(samples.slice(0, 2), {corrupt: ['test_0500']})
    const r2 = await captureOutput(() => Eval.run([root, '--model', modelPath, '--strict', '--out', join(work, 'strict')], {root: ROOT}))
    expect(r2.error?.message).toMatch(/test_0500_aligned\.jpg: not an image/)
    expect(r2.error?.oclif?.exit).toBe(1)
  })

  it('resumes an interrupted run: same rows and metrics as an uninterrupted one', async () => {
    const root = await makeRafdb(samples)
    const full = join(work, 'full')
    const a = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', full, '--batch-size', '4', '--json', '--no-pictures'], {root: ROOT}))
    const fullCsv = await readFile(join(full, 'predictions.csv'), 'utf8')
    // Interrupted after 5 rows, the last one cut mid-line, and before metrics were written.
    const part = join(work, 'part')
    await mkdir(part)
    const lines = fullCsv.split('\r\n')
    await writeFile(join(part, 'predictions.csv'), lines.slice(0, 6).join('\r\n') + '\r\n' + lines[6].slice(0, 20))
    const b = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', part, '--resume', '--batch-size', '4', '--json', '--no-pictures'], {root: ROOT}))
    expect(b.error).toBeUndefined()
    expect(await readFile(join(part, 'predictions.csv'), 'utf8')).toBe(fullCsv)
    const [ma, mb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)]
    for (const k of ['accuracy', 'mean_class_accuracy', 'macro_f1', 'confusion', 'per_class', 'n_images']) expect(mb[k]).toEqual(ma[k])
    expect(mb.nll).toBeCloseTo(ma.nll, 5) // resumed rows come back from 6-significant-digit probabilities
    // Without --resume an existing, non-empty run folder is refused.
    const c = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', part], {root: ROOT}))
    expect(c.error?.message).toMatch(/resume|not empty|exists/i)
  })

  it('refuses to resume a run on relabelled data or with another model, naming what differs', async () => {
    const root = await makeRafdb(samples)
    const out = join(work, 'relabel')
    // Interrupted after 4 rows (a run of this poster: its identity record is beside the file).
    const first = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', out, '--limit', '4', '--json', '--no-pictures'], {root: ROOT}))
    expect(first.error).toBeUndefined()
    const csv = await readFile(join(out, 'predictions.csv'), 'utf8')
    // Same file names, other labels: every code moves to the next class.
    const labels = join(root, 'EmoLabel', 'list_patition_label.txt')
    const original = await readFile(labels, 'utf8')
    await writeFile(labels, original.replace(/ (\d)$/gm, (_, d: string) => ` ${(Number(d) % 7) + 1}`))
    const b = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', out, '--resume', '--json', '--no-pictures'], {root: ROOT}))
    // --json: the error is the JSON on stdout, exit code 1.
    expect(JSON.parse(b.stdout).error).toMatchObject({exitCode: 1})
    expect(JSON.parse(b.stdout).error.message).toMatch(/cannot resume .*predictions\.csv: 4 of its images have other labels than this dataset gives them \(.*: label \d there, \d in the dataset\)/)
    expect(await readFile(join(out, 'predictions.csv'), 'utf8')).toBe(csv)
    await writeFile(labels, original)
    // Another model with the same classes.
    const other = join(work, 'other-model.onnx')
    await writeTinyModel(other, {...SPEC, bias: SPEC.bias?.map(() => 0) ?? Array(7).fill(0)})
    const c = await captureOutput(() => Eval.run([root, '--model', other, '--out', out, '--resume', '--json', '--no-pictures'], {root: ROOT}))
    expect(JSON.parse(c.stdout).error.message).toMatch(/it was written by a different run \(model\.sha256: [0-9a-f]{64} there, [0-9a-f]{64} now\)/)
    expect(await readFile(join(out, 'predictions.csv'), 'utf8')).toBe(csv)
  })

  it('evaluates the ImageFolder layout of the official scripts (folders 1..7 in RAF-DB order)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'poster-if-'))
    const expected: Array<[number, number]> = []
    for (let c = 0; c < 7; c++) {
      await mkdir(join(root, 'test', String(c + 1)), {recursive: true})
      // Class c+1 holds images of colour c (predicted c) and one of colour (c+1)%7.
      await solidJpeg(join(root, 'test', String(c + 1), 'a.png'), COLORS[c])
      await solidJpeg(join(root, 'test', String(c + 1), 'b.png'), COLORS[(c + 1) % 7])
      expected.push([c, argmax(expectedLogits(SPEC, COLORS[c]))], [c, argmax(expectedLogits(SPEC, COLORS[(c + 1) % 7]))])
    }
    const {stdout, error} = await captureOutput(() => Eval.run([root, '--model', modelPath, '--out', join(work, 'if'), '--json', '--no-pictures'], {root: ROOT}))
    expect(error).toBeUndefined()
    const m = JSON.parse(stdout)
    expect(m.dataset.format).toBe('imagefolder')
    expect(m.labels).toEqual(RAFDB.names)
    expect(m.accuracy).toBeCloseTo(expected.filter(([l, p]) => l === p).length / expected.length, 12)
  })

  it('evaluates AffectNet as distributed (validation.csv): 7-class protocol, excluded codes counted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'poster-affectnet-'))
    await mkdir(join(root, 'Manually_Annotated_Images', '12'), {recursive: true})
    // A 7-class model trained in AffectNet order: same weights, names Neutral, Happy, ... Anger.
    const model = await writeTinyModel(join(work, 'affectnet7.onnx'), {...SPEC, labels: AFFECTNET7.names})
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    const rows = [header]
    const expected: Array<[number, number]> = []
    const codes = [0, 1, 2, 3, 4, 5, 6, 0, 3, 7, 8, 9, 10]
    for (const [i, code] of codes.entries()) {
      const color = COLORS[i % 7]
      await solidJpeg(join(root, 'Manually_Annotated_Images', '12', `img${i}.jpg`), color)
      rows.push(`12/img${i}.jpg,0,0,100,100,"1.0;2.0;3.0",${code},0.1,-0.2`)
      if (code <= 6) expected.push([code, argmax(expectedLogits(SPEC, color))])
    }
    await writeFile(join(root, 'validation.csv'), rows.join('\n') + '\n')
    await writeFile(join(root, 'training.csv'), header + '\n')
    const {stdout, error} = await captureOutput(() => Eval.run([root, '--model', model, '--classes', '7', '--out', join(work, 'aff7'), '--json', '--no-pictures'], {root: ROOT}))
    expect(error).toBeUndefined()
    const m = JSON.parse(stdout)
    expect(m.dataset.format).toBe('affectnet')
    expect(m.labels).toEqual(AFFECTNET7.names)
    expect(m.n_images).toBe(9)
    expect(m.dataset.excluded.reduce((a: number, e: {count: number}) => a + e.count, 0)).toBe(4)
    expect(m.accuracy).toBeCloseTo(expected.filter(([l, p]) => l === p).length / expected.length, 12)
    expect(m.paper).toEqual({accuracy: 0.6749, benchmark: 'affectnet7'})

    // The 8-class protocol against a 7-class model: refused, saying which --classes would match.
    const r = await captureOutput(() => Eval.run([root, '--model', model, '--classes', '8', '--out', join(work, 'aff8')], {root: ROOT}))
    expect(r.error?.message).toMatch(/7 classes but the dataset has 8.*--classes 7/)
  })

  it('usage errors exit 2', async () => {
    const r = await captureOutput(() => Eval.run(['somewhere', '--model', modelPath, '--resume'], {root: ROOT}))
    expect(r.error?.message).toMatch(/--resume needs --out/)
    expect(r.error?.oclif?.exit).toBe(2)
    const r2 = await captureOutput(() => Eval.run(['somewhere'], {root: ROOT}))
    expect(r2.error?.message).toMatch(/Missing required flag model/)
    expect(r2.error?.oclif?.exit).toBe(2)
  })
})
