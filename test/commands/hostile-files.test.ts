/**
 * Hostile files met by `poster eval` (issue 14 item 6): a label file or manifest that lists a FIFO, a link to
 * /dev/zero, a socket or a huge (sparse) file. Before, the FIFO hung eval forever and /dev/zero read until the heap
 * died; now each is an error row naming what it is, within seconds and with a small heap, and the real images are
 * scored. The runs are child processes with a timeout, so a regression fails instead of hanging the suite.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readPredictions} from '../../src/report/predictions-csv.js'
import {bmpBytes} from '../helpers/predict-fixtures.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = new URL('../..', import.meta.url).pathname
const RUN = path.join(ROOT, 'bin', 'run.js')

/** poster, as a child with a 256 MB heap and a 60 s limit. */
function poster(args: string[], opts: {timeout?: number} = {}) {
  const t0 = Date.now()
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', RUN, ...args], {
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000,
    env: {...process.env, NO_COLOR: '1'},
  })
  // oclif wraps an error message at the terminal width, each line after the first starting " ›   ": one line again.
  const stderr = (r.stderr ?? '').replace(/\s*\n ›\s+/g, ' ')
  return {...r, stderr, ms: Date.now() - t0}
}

describe('poster eval on listed files that are not regular files', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'poster-hostile-eval-'))
  let model: string
  let server: Server
  const raf = path.join(work, 'raf')
  const aligned = path.join(raf, 'Image', 'aligned')

  beforeAll(async () => {
    model = await writeTinyModel(path.join(work, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    mkdirSync(path.join(raf, 'EmoLabel'), {recursive: true})
    mkdirSync(aligned, {recursive: true})
    writeFileSync(path.join(aligned, 'test_0001_aligned.jpg'), bmpBytes(8, 8))
    expect(spawnSync('mkfifo', [path.join(aligned, 'test_0002_aligned.jpg')]).status).toBe(0)
    symlinkSync('/dev/zero', path.join(aligned, 'test_0003_aligned.jpg'))
    writeFileSync(path.join(aligned, 'test_0004_aligned.jpg'), '')
    truncateSync(path.join(aligned, 'test_0004_aligned.jpg'), 3 * 2 ** 30)
    server = createServer()
    await new Promise<void>((resolve) => server.listen(path.join(aligned, 'test_0005_aligned.jpg'), resolve))
    writeFileSync(path.join(aligned, 'test_0006_aligned.jpg'), bmpBytes(8, 8))
    writeFileSync(path.join(aligned, 'train_0001_aligned.jpg'), bmpBytes(8, 8))
    const lines = ['test_0001.jpg 1', 'test_0002.jpg 2', 'test_0003.jpg 3', 'test_0004.jpg 4', 'test_0005.jpg 5', 'test_0006.jpg 6', 'train_0001.jpg 7']
    writeFileSync(path.join(raf, 'EmoLabel', 'list_patition_label.txt'), lines.join('\n') + '\n')
  })

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    rmSync(work, {recursive: true, force: true})
  })

  const expected = [
    ['test_0001_aligned.jpg', 'ok', ''],
    ['test_0002_aligned.jpg', 'error', 'not a regular file (a FIFO)'],
    ['test_0003_aligned.jpg', 'error', 'not a regular file (a character device)'],
    ['test_0004_aligned.jpg', 'error', 'file too large: 3 GiB exceeds the 1 GiB limit'],
    ['test_0005_aligned.jpg', 'error', 'not a regular file (a socket)'],
    ['test_0006_aligned.jpg', 'ok', ''],
  ]

  it('RAF-DB: each becomes an error row within seconds, the real images are scored', async () => {
    const out = path.join(work, 'run-raf')
    const r = poster(['eval', raf, '--model', model, '--out', out, '--no-pictures', '--json'])
    expect(r.error, 'eval did not finish within 60 s').toBeUndefined()
    expect(r.status, r.stderr).toBe(0)
    const rows = (await readPredictions(path.join(out, 'predictions.csv'))).rows.map((x) => [path.basename(x.path!), x.status, x.error])
    expect(rows).toEqual(expected)
    const metrics = JSON.parse(r.stdout)
    expect(metrics.n_failed).toBe(4)
    expect(metrics.n_images).toBe(2)
  })

  it('a manifest listing the same files: the same rows', async () => {
    const manifest = path.join(work, 'list.csv')
    writeFileSync(manifest, 'path,label\n' + expected.map(([name], i) => `${path.join(aligned, name!)},${['surprise', 'fear', 'disgust', 'happiness', 'sadness', 'anger'][i]}`).join('\n') + '\n')
    const out = path.join(work, 'run-manifest')
    const r = poster(['eval', manifest, '--model', model, '--labels', 'rafdb', '--out', out, '--no-pictures', '--json'])
    expect(r.error, 'eval did not finish within 60 s').toBeUndefined()
    expect(r.status, r.stderr).toBe(0)
    const rows = (await readPredictions(path.join(out, 'predictions.csv'))).rows.map((x) => [path.basename(x.path!), x.status, x.error])
    expect(rows).toEqual(expected)
  })

  it('a label file that is itself a FIFO is refused at once, not waited on', () => {
    const root = path.join(work, 'raf-fifo-labels')
    mkdirSync(path.join(root, 'EmoLabel'), {recursive: true})
    mkdirSync(path.join(root, 'Image', 'aligned'), {recursive: true})
    const manifest = path.join(work, 'pipe.csv')
    expect(spawnSync('mkfifo', [manifest]).status).toBe(0)
    const r = poster(['eval', manifest, '--format', 'csv', '--model', model, '--labels', 'rafdb', '--out', path.join(work, 'run-fifo')])
    expect(r.error, 'eval did not finish within 60 s').toBeUndefined()
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('not a regular file (a FIFO)')
  })

  it('a checkpoint or model that is a FIFO: convert, predict and eval refuse it at once, not waited on', () => {
    const pipe = path.join(work, 'weights.pth')
    expect(spawnSync('mkfifo', [pipe]).status).toBe(0)
    const convert = poster(['convert', pipe, '--out', path.join(work, 'fifo.onnx')], {timeout: 30_000})
    expect(convert.error, 'convert did not finish within 30 s').toBeUndefined()
    expect(convert.status).toBe(1)
    expect(convert.stderr).toContain('not a checkpoint file: it is a FIFO')
    const predict = poster(['predict', path.join(aligned), '--model', pipe, '--out', path.join(work, 'fifo.csv')], {timeout: 30_000})
    expect(predict.error, 'predict did not finish within 30 s').toBeUndefined()
    expect(predict.status).toBe(1)
    expect(predict.stderr).toContain('is not a regular file (a FIFO)')
  })
})

describe('outputs that are not regular files or creatable paths (item 7)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'poster-hostile-out-'))
  const images = path.join(work, 'images')
  let model: string
  let shard: string
  /**
   * /dev/full's twin in the work folder where mknod is allowed (root), else /dev/full itself: a build that still
   * had the bug would replace the device it is given by a file, and must not do that to the machine's.
   */
  let full = '/dev/full'

  beforeAll(async () => {
    const twin = path.join(work, 'full')
    if (spawnSync('mknod', [twin, 'c', '1', '7']).status === 0) full = twin
    expect(statSync(full).isCharacterDevice(), `${full} must be the full device`).toBe(true)
    model = await writeTinyModel(path.join(work, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    mkdirSync(images)
    writeFileSync(path.join(images, 'a.bmp'), bmpBytes(8, 8))
    writeFileSync(path.join(work, 'list.csv'), `path,label\n${path.join(images, 'a.bmp')},happiness\n`)
    shard = path.join(work, 'part.csv')
    const r = poster(['predict', images, '--model', model, '--out', shard])
    expect(r.status, r.stderr).toBe(0)
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  /** Each refused within seconds (before: a mkdir loop at 100% CPU forever, or /dev/full read until the OOM killer). */
  const cases: Array<[string, () => string[], string]> = [
    ['eval --out under /proc', () => ['eval', path.join(work, 'list.csv'), '--labels', 'rafdb', '--model', model, '--out', '/proc/poster-run'], 'is on procfs (/proc)'],
    ['predict --out under /proc', () => ['predict', images, '--model', model, '--out', '/proc/poster/x.csv'], '--out /proc/poster/x.csv is on procfs (/proc)'],
    ['predict --out /dev/full --resume', () => ['predict', images, '--model', model, '--out', full, '--resume'], 'is a character device, not a regular file'],
    ['predict --overlay under /proc', () => ['predict', images, '--model', model, '--out', path.join(work, 'o.csv'), '--overlay', '/proc/poster-overlays'], '--overlay /proc/poster-overlays is on procfs (/proc)'],
    ['merge --out under /proc', () => ['merge', shard, '--out', '/proc/poster/merged.csv'], 'is on procfs (/proc)'],
    ['merge --out /dev/full --force', () => ['merge', shard, '--out', full, '--force'], 'is a character device, not a regular file'],
    ['convert --out under /proc', () => ['convert', path.join(work, 'missing.pth'), '--out', '/proc/poster/model.onnx'], 'is on procfs (/proc)'],
  ]
  for (const [name, args, message] of cases) {
    it(`${name}: exit 1 within seconds, saying why`, () => {
      const r = poster(args(), {timeout: 30_000})
      expect(r.error, `${name} did not finish within 30 s`).toBeUndefined()
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr).toContain(message)
      if (name.includes('/dev/full')) expect(r.stderr).toContain(`--out ${full} is a character device`)
    })
  }

  it('the refused runs left nothing beside the output (no lock, no identity record)', () => {
    expect(statSync(full).isCharacterDevice()).toBe(true)
    expect(existsSync(`${full}.lock`)).toBe(false)
    expect(existsSync(`${full}.run.json`)).toBe(false)
    expect(existsSync(path.join(work, 'o.csv'))).toBe(false)
  })
})
