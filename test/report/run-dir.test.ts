import {mkdtemp, mkdir, readFile, readdir, rm, writeFile, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {writeFileAtomic, writeFileAtomicSync} from '../../src/basics.js'
import {createRunDir, defaultRunDir, runTimestamp, safeRunName} from '../../src/report/run-dir.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-run-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('writeFileAtomic', () => {
  it('creates, then replaces content, leaving no temporary files', async () => {
    const f = join(dir, 'metrics.json')
    await writeFileAtomic(f, '{"a":1}')
    expect(await readFile(f, 'utf8')).toBe('{"a":1}')
    await writeFileAtomic(f, new TextEncoder().encode('ünïcode ✓'))
    expect(await readFile(f, 'utf8')).toBe('ünïcode ✓')
    await writeFileAtomic(f, '')
    expect(await readFile(f, 'utf8')).toBe('')
    expect(await readdir(dir)).toEqual(['metrics.json'])
  })

  it('many concurrent writers: the file holds one complete version, no temp files remain', async () => {
    const f = join(dir, 'report.md')
    const versions = Array.from({length: 25}, (_, i) => `version ${i}\n`.repeat(2000))
    await Promise.all(versions.map((v) => writeFileAtomic(f, v)))
    expect(versions).toContain(await readFile(f, 'utf8'))
    expect(await readdir(dir)).toEqual(['report.md'])
  })

  it('on failure leaves the old content and no temp file', async () => {
    const f = join(dir, 'target')
    await mkdir(f) // renaming a file over a folder fails
    await expect(writeFileAtomic(f, 'x')).rejects.toThrow()
    expect(await readdir(dir)).toEqual(['target'])
    expect((await stat(f)).isDirectory()).toBe(true)
    await expect(writeFileAtomic(join(dir, 'missing', 'x'), 'x')).rejects.toThrow()
  })

  it('sync variant behaves the same', async () => {
    const f = join(dir, 'a.txt')
    writeFileAtomicSync(f, 'one')
    writeFileAtomicSync(f, 'two')
    expect(await readFile(f, 'utf8')).toBe('two')
    expect(await readdir(dir)).toEqual(['a.txt'])
  })
})

describe('createRunDir', () => {
  const now = new Date(2024, 0, 2, 3, 4, 5)

  it('names: runs/<dataset>-<YYYYMMDD-HHMMSS>, dataset made safe', () => {
    expect(runTimestamp(now)).toBe('20240102-030405')
    expect(defaultRunDir('rafdb', now)).toBe(join('runs', 'rafdb-20240102-030405'))
    expect(safeRunName('/data/RAF DB/basic/')).toBe('basic')
    expect(safeRunName('Aff ect:Net 8')).toBe('Aff-ect-Net-8')
    expect(safeRunName('../..')).toBe('run')
  })

  it('default folder is created; the same second gets a suffix, never reused', async () => {
    const runsRoot = join(dir, 'runs')
    const a = await createRunDir(undefined, 'rafdb', {now, runsRoot})
    expect(a).toEqual({dir: join(runsRoot, 'rafdb-20240102-030405'), resumed: false})
    expect((await stat(a.dir)).isDirectory()).toBe(true)
    const b = await createRunDir(undefined, 'rafdb', {now, runsRoot})
    expect(b.dir).toBe(join(runsRoot, 'rafdb-20240102-030405-2'))
    const [c, d] = await Promise.all([
      createRunDir(undefined, 'rafdb', {now, runsRoot}),
      createRunDir(undefined, 'rafdb', {now, runsRoot}),
    ])
    expect(new Set([c.dir, d.dir]).size).toBe(2)
  })

  it('explicit --out: created if missing, empty is fine, non-empty refused unless resuming', async () => {
    const out = join(dir, 'a', 'b')
    expect(await createRunDir(out, 'x')).toEqual({dir: out, resumed: false})
    expect(await createRunDir(out, 'x')).toEqual({dir: out, resumed: false})
    await writeFile(join(out, 'predictions.csv'), 'path\r\n')
    await expect(createRunDir(out, 'x')).rejects.toThrow(/not empty.*--resume/)
    expect(await createRunDir(out, 'x', {resume: true})).toEqual({dir: out, resumed: true})
    await expect(createRunDir(join(out, 'predictions.csv'), 'x')).rejects.toThrow(/not a folder/)
  })

  it('resume without --out is an error', async () => {
    await expect(createRunDir(undefined, 'x', {resume: true, runsRoot: dir})).rejects.toThrow(/--resume needs --out/)
  })
})
