import {symlinkSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {discoverImages} from '../../src/datasets/folder.js'
import {selectShard} from '../../src/datasets/shard.js'
import {tmpDir, writeTree} from './helpers.js'

const ODD = ['comma,name.jpg', 'quote"d.png', "apos'.jpg", 'new\nline.jpg', 'ünï cödé 表情.webp', '[glob]*?{a,b}.jpg', 'emoji 😀.jpeg']

describe('discoverImages', () => {
  it('lists one level by default, case-insensitive extensions, sorted, hidden skipped', async () => {
    const root = tmpDir()
    writeTree(root, ['b.JPG', 'a.png', 'C.Jpeg', 'd.HEIC', 'e.bmp', 'f.jpe', 'notes.txt', '.hidden.jpg', 'sub/x.jpg', '.cache/y.jpg'])
    const r = await discoverImages([root])
    const rel = (p: string) => path.posix.join(root, p)
    expect(r.items.map((i) => i.relPath)).toEqual(['C.Jpeg', 'a.png', 'b.JPG', 'd.HEIC', 'e.bmp', 'f.jpe'].map(rel))
    expect(r.items[0]).toEqual({path: path.join(root, 'C.Jpeg'), relPath: rel('C.Jpeg'), split: 'predict'})
    expect(r.items.every((i) => i.label === undefined)).toBe(true)
    expect(r.notes.join('\n')).toMatch(/1 sub-folder not searched; pass --recursive/)
    const deep = await discoverImages([root], {recursive: true})
    expect(deep.items.map((i) => path.relative(root, i.path))).toEqual(['C.Jpeg', 'a.png', 'b.JPG', 'd.HEIC', 'e.bmp', 'f.jpe', 'sub/x.jpg'])
  })

  it('relPath keeps the input as the user wrote it', async () => {
    const root = tmpDir()
    writeTree(root, ['photos/a.jpg', 'photos/in/b.jpg'])
    const cwd = process.cwd()
    process.chdir(root)
    try {
      const r = await discoverImages(['photos/', './photos/in/b.jpg'], {recursive: true})
      expect(r.items.map((i) => i.relPath)).toEqual(['photos/a.jpg', 'photos/in/b.jpg'])
      expect(r.items[0]!.path).toBe(path.join(root, 'photos/a.jpg'))
      const dot = await discoverImages(['.'], {recursive: true})
      expect(dot.items.map((i) => i.relPath)).toEqual(['photos/a.jpg', 'photos/in/b.jpg'])
    } finally {
      process.chdir(cwd)
    }
  })

  it('keeps names with commas, quotes, newlines, glob characters and non-ASCII intact', async () => {
    const root = tmpDir()
    const dir = path.join(root, 'odd [dir] {x}*')
    writeTree(dir, ODD)
    const r = await discoverImages([dir], {recursive: true})
    const names = r.items.map((i) => path.basename(i.path))
    expect([...names].sort()).toEqual([...ODD].sort())
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
    for (const it of r.items) expect(it.relPath).toBe(path.posix.join(dir, path.basename(it.path)))
    // each odd name also works as an explicit input
    const one = await discoverImages([path.join(dir, 'new\nline.jpg')])
    expect(one.items.map((i) => path.basename(i.path))).toEqual(['new\nline.jpg'])
  })

  it('follows a symlinked folder, ends a symlink cycle, and lists a file reached twice once', async () => {
    const root = tmpDir()
    const outside = tmpDir()
    writeTree(outside, ['o1.jpg', 'deep/o2.png'])
    writeTree(root, ['in/a.jpg', 'in/sub/b.jpg'])
    symlinkSync(outside, path.join(root, 'in/linked'))
    symlinkSync(path.join(root, 'in'), path.join(root, 'in/sub/loop')) // cycle back to the top
    symlinkSync(path.join(root, 'in/a.jpg'), path.join(root, 'in/z-link.jpg')) // same file, second name
    symlinkSync(path.join(root, 'nowhere.jpg'), path.join(root, 'in/broken.jpg'))
    const r = await discoverImages([path.join(root, 'in')], {recursive: true})
    expect(r.items.map((i) => path.relative(root, i.path))).toEqual(['in/a.jpg', 'in/linked/deep/o2.png', 'in/linked/o1.jpg', 'in/sub/b.jpg'])
    expect(r.excluded).toEqual(
      expect.arrayContaining([
        {reason: 'broken symlink', count: 1},
        {reason: 'same file reached twice (repeated input or symlink)', count: 1},
      ]),
    )
    expect(r.notes.join('\n')).toMatch(/1 symlinked folder already listed/)
    // Non-recursive: the symlinked file is still a file
    const flat = await discoverImages([path.join(root, 'in')])
    expect(flat.items.map((i) => path.basename(i.path))).toEqual(['a.jpg'])
  })

  it('de-duplicates inputs given twice, or a file and its folder', async () => {
    const root = tmpDir()
    writeTree(root, ['a.jpg', 'b.png'])
    const r = await discoverImages([root, path.join(root, 'a.jpg'), root + '/', path.join(root, 'b.png')])
    expect(r.items.map((i) => path.basename(i.path))).toEqual(['a.jpg', 'b.png'])
    expect(r.excluded).toEqual([{reason: 'same file reached twice (repeated input or symlink)', count: 4}])
  })

  it('gives the same order and shards whatever the argument order', async () => {
    const a = tmpDir()
    writeTree(a, Array.from({length: 40}, (_, i) => `img${i}.jpg`))
    const r1 = await discoverImages([path.join(a, 'img3.jpg'), a])
    const r2 = await discoverImages([a, path.join(a, 'img3.jpg')])
    expect(r1.items).toEqual(r2.items)
    const s = [0, 1, 2].map((index) => selectShard(r1.items, {index, count: 3, source: 't'}).map((i) => i.relPath))
    expect(s.flat().sort()).toEqual(r1.items.map((i) => i.relPath).sort())
  })

  it('errors on an empty input set, missing inputs, and folders without images', async () => {
    await expect(discoverImages([])).rejects.toThrow(/no inputs/)
    const root = tmpDir()
    await expect(discoverImages([path.join(root, 'missing')])).rejects.toThrow(/no such file or folder/)
    writeTree(root, ['readme.txt', 'sub/a.jpg'])
    await expect(discoverImages([root])).rejects.toThrow(/no images found .*1 sub-folder not searched/)
    await expect(discoverImages([path.join(root, 'readme.txt')])).rejects.toThrow(/no images found.*not an image extension/)
    const ok = await discoverImages([path.join(root, 'readme.txt'), path.join(root, 'sub/a.jpg')])
    expect(ok.items).toHaveLength(1)
    expect(ok.excluded[0]!.reason).toMatch(/not an image extension/)
  })
})
