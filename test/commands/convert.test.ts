/**
 * `poster convert` end to end on full-size checkpoints in the released on-disk layout ({epoch, state_dict with
 * 'module.' keys, best_acc, recorder, recorder1}, every storage tagged 'cuda:0'), written by the test torch.save
 * writer from the deterministic parity weights: the converted model must reproduce the official logits and
 * landmarks (test/fixtures/parity/expected-{7,8}cls.json), carry its labels and provenance, and the command must
 * refuse what is not a POSTER++ checkpoint with a message that says why.
 */
import {createHash} from 'node:crypto'
import {createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import Convert from '../../src/commands/convert.js'
import type {ConvertResult} from '../../src/convert/convert.js'
import {AFFECTNET8, RAFDB} from '../../src/datasets/labels.js'
import {readOnnxMetadata} from '../../src/onnx/metadata.js'
import {deterministicInput, deterministicPosterWeights, posterManifest} from '../../src/poster/deterministic-weights.js'
import {openSession, type LoadedSession} from '../../src/runtime/session.js'
import type {HostTensor} from '../../src/tensor.js'
import {releasedCheckpoint, torchSave, type PyValue} from '../helpers/torch-save.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname
const FIXTURES = new URL('../fixtures/', import.meta.url).pathname
const ITEM = 3 * 224 * 224
const TOL = 1e-4

interface Expected {
  logits: number[][]
  landmarks: number[][]
}
const expectedFor = (classes: number): Expected =>
  JSON.parse(readFileSync(join(FIXTURES, 'parity', `expected-${classes}cls.json`), 'utf8')) as Expected

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

const argmaxRows = (v: ArrayLike<number>, c: number) =>
  Array.from({length: v.length / c}, (_, r) => {
    let best = 0
    for (let j = 1; j < c; j++) if (v[r * c + j]! > v[r * c + best]!) best = j
    return best
  })

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: 1 << 20})) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** The released layout from the deterministic weights; the weights are dropped as soon as they are on disk. */
function writeReleasedCheckpoint(path: string, classes: number): number {
  return torchSave(path, releasedCheckpoint(deterministicPosterWeights(classes), {epoch: 200, bestAcc: 92.21}))
}

interface Run {
  result?: ConvertResult
  error?: {message: string; exitCode: number}
  exit?: number
  stdout: string
  stderr: string
}

/** `poster convert ARGS --json`: the parsed JSON (result or error) and the exit code. */
async function convert(args: string[]): Promise<Run> {
  const before = process.exitCode
  process.exitCode = undefined
  try {
    const r = await captureOutput(() => Convert.run([...args, '--json'], {root: ROOT}))
    const json = r.stdout.trim() ? (JSON.parse(r.stdout) as ConvertResult | {error: {message: string; exitCode: number}}) : undefined
    const exit = (r.error as {oclif?: {exit?: number}} | undefined)?.oclif?.exit ?? (process.exitCode as number | undefined) ?? 0
    if (json && 'error' in json) return {error: json.error, exit, stdout: r.stdout, stderr: r.stderr}
    if (r.error) return {error: {message: r.error.message, exitCode: exit}, exit, stdout: r.stdout, stderr: r.stderr}
    return {result: json as ConvertResult, exit, stdout: r.stdout, stderr: r.stderr}
  } finally {
    process.exitCode = before
  }
}

async function runModel(session: LoadedSession, data: Float32Array, n: number) {
  return session.run(data, n, {landmarks: true})
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poster-convert-'))
})
afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const input = deterministicInput(3)

describe('poster convert: the released 7-class checkpoint layout (full size)', () => {
  let ckpt: string
  let onnx: string
  let run: Run

  beforeAll(async () => {
    ckpt = join(dir, 'raf-db-model_best.pth')
    const bytes = writeReleasedCheckpoint(ckpt, 7)
    expect(bytes).toBeGreaterThan(200e6)
    onnx = join(dir, 'poster-rafdb.onnx')
    run = await convert([ckpt, '--out', onnx])
  })

  afterAll(() => {
    for (const p of [ckpt, onnx]) if (p) rmSync(p, {force: true})
  })

  it('reports what it wrote: classes, RAF-DB labels, epoch, best_acc and the checkpoint\'s SHA-256', async () => {
    expect(run.error).toBeUndefined()
    expect(run.exit).toBe(0)
    const r = run.result!
    expect(r.out).toBe(onnx)
    expect(r.bytes).toBe(statSync(onnx).size)
    expect(r.numClasses).toBe(7)
    expect(r.labels).toEqual(RAFDB.names)
    expect(r.dtype).toBe('float32')
    expect(r.checkpoint.format).toBe('zip')
    expect(r.checkpoint.epoch).toBe(200)
    expect(r.checkpoint.best_acc).toBe(92.21)
    expect(r.checkpoint.sha256).toBe(await sha256(ckpt))
    expect(r.checkpoint.tensors).toBe(posterManifest(7).length)
    expect(r.graph.opset).toBeGreaterThanOrEqual(13)
    expect(r.graph.parameters).toBeGreaterThan(40e6)
    // --json: nothing but the JSON on stdout, no status lines on stderr.
    expect(run.stderr).toBe('')
  })

  it('writes labels, preprocessing and provenance into the model metadata', async () => {
    const {metadata} = await readOnnxMetadata(onnx)
    expect(JSON.parse(metadata.labels!)).toEqual(RAFDB.names)
    expect(metadata.num_classes).toBe('7')
    expect(metadata.source_sha256).toBe(run.result!.checkpoint.sha256)
    expect(metadata.source_checkpoint).toBe('raf-db-model_best.pth')
    expect(metadata.source_format).toBe('zip')
    expect(metadata.epoch).toBe('200')
    expect(metadata.best_acc).toBe('92.21')
    expect(metadata.weights_dtype).toBe('float32')
    expect(JSON.parse(metadata.preprocess!).mean).toEqual([0.485, 0.456, 0.406])
  })

  it('reproduces the official logits and landmarks (batch of 3, and one item alone)', async () => {
    const exp = expectedFor(7)
    const session = await openSession(onnx)
    try {
      const r = await runModel(session, input.data, 3)
      expect(maxAbsDiff(r.logits, exp.logits.flat())).toBeLessThan(TOL)
      expect(maxAbsDiff(r.landmarks!, exp.landmarks.flat())).toBeLessThan(TOL)
      const one = await runModel(session, input.data.slice(2 * ITEM, 3 * ITEM), 1)
      expect(one.logits).toHaveLength(7)
      expect(maxAbsDiff(one.logits, exp.logits[2]!)).toBeLessThan(TOL)
      expect(maxAbsDiff(one.landmarks!, exp.landmarks[2]!)).toBeLessThan(TOL)
    } finally {
      await session.release()
    }
  })

  it('--dtype fp16: about half the file, logits within 1e-2 of float32 and the same predictions', async () => {
    const half = join(dir, 'poster-rafdb-fp16.onnx')
    try {
      const r = await convert([ckpt, '--out', half, '--dtype', 'fp16'])
      expect(r.error).toBeUndefined()
      expect(r.result!.dtype).toBe('float16')
      const ratio = statSync(half).size / statSync(onnx).size
      expect(ratio).toBeGreaterThan(0.45)
      expect(ratio).toBeLessThan(0.56)
      expect((await readOnnxMetadata(half)).metadata.weights_dtype).toBe('float16')
      const session = await openSession(half)
      try {
        const out = await runModel(session, input.data, 3)
        // Against the official float32 logits, so this test stands on its own.
        const ref = Float32Array.from(expectedFor(7).logits.flat())
        expect(maxAbsDiff(out.logits, ref)).toBeLessThan(1e-2)
        expect(argmaxRows(out.logits, 7)).toEqual(argmaxRows(ref, 7))
      } finally {
        await session.release()
      }
    } finally {
      rmSync(half, {force: true})
    }
  })

  it('--classes 8 on this 7-class checkpoint: refused, naming both class counts, nothing written', async () => {
    const out = join(dir, 'wrong-classes.onnx')
    const r = await convert([ckpt, '--out', out, '--classes', '8'])
    expect(r.exit).toBe(1)
    expect(r.error!.message).toMatch(/\b7\b/)
    expect(r.error!.message).toMatch(/\b8\b/)
    expect(r.error!.message).toMatch(/VIT\.head\.linear\.weight/)
    expect(existsSync(out)).toBe(false)
  })

  it('--labels naming the wrong number of classes: exit 1, as in eval and predict (with --classes before reading; alone, after the head is read)', async () => {
    const out = join(dir, 'wrong-labels.onnx')
    const r1 = await convert([ckpt, '--out', out, '--classes', '7', '--labels', 'affectnet8'])
    expect(r1.exit).toBe(1)
    expect(r1.error!.message).toMatch(/--labels names 8 classes \(Neutral, .*, Contempt\) but --classes is 7/)
    const r2 = await convert([ckpt, '--out', out, '--labels', 'happy,sad,neutral'])
    expect(r2.exit).toBe(1)
    expect(r2.error!.message).toMatch(/3 labels given \(happy, sad, neutral\) but the checkpoint's classifier head has 7 classes/)
    expect(existsSync(out)).toBe(false)
  })
})

/** An epoch past 2^53 (a bigint once read) and a best_acc string that would clear the screen and colour it. */
const HUGE_EPOCH = 2n ** 53n + 1n
const HOSTILE_TEXT = '\x1b[2J\x1b[31mpwned\u202e\x07'

describe('poster convert: an 8-class (AffectNet) checkpoint, default output path', () => {
  let ckpt: string
  let onnx: string

  beforeAll(() => {
    ckpt = join(dir, 'affectnet-8-model_best.pth')
    // The released layout, with metadata no training script writes: epoch beyond 2^53 and a best_acc string.
    const released = releasedCheckpoint(deterministicPosterWeights(8), {epoch: 200, bestAcc: 92.21}) as Record<string, PyValue>
    torchSave(ckpt, {...released, epoch: HUGE_EPOCH, best_acc: HOSTILE_TEXT})
    onnx = join(dir, 'affectnet-8-model_best.onnx')
  })
  afterAll(() => {
    for (const p of [ckpt, onnx]) if (p) rmSync(p, {force: true})
  })

  it('--classes 7 on this 8-class checkpoint: exit 1, saying it has 8 classes (not "not a POSTER++ state dict")', async () => {
    const out = join(dir, 'eight-as-seven.onnx')
    const r = await convert([ckpt, '--out', out, '--classes', '7'])
    expect(r.exit).toBe(1)
    expect(r.error!.message).toMatch(/this POSTER\+\+ checkpoint has 8 classes \(VIT\.head\.linear\.weight \[8, 768\]\), not the 7 requested; convert it with --classes 8/)
    expect(r.error!.message).not.toMatch(/not a POSTER\+\+/)
    expect(existsSync(out)).toBe(false)
  })

  it('reads the head\'s 8 classes, names them in AffectNet order and reproduces the official logits', async () => {
    const r = await convert([ckpt, '--classes', '8', '--labels', 'affectnet8'])
    expect(r.error).toBeUndefined()
    expect(r.result!.out).toBe(onnx)
    expect(r.result!.numClasses).toBe(8)
    expect(r.result!.labels).toEqual(AFFECTNET8.names)
    // --json carries the epoch past 2^53 exactly (as a string: JSON numbers cannot), and the string as it is.
    expect(r.result!.checkpoint.epoch).toBe('9007199254740993')
    expect(r.result!.checkpoint.best_acc).toBe(HOSTILE_TEXT)
    expect(r.stdout).not.toContain('\x1b')
    const {metadata} = await readOnnxMetadata(onnx)
    expect(metadata.epoch).toBe('9007199254740993')
    expect(metadata.best_acc).toBeUndefined()
    expect(JSON.parse(metadata.labels!)).toEqual(AFFECTNET8.names)
    expect(metadata.num_classes).toBe('8')
    expect(metadata.source_sha256).toBe(await sha256(ckpt))
    const exp = expectedFor(8)
    const session = await openSession(onnx)
    try {
      const out = await runModel(session, input.data, 3)
      expect(out.logits).toHaveLength(3 * 8)
      expect(maxAbsDiff(out.logits, exp.logits.flat())).toBeLessThan(TOL)
      expect(maxAbsDiff(out.landmarks!, exp.landmarks.flat())).toBeLessThan(TOL)
    } finally {
      await session.release()
    }
  })

  it('without --json: the epoch and the best_acc string are shown, escaped (no control character reaches the terminal)', async () => {
    const out = join(dir, 'affectnet-8-fp16.onnx')
    try {
      const r = await captureOutput(() => Convert.run([ckpt, '--out', out, '--dtype', 'fp16'], {root: ROOT}))
      expect(r.error).toBeUndefined()
      expect(r.stdout).toContain(', epoch 9007199254740993, best_acc \\x1b[2J\\x1b[31mpwned\\u202e\\x07\n')
      expect(r.stdout + r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/)
    } finally {
      rmSync(out, {force: true})
    }
  })
})

describe('poster convert: what it refuses', () => {
  const torchFixture = (name: string) => join(FIXTURES, 'torch', name)

  it('an ONNX model (whatever its name): exit 1, saying it is already ONNX and how to use it', async () => {
    for (const name of ['model.onnx', 'model.pth']) {
      const path = await writeTinyModel(join(dir, name), SEVEN_CLASS_SPEC)
      const r = await convert([path, '--out', join(dir, `${name}-out.onnx`)])
      expect(r.exit, name).toBe(1)
      expect(r.error!.message, name).toMatch(/already an ONNX model/)
      expect(r.error!.message, name).toMatch(/--model/)
      expect(existsSync(join(dir, `${name}-out.onnx`))).toBe(false)
    }
  })

  it('a plain ResNet state dict: exit 1, missing and unexpected keys listed (the first few, then a count)', async () => {
    const t = (shape: number[]): HostTensor => ({dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1))})
    const resnet = new Map<string, HostTensor>([
      ['conv1.weight', t([64, 3, 7, 7])],
      ['bn1.weight', t([64])],
      ['bn1.bias', t([64])],
      ['bn1.running_mean', t([64])],
      ['bn1.running_var', t([64])],
      ['layer1.0.conv1.weight', t([64, 64, 3, 3])],
      ['layer1.0.bn1.weight', t([64])],
      ['fc.weight', t([1000, 512])],
      ['fc.bias', t([1000])],
    ])
    const ckpt = join(dir, 'resnet.pth')
    const out = join(dir, 'resnet.onnx')
    torchSave(ckpt, releasedCheckpoint(resnet, {prefix: ''}))
    const r = await convert([ckpt, '--out', out])
    expect(r.exit).toBe(1)
    const msg = r.error!.message
    expect(msg).toMatch(/not a POSTER\+\+/)
    expect(msg).toMatch(/\d+ missing keys \([^)]*, [^)]* and \d+ more\)/)
    // conv1.weight is also a POSTER++ key (a downsampling conv), so it counts as mis-shaped, not unexpected.
    expect(msg).toMatch(/8 unexpected keys \(bn1\.weight, bn1\.bias, bn1\.running_mean, bn1\.running_var, layer1\.0\.conv1\.weight and 3 more\)/)
    expect(msg).toMatch(/conv1\.weight: \[64, 3, 7, 7\], expected/)
    expect(msg).toMatch(/plain ResNet/)
    expect(existsSync(out)).toBe(false)
  })

  it('a pickle that calls os.system: refused, naming it, and nothing executed', async () => {
    const marker = '/tmp/poster-checkpoint-pwned'
    // The marker's state before and after (whether it exists, and when it last changed): executing the payload
    // would create or touch it.
    const markerState = () => (existsSync(marker) ? statSync(marker).mtimeMs : 'absent')
    const before = markerState()
    const out = join(dir, 'malicious.onnx')
    const r = await convert([torchFixture('malicious.pth'), '--out', out])
    expect(r.exit).toBe(1)
    expect(r.error!.message).toMatch(/posix\.system/)
    expect(r.error!.message).toMatch(/os\.system/)
    expect(r.error!.message).toMatch(/Nothing was executed/)
    expect(markerState()).toBe(before)
    expect(existsSync(out)).toBe(false)
  })

  it('a truncated checkpoint and a file that is not one: clear errors, exit 1', async () => {
    const t = await convert([torchFixture('truncated.pth'), '--out', join(dir, 't.onnx')])
    expect(t.exit).toBe(1)
    expect(t.error!.message).toMatch(/truncated\.pth: .*truncated/)
    const n = await convert([torchFixture('not-a-checkpoint.pth'), '--out', join(dir, 'n.onnx')])
    expect(n.exit).toBe(1)
    expect(n.error!.message).toMatch(/not-a-checkpoint\.pth: .*not a PyTorch checkpoint/i)
    const missing = await convert([join(dir, 'nope.pth'), '--out', join(dir, 'm.onnx')])
    expect(missing.exit).toBe(1)
    expect(missing.error!.message).toMatch(/nope\.pth: cannot open/)
  })

  it('a bad --classes or --labels value is a usage error (exit 2), before the checkpoint is read', async () => {
    const r = await convert([torchFixture('not-a-checkpoint.pth'), '--classes', 'seven'])
    expect(r.exit).toBe(2)
    expect(r.error!.message).toMatch(/--classes expects auto or a class count/)
    const l = await convert([torchFixture('not-a-checkpoint.pth'), '--labels', 'happy'])
    expect(l.exit).toBe(2)
    expect(l.error!.message).toMatch(/--labels expects a label set/)
    const twice = await convert([torchFixture('not-a-checkpoint.pth'), '--labels', 'happy,joy'])
    expect(twice.exit).toBe(2)
    expect(twice.error!.message).toMatch(/twice/)
  })

  it('key and class names with terminal escapes are shown escaped, in --json and without it', async () => {
    const t = (shape: number[]): HostTensor => ({dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1))})
    const ckpt = join(dir, 'escapes.pth')
    torchSave(ckpt, releasedCheckpoint(new Map([['\x1b]0;title\x07evil\x1b[2J', t([2])], ['fc.weight\u202e', t([2, 2])]]), {prefix: ''}))
    const r = await convert([ckpt, '--out', join(dir, 'escapes.onnx')])
    expect(r.exit).toBe(1)
    expect(r.error!.message).toContain('\\x1b]0;title\\x07evil\\x1b[2J')
    expect(r.error!.message).toContain('fc.weight\\u202e')
    expect(r.stdout).not.toMatch(/\\u001b|\\u0007|\u202e/) // not even JSON-escaped: escaped for the terminal first
    const human = await captureOutput(() => Convert.run([ckpt, '--out', join(dir, 'escapes.onnx')], {root: ROOT}))
    process.exitCode = undefined
    expect(human.error!.message).toContain('\\x1b]0;title\\x07evil\\x1b[2J')
    expect(human.error!.message).not.toMatch(/[\x00-\x09\x0b-\x1f\u202e]/)
    // A class name from the pickle (here a refused global) is escaped the same way.
    const {OP, bytes, makeZip} = await import('../checkpoint/helpers.js')
    const pkl = bytes(OP.PROTO, 2, OP.GLOBAL, 'evil\x1b[31m', 10, 'run', 10, OP.EMPTY_TUPLE, OP.REDUCE, OP.STOP)
    const refusedPath = join(dir, 'escaped-global.pth')
    writeFileSync(refusedPath, makeZip([{name: 'a/data.pkl', data: pkl}]))
    const g = await convert([refusedPath, '--out', join(dir, 'escapes.onnx')])
    expect(g.exit).toBe(1)
    expect(g.error!.message).toContain('the pickle calls evil\\x1b[31m.run, which is not an allowed global')
  })

  it('without --json: a one-line message, no stack trace', async () => {
    const r = await captureOutput(() => Convert.run([torchFixture('not-a-checkpoint.pth'), '--out', join(dir, 'x.onnx')], {root: ROOT}))
    expect(r.error?.message).toMatch(/not a PyTorch checkpoint/i)
    expect((r.error as {oclif?: {exit?: number}}).oclif?.exit).toBe(1)
    process.exitCode = undefined
  })
})
