import {symlinkSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {interpretClassFolders, loadImageFolder} from '../../src/datasets/image-folder.js'
import {AFFECTNET7, AFFECTNET8, RAFDB} from '../../src/datasets/labels.js'
import {tmpDir, writeTree} from './helpers.js'

describe('interpretClassFolders', () => {
  it('reads numbered folders as RAF-DB or AffectNet codes', () => {
    expect(interpretClassFolders(['1', '2', '3', '4', '5', '6', '7'])).toMatchObject({labels: RAFDB.names, numbering: 'rafdb'})
    expect(interpretClassFolders(['0', '1', '2', '3', '4', '5', '6'])).toMatchObject({labels: AFFECTNET7.names, numbering: 'affectnet7'})
    expect(interpretClassFolders(['0', '1', '2', '3', '4', '5', '6', '7'])).toMatchObject({labels: AFFECTNET8.names, numbering: 'affectnet8'})
    // a folder missing: names still follow the codes
    // 1, 3, 7 could be RAF-DB's or AffectNet's codes (Surprise, Disgust, Neutral or Happy, Surprise, Contempt).
    expect(() => interpretClassFolders(['1', '3', '7'])).toThrow(/the class folders are numbers \(1, 3, 7\) that can be read two ways: as RAF-DB codes .* or as AffectNet-8 codes/)
    expect(interpretClassFolders(['1', '3', '7'], 8).labels).toEqual(['Happy', 'Surprise', 'Contempt'])
    expect(interpretClassFolders(['0', '1', '2', '3', '4', '5', '6'], 8).numbering).toBe('affectnet8')
  })

  it('keeps emotion words and other names verbatim, says which', () => {
    const e = interpretClassFolders(['ANGRY', 'happy', 'Neutral'])
    expect(e.labels).toEqual(['ANGRY', 'happy', 'Neutral'])
    expect(e.note).toMatch(/emotion names.*ANGRY=anger/)
    const o = interpretClassFolders(['cat', 'dog'])
    expect(o.labels).toEqual(['cat', 'dog'])
    expect(o.note).toMatch(/not RAF-DB\/AffectNet codes or emotion names/)
    expect(() => interpretClassFolders(['happy', 'happiness'])).toThrow(/both mean happy/)
  })
})

describe('loadImageFolder', () => {
  it('reads <root>/test/<class>/<image> in torchvision order with sorted class indices', async () => {
    const root = tmpDir()
    writeTree(root, [
      'test/7/b.jpg', 'test/7/a.PNG', 'test/1/z.jpeg', 'test/1/sub/y.jpg', 'test/1/sub-x/w.jpg', 'test/1/notes.txt',
      'test/1/.hidden.jpg', 'test/4/c.webp', 'test/4/d.TIFF', 'train/1/t.jpg', 'test/4/e.gif',
    ])
    // Folders 1, 4, 7 alone could be AffectNet-8's codes too: --classes 7 says RAF-DB.
    await expect(loadImageFolder(root, {split: 'test'})).rejects.toThrow(/can be read two ways.*--classes 7 for RAF-DB/)
    const ds = await loadImageFolder(root, {split: 'test', classes: 7})
    expect(ds.format).toBe('imagefolder')
    expect(ds.split).toBe('test')
    expect(ds.labels).toEqual(['Surprise', 'Happiness', 'Neutral'])
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['test/1/z.jpeg', 0],
      // torchvision: sorted(os.walk()) compares folder paths, and 'sub' < 'sub-x' (a plain path sort would put
      // 'sub-x/w.jpg' first, since '-' < '/'); files directly in the class folder come first.
      ['test/1/sub/y.jpg', 0],
      ['test/1/sub-x/w.jpg', 0],
      ['test/4/c.webp', 1],
      ['test/4/d.TIFF', 1],
      ['test/7/a.PNG', 2],
      ['test/7/b.jpg', 2],
    ])
    expect(ds.items[0]!.path).toBe(path.join(root, 'test/1/z.jpeg'))
    expect(ds.items.every((i) => i.split === 'test')).toBe(true)
    expect(ds.notes.join('\n')).toMatch(/RAF-DB codes/)
    expect(ds.benchmark).toBeUndefined()
    expect(ds.notes.join('\n')).toMatch(/not treated as the paper's benchmark/)
  })

  it('sorts class names like Python (plain string order), emotion words kept', async () => {
    const root = tmpDir()
    writeTree(root, ['val/surprise/1.jpg', 'val/Anger/1.jpg', 'val/happy/1.jpg', 'val/Fear/1.jpg'])
    const ds = await loadImageFolder(root, {split: 'val'})
    expect(ds.labels).toEqual(['Anger', 'Fear', 'happy', 'surprise'])
    expect(ds.items.map((i) => i.label)).toEqual([0, 1, 2, 3])
    expect(ds.split).toBe('val')
  })

  it('resolves valid/val aliases and falls back between held-out folders', async () => {
    const root = tmpDir()
    writeTree(root, ['train/0/a.jpg', 'valid/0/b.jpg', 'valid/1/c.jpg'])
    const v = await loadImageFolder(root, {split: 'val'})
    expect(v.split).toBe('valid')
    expect(v.items.map((i) => i.relPath)).toEqual(['valid/0/b.jpg', 'valid/1/c.jpg'])
    const t = await loadImageFolder(root, {split: 'test'})
    expect(t.split).toBe('valid')
    expect(t.notes.join('\n')).toMatch(/no test\/ folder; read the held-out folder valid\//)
    expect((await loadImageFolder(root, {split: 'train'})).items.map((i) => i.relPath)).toEqual(['train/0/a.jpg'])
    await expect(loadImageFolder(root, {split: 'extra'})).rejects.toThrow(/train\/, valid\//)
  })

  it('accepts the root pointing at the split folder', async () => {
    const parent = tmpDir()
    writeTree(parent, ['test/0/a.jpg', 'test/6/b.jpg', 'test/loose.jpg'])
    const ds = await loadImageFolder(path.join(parent, 'test'))
    expect(ds.split).toBe('test')
    expect(ds.labels).toEqual(['Neutral', 'Anger'])
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([['0/a.jpg', 0], ['6/b.jpg', 1]])
    expect(ds.notes.join('\n')).toMatch(/1 image directly in .* ignored/)
  })

  it('marks the benchmark only when the image count matches the official set', async () => {
    const root = tmpDir()
    const files: string[] = []
    for (let c = 0; c < 7; c++) for (let i = 0; i < 500; i++) files.push(`val/${c}/${i}.jpg`)
    writeTree(root, files)
    const ds = await loadImageFolder(root, {split: 'val'})
    expect(ds.items).toHaveLength(3500)
    expect(ds.benchmark).toBe('affectnet7')
  })

  it('checks --classes and survives a symlink cycle inside a class folder', async () => {
    const root = tmpDir()
    writeTree(root, ['test/a/1.jpg', 'test/b/2.jpg'])
    symlinkSync(path.join(root, 'test'), path.join(root, 'test/a/loop'))
    const ds = await loadImageFolder(root)
    expect(ds.items.map((i) => i.relPath)).toEqual(['test/a/1.jpg', 'test/b/2.jpg'])
    expect(ds.notes.join('\n')).toMatch(/1 symlinked folder not followed/)
    await expect(loadImageFolder(root, {classes: 7})).rejects.toThrow(/--classes 7 does not match.*2 classes/)
  })

  it('errors on a folder without class folders', async () => {
    const root = tmpDir()
    writeTree(root, ['test/a.jpg'])
    await expect(loadImageFolder(root)).rejects.toThrow(/no class folders/)
  })
})
