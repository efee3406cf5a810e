import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {RAFDB} from '../../src/datasets/labels.js'
import {loadRafdb} from '../../src/datasets/rafdb.js'
import {tmpDir, writeTree} from './helpers.js'

const LIST = ['train_00001.jpg 5', 'train_00002.jpg 1', 'test_0001.jpg 7', 'test_0002.jpg 4', 'test_0003.jpg 1', ''].join('\n')

function rafdb(root: string, opts: {aligned?: boolean; original?: boolean; list?: string; skip?: string[]} = {}): void {
  const names = ['train_00001', 'train_00002', 'test_0001', 'test_0002', 'test_0003'].filter((n) => !opts.skip?.includes(n))
  const files: Record<string, string> = {'EmoLabel/list_patition_label.txt': opts.list ?? LIST}
  if (opts.aligned ?? true) for (const n of names) files[`Image/aligned/${n}_aligned.jpg`] = 'x'
  if (opts.original) for (const n of names) files[`Image/original/${n}.jpg`] = 'x'
  writeTree(root, files)
}

describe('loadRafdb', () => {
  it('reads the test split of aligned images, labels as code - 1', async () => {
    const root = tmpDir()
    rafdb(root, {original: true})
    const ds = await loadRafdb(root, {split: 'test'})
    expect(ds.format).toBe('rafdb')
    expect(ds.variant).toBe('aligned')
    expect(ds.benchmark).toBe('rafdb')
    expect(ds.labels).toEqual(RAFDB.names)
    expect(ds.split).toBe('test')
    expect(ds.items).toEqual([
      {path: path.join(root, 'Image/aligned/test_0001_aligned.jpg'), relPath: 'Image/aligned/test_0001_aligned.jpg', label: 6, split: 'test'},
      {path: path.join(root, 'Image/aligned/test_0002_aligned.jpg'), relPath: 'Image/aligned/test_0002_aligned.jpg', label: 3, split: 'test'},
      {path: path.join(root, 'Image/aligned/test_0003_aligned.jpg'), relPath: 'Image/aligned/test_0003_aligned.jpg', label: 0, split: 'test'},
    ])
    expect(ds.labels[ds.items[0]!.label!]).toBe('Neutral')
    expect(ds.notes.join('\n')).toMatch(/official release has 3068/)
  })

  it('defaults to test, reads train, and maps val to test with a note', async () => {
    const root = tmpDir()
    rafdb(root)
    expect((await loadRafdb(root)).items.map((i) => i.relPath)).toHaveLength(3)
    const train = await loadRafdb(root, {split: 'train'})
    expect(train.items.map((i) => [path.basename(i.path), i.label])).toEqual([
      ['train_00001_aligned.jpg', 4],
      ['train_00002_aligned.jpg', 0],
    ])
    const val = await loadRafdb(root, {split: 'val'})
    expect(val.split).toBe('test')
    expect(val.notes.join('\n')).toMatch(/no validation split/)
    await expect(loadRafdb(root, {split: 'dev'})).rejects.toThrow(/train and test/)
  })

  it('falls back to original images and notes it', async () => {
    const root = tmpDir()
    rafdb(root, {aligned: false, original: true})
    const ds = await loadRafdb(root)
    expect(ds.variant).toBe('original')
    expect(ds.items[0]!.relPath).toBe('Image/original/test_0001.jpg')
    expect(ds.notes.join('\n')).toMatch(/original images/)
  })

  it('accepts the parent of basic/', async () => {
    const parent = tmpDir()
    rafdb(path.join(parent, 'basic'))
    const ds = await loadRafdb(parent)
    expect(ds.root).toBe(path.join(parent, 'basic'))
    expect(ds.items[0]!.path).toBe(path.join(parent, 'basic/Image/aligned/test_0001_aligned.jpg'))
    expect(ds.items[0]!.relPath).toBe('Image/aligned/test_0001_aligned.jpg')
  })

  it('keeps missing images in the list and counts them', async () => {
    const root = tmpDir()
    rafdb(root, {skip: ['test_0002']})
    const ds = await loadRafdb(root)
    expect(ds.items).toHaveLength(3)
    expect(ds.notes.join('\n')).toMatch(/1 listed image not found .*test_0002_aligned\.jpg/)
  })

  it('errors: missing label file names the paths; bad labels name the line', async () => {
    const root = tmpDir()
    writeTree(root, ['Image/aligned/test_0001_aligned.jpg'])
    await expect(loadRafdb(root)).rejects.toThrow(/EmoLabel\/list_patition_label\.txt.*basic\/EmoLabel\/list_patition_label\.txt/)
    const bad = tmpDir()
    rafdb(bad, {list: 'test_0001.jpg 7\r\ntest_0002.jpg 8\n'})
    await expect(loadRafdb(bad)).rejects.toThrow(/line 2: label "8" for test_0002\.jpg is outside 1\.\.7/)
    const zero = tmpDir()
    rafdb(zero, {list: 'test_0001.jpg 0\n'})
    await expect(loadRafdb(zero)).rejects.toThrow(/line 1/)
    const noImages = tmpDir()
    writeTree(noImages, {'EmoLabel/list_patition_label.txt': LIST})
    await expect(loadRafdb(noImages)).rejects.toThrow(/Image\/aligned.*Image\/original/)
    const ok = tmpDir()
    rafdb(ok)
    await expect(loadRafdb(ok, {classes: 8})).rejects.toThrow(/7 classes/)
  })

  it('applies limit in dataset order', async () => {
    const root = tmpDir()
    rafdb(root)
    const ds = await loadRafdb(root, {limit: 2})
    expect(ds.items.map((i) => path.basename(i.path))).toEqual(['test_0001_aligned.jpg', 'test_0002_aligned.jpg'])
    expect(ds.notes.join('\n')).toMatch(/--limit 2: kept the first 2 of 3/)
  })
})
