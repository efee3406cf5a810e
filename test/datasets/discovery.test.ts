/**
 * Discovery through fast-glob (the user's chosen library): it is what lists the folders; the names it cannot
 * match by itself (a newline in a folder name) are still found; files that are not regular files (FIFOs, sockets,
 * devices and links to them) are listed, marked, so that predict can give each an error row; a sub-folder that
 * cannot be read is reported and the walk goes on.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {discoverImages} from '../../src/datasets/folder.js'
import {loadImageFolder} from '../../src/datasets/image-folder.js'
import {readPredictions} from '../../src/report/predictions-csv.js'
import {bmpBytes} from '../helpers/predict-fixtures.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'
import {tmpDir, writeTree} from './helpers.js'

const globCalls = vi.hoisted(() => ({count: 0, patterns: new Set<string>()}))
vi.mock('fast-glob', async (importOriginal) => {
  const real = await importOriginal<{default: typeof import('fast-glob')}>()
  const fg = (pattern: string, options: object) => {
    globCalls.count++
    globCalls.patterns.add(pattern)
    return real.default(pattern, options)
  }
  return {default: Object.assign(fg, real.default)}
})

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

describe('fast-glob lists the folders', () => {
  it('predict discovery and the ImageFolder reader both list through fast-glob, with one- and all-level patterns', async () => {
    const root = tmpDir()
    writeTree(root, ['a.jpg', 'sub/b.png', 'test/happy/x.jpg', 'test/sad/y.jpg'])
    globCalls.count = 0
    const flat = await discoverImages([root])
    expect(flat.items.map((i) => path.basename(i.path))).toEqual(['a.jpg'])
    expect(globCalls.count).toBeGreaterThan(0)
    expect(globCalls.patterns).toContain('*')
    const before = globCalls.count
    await discoverImages([root], {recursive: true})
    expect(globCalls.patterns).toContain('**/*')
    const ds = await loadImageFolder(root)
    expect(ds.items.map((i) => i.relPath)).toEqual(['test/happy/x.jpg', 'test/sad/y.jpg'])
    expect(globCalls.count).toBeGreaterThan(before + 2)
  })

  it('a folder whose name holds a newline (which fast-glob\'s ** cannot cross) is still searched, to any depth', async () => {
    const root = tmpDir()
    writeTree(root, ['top\nfile.jpg', 'd\nir/in/f\nname.jpg', 'd\nir/in/again\nx/deep.png', 'plain/ok.jpg'])
    const r = await discoverImages([root], {recursive: true})
    expect(r.items.map((i) => path.relative(root, i.path))).toEqual(['d\nir/in/again\nx/deep.png', 'd\nir/in/f\nname.jpg', 'plain/ok.jpg', 'top\nfile.jpg'])
  })
})

describe('files that are not regular files', () => {
  let root: string
  let server: Server
  beforeAll(async () => {
    root = tmpDir()
    writeTree(root, ['real.jpg', 'sub/deeper.png'])
    spawnSync('mkfifo', [path.join(root, 'pipe.jpg')])
    spawnSync('mkfifo', [path.join(root, 'sub', 'pipe.png')])
    spawnSync('mkfifo', [path.join(root, 'pipe.txt')]) // not an image name: not listed at all
    symlinkSync('/dev/zero', path.join(root, 'zero.jpg'))
    server = createServer()
    await new Promise<void>((resolve) => server.listen(path.join(root, 'socket.png'), resolve))
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  it('are listed with what they are, never dropped, in folders (recursively) and as explicit inputs', async () => {
    const r = await discoverImages([root], {recursive: true})
    const seen = Object.fromEntries(r.items.map((i) => [path.relative(root, i.path), i.notRegular ?? 'regular']))
    expect(seen).toEqual({
      'pipe.jpg': 'a FIFO',
      'real.jpg': 'regular',
      'socket.png': 'a socket',
      'sub/deeper.png': 'regular',
      'sub/pipe.png': 'a FIFO',
      'zero.jpg': 'a character device',
    })
    const explicit = await discoverImages([path.join(root, 'pipe.jpg'), path.join(root, 'zero.jpg')])
    expect(explicit.items.map((i) => i.notRegular)).toEqual(['a FIFO', 'a character device'])
  })

  it('poster predict gives each an error row "not a regular file" within seconds, and scores the real ones', async () => {
    const images = mkdtempSync(path.join(tmpdir(), 'poster-special-'))
    writeFileSync(path.join(images, 'a.bmp'), bmpBytes(8, 8))
    spawnSync('mkfifo', [path.join(images, 'b.bmp')])
    symlinkSync('/dev/zero', path.join(images, 'c.bmp'))
    const model = await writeTinyModel(path.join(images, '..', `${path.basename(images)}-tiny.onnx`), SEVEN_CLASS_SPEC)
    const out = path.join(images, '..', `${path.basename(images)}.csv`)
    const t0 = Date.now()
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run.js'), 'predict', images, '--model', model, '--out', out], {encoding: 'utf8', timeout: 60_000})
    expect(r.status, r.stderr).toBe(0)
    expect(Date.now() - t0).toBeLessThan(60_000)
    const rows = (await readPredictions(out)).rows.map((x) => [path.basename(x.path!), x.status, x.error])
    expect(rows).toEqual([
      ['a.bmp', 'ok', ''],
      ['b.bmp', 'error', 'not a regular file (a FIFO)'],
      ['c.bmp', 'error', 'not a regular file (a character device)'],
    ])
    rmSync(images, {recursive: true, force: true})
  })
})

describe('a sub-folder that cannot be read', () => {
  // Root reads every folder whatever its mode, so as root the run is made as the unprivileged user "nobody".
  const asRoot = process.getuid?.() === 0
  const nobody = asRoot && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']).status === 0
  const canTest = process.platform !== 'win32' && (!asRoot || nobody)

  it.skipIf(!canTest)('predict --recursive reports the folder, lists everything else and goes on (needs a non-root user)', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'poster-locked-'))
    chmodSync(work, 0o777)
    const images = path.join(work, 'images')
    for (const d of ['images', 'images/open', 'images/locked', 'images/open/deeper']) mkdirSync(path.join(work, d), {mode: 0o755})
    for (const f of ['a.bmp', 'open/b.bmp', 'locked/hidden.bmp', 'open/deeper/c.bmp']) writeFileSync(path.join(images, f), bmpBytes(8, 8), {mode: 0o644})
    chmodSync(path.join(images, 'locked'), 0o000)
    const model = await writeTinyModel(path.join(work, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    const cache = path.join(work, 'cache')
    mkdirSync(cache, {mode: 0o777})
    const out = path.join(work, 'out.csv')
    const argv = [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'predict', images, '--recursive', '--model', model, '--out', out]
    const cmd = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv
    const r = spawnSync(cmd[0]!, cmd.slice(1), {encoding: 'utf8', env: {...process.env, POSTER_CACHE: cache, HOME: work}})
    chmodSync(path.join(images, 'locked'), 0o755)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/images\/locked\/: cannot read this folder \(EACCES\); its images are not listed/)
    const rows = (await readPredictions(out)).rows.map((x) => [path.relative(images, x.path!), x.status])
    expect(rows).toEqual([['a.bmp', 'ok'], ['open/b.bmp', 'ok'], ['open/deeper/c.bmp', 'ok']])
    rmSync(work, {recursive: true, force: true})
  })
})
