import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {loadAffectnet} from '../../src/datasets/affectnet.js'
import {AFFECTNET7, AFFECTNET8} from '../../src/datasets/labels.js'
import {int64s, npyBytes, tmpDir, utf32, writeTree} from './helpers.js'

const HEADER = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
const LM = '"1.1;2.2;3.3;4.4"'

function row(file: string, expr: number | string): string {
  return `${file},10,10,100,100,${LM},${expr},0.5,-0.2`
}

function csvDataset(root: string, opts: {header?: boolean; lists?: string; images?: string} = {}): void {
  const lists = opts.lists ?? ''
  const images = opts.images ?? 'Manually_Annotated_Images'
  const val = [row('1/a.jpg', 0), row('1/b.jpg', 7), row('2/c.jpg', 8), row('2/d.jpg', 3), row('3/e.jpg', 10), row('3/f.jpg', 9), row('3/g.jpg', 6)]
  const train = [row('9/t1.jpg', 1), row('9/t2.jpg', 2)]
  writeTree(root, {
    [path.join(lists, 'validation.csv')]: [...(opts.header === false ? [] : [HEADER]), ...val, ''].join('\n'),
    [path.join(lists, 'training.csv')]: [HEADER, ...train].join('\r\n'),
    ...Object.fromEntries(['1/a.jpg', '1/b.jpg', '2/c.jpg', '2/d.jpg', '3/e.jpg', '3/f.jpg', '9/t1.jpg', '9/t2.jpg'].map((f) => [path.join(images, f), 'x'])),
  })
}

describe('loadAffectnet (csv release)', () => {
  it('reads validation.csv with the 7-class protocol by default, counting exclusions', async () => {
    const root = tmpDir()
    csvDataset(root)
    const ds = await loadAffectnet(root, {split: 'val'})
    expect(ds.format).toBe('affectnet')
    expect(ds.variant).toBe('csv')
    expect(ds.benchmark).toBe('affectnet7')
    expect(ds.labels).toEqual(AFFECTNET7.names)
    expect(ds.split).toBe('validation')
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['Manually_Annotated_Images/1/a.jpg', 0],
      ['Manually_Annotated_Images/2/d.jpg', 3],
      ['Manually_Annotated_Images/3/g.jpg', 6],
    ])
    expect(ds.items[0]!.path).toBe(path.join(root, 'Manually_Annotated_Images/1/a.jpg'))
    expect(ds.excluded).toEqual(
      expect.arrayContaining([
        {reason: 'expression 7 (Contempt) excluded in 7-class protocol', count: 1},
        {reason: 'expression 8 (None): not an emotion', count: 1},
        {reason: 'expression 9 (Uncertain): not an emotion', count: 1},
        {reason: 'expression 10 (Non-Face): not an emotion', count: 1},
      ]),
    )
    expect(ds.excluded).toHaveLength(4)
    const notes = ds.notes.join('\n')
    expect(notes).toMatch(/7-class protocol .* by default/)
    expect(notes).toMatch(/3500/)
    // one image of the validation list is missing (3/g.jpg): kept and counted
    expect(notes).toMatch(/1 listed image not found \(first: Manually_Annotated_Images\/3\/g\.jpg\)/)
  })

  it("carries each row's face box (face_x, face_y, face_width, face_height); a bad box is the item's error, not the loader's", async () => {
    const root = tmpDir()
    writeTree(root, {
      'validation.csv': [
        HEADER,
        `1/a.jpg,12,34,156,178,${LM},0,0,0`,
        `1/b.jpg,-5,0,0,20,${LM},1,0,0`,
        `1/c.jpg,,,,,${LM},2,0,0`,
        `1/d.jpg,3,x,5,6,${LM},3,0,0`,
        '',
      ].join('\n'),
      ...Object.fromEntries(['a', 'b', 'c', 'd'].map((n) => [`Manually_Annotated_Images/1/${n}.jpg`, 'x'])),
    })
    const ds = await loadAffectnet(root, {split: 'val'})
    expect(ds.hasBoxes).toBe(true)
    expect(ds.items.map((i) => [i.relPath.split('/').pop(), i.box, i.boxError])).toEqual([
      ['a.jpg', {x: 12, y: 34, w: 156, h: 178}, undefined],
      ['b.jpg', {x: -5, y: 0, w: 0, h: 20}, undefined], // kept as given: the face stage says it is zero-size
      ['c.jpg', undefined, undefined],
      ['d.jpg', undefined, 'face box "3,x,5,6" is not four numbers (x, y, width, height)'],
    ])
  })

  it('keeps Contempt with classes 8; test reads validation with a note; train reads training.csv', async () => {
    const root = tmpDir()
    csvDataset(root)
    const ds = await loadAffectnet(root, {split: 'test', classes: 8})
    expect(ds.labels).toEqual(AFFECTNET8.names)
    expect(ds.benchmark).toBe('affectnet8')
    expect(ds.items.map((i) => i.label)).toEqual([0, 7, 3, 6])
    expect(ds.excluded.map((e) => e.reason)).not.toContain('expression 7 (Contempt) excluded in 7-class protocol')
    expect(ds.notes.join('\n')).toMatch(/test set is not public/)
    const train = await loadAffectnet(root, {split: 'train', classes: 7})
    expect(train.split).toBe('train')
    expect(train.items.map((i) => [path.basename(i.path), i.label])).toEqual([['t1.jpg', 1], ['t2.jpg', 2]])
    await expect(loadAffectnet(root, {classes: 6})).rejects.toThrow(/7 or 8/)
    await expect(loadAffectnet(root, {split: 'holdout'})).rejects.toThrow(/splits train and validation/)
  })

  it('finds file lists in Manually_Annotated_file_lists/ and images in Manually_Annotated/Manually_Annotated_Images/', async () => {
    const root = tmpDir()
    csvDataset(root, {lists: 'Manually_Annotated_file_lists', images: 'Manually_Annotated/Manually_Annotated_Images'})
    const ds = await loadAffectnet(root)
    expect(ds.items[0]!.relPath).toBe('Manually_Annotated/Manually_Annotated_Images/1/a.jpg')
    expect(ds.split).toBe('validation')
  })

  it('reads a validation.csv without its header row by position', async () => {
    const root = tmpDir()
    csvDataset(root, {header: false})
    const ds = await loadAffectnet(root)
    expect(ds.items.map((i) => i.label)).toEqual([0, 3, 6])
    expect(ds.notes.join('\n')).toMatch(/no header row/)
  })

  it('names the line of a bad expression code', async () => {
    const root = tmpDir()
    writeTree(root, {'validation.csv': [HEADER, row('1/a.jpg', 0), row('1/b.jpg', 11)].join('\n'), 'Manually_Annotated_Images/1/a.jpg': 'x'})
    await expect(loadAffectnet(root)).rejects.toThrow(/validation\.csv line 3: expression "11"/)
    const noImages = tmpDir()
    writeTree(noImages, {'validation.csv': [HEADER, row('1/a.jpg', 0)].join('\n')})
    await expect(loadAffectnet(noImages)).rejects.toThrow(/AffectNet images not found: neither .*Manually_Annotated_Images nor/)
  })
})

describe('loadAffectnet (images/ + annotations/*_exp.npy release)', () => {
  function npyDataset(root: string): void {
    const exp = (c: string) => npyBytes('<U1', [], utf32(c, 1))
    writeTree(root, {
      'val_set/images/2.jpg': 'x',
      'val_set/images/10.jpg': 'x',
      'val_set/images/1.jpg': 'x',
      'val_set/images/3.jpg': 'x',
      'val_set/images/4.jpg': 'x',
      'val_set/annotations/10_exp.npy': exp('6'),
      'val_set/annotations/2_exp.npy': exp('7'),
      'val_set/annotations/1_exp.npy': exp('3'),
      'val_set/annotations/3_exp.npy': npyBytes('<i8', [], int64s([0n])),
      'val_set/annotations/5_exp.npy': exp('1'),
      'val_set/annotations/1_val.npy': 'ignored',
      'train_set/images/0.jpg': 'x',
      'train_set/annotations/0_exp.npy': exp('5'),
    })
  }

  it('reads val_set in numeric order, with string and integer codes', async () => {
    const root = tmpDir()
    npyDataset(root)
    const ds = await loadAffectnet(root, {split: 'validation', classes: 7})
    expect(ds.variant).toBe('npy')
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['val_set/images/1.jpg', 3],
      ['val_set/images/3.jpg', 0],
      ['val_set/images/5.jpg', 1],
      ['val_set/images/10.jpg', 6],
    ])
    expect(ds.excluded).toEqual([{reason: 'expression 7 (Contempt) excluded in 7-class protocol', count: 1}])
    const notes = ds.notes.join('\n')
    expect(notes).toMatch(/1 annotated image not found .*5\.jpg/)
    expect(notes).toMatch(/1 image .* without an _exp\.npy left out/)
    const eight = await loadAffectnet(root, {classes: 8})
    expect(eight.items.map((i) => i.label)).toEqual([3, 7, 0, 1, 6])
    const train = await loadAffectnet(root, {split: 'train'})
    expect(train.items.map((i) => [i.relPath, i.label])).toEqual([['train_set/images/0.jpg', 5]])
  })

  it('accepts the root pointing at one split folder', async () => {
    const root = tmpDir()
    npyDataset(root)
    const ds = await loadAffectnet(path.join(root, 'val_set'), {classes: 8})
    expect(ds.items.map((i) => i.relPath)).toEqual(['images/1.jpg', 'images/2.jpg', 'images/3.jpg', 'images/5.jpg', 'images/10.jpg'])
  })

  it('errors clearly when nothing AffectNet-like is there', async () => {
    const root = tmpDir()
    writeTree(root, ['foo/bar.jpg'])
    await expect(loadAffectnet(root)).rejects.toThrow(/training\.csv \/ validation\.csv.*train_set\/annotations/)
  })
})
