import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {detectFormat} from '../../src/datasets/detect.js'
import {loadDataset} from '../../src/datasets/index.js'
import {npyBytes, tmpDir, utf32, writeTree} from './helpers.js'

function layouts(): Record<string, string> {
  const base = tmpDir()
  writeTree(base, {
    'raf/basic/EmoLabel/list_patition_label.txt': 'train_00001.jpg 1\ntest_0001.jpg 4\ntest_0002.jpg 7\n',
    'raf/basic/Image/aligned/test_0001_aligned.jpg': 'x',
    'raf/basic/Image/aligned/test_0002_aligned.jpg': 'x',
    'affcsv/Manually_Annotated_file_lists/validation.csv': 'subDirectory_filePath,expression\n1/a.jpg,3\n1/b.jpg,9\n',
    'affcsv/Manually_Annotated_Images/1/a.jpg': 'x',
    'affnpy/val_set/images/0.jpg': 'x',
    'affnpy/val_set/annotations/0_exp.npy': npyBytes('<U1', [], utf32('2', 1)),
    'imf/train/happy/a.jpg': 'x',
    'imf/test/happy/b.png': 'x',
    'imf/test/sad/c.png': 'x',
    'classes/0/x.jpg': 'x',
    'classes/1/deeper/y.jpg': 'x',
    'list.csv': 'path,label\nimf/test/happy/b.png,happy\n',
    'unknown/readme.md': 'hi',
    'unknown/data.bin': 'x',
    'unknown/stuff/notes.txt': 'x',
    'notcsv.txt': 'x',
    'emptysplits/train/.keep': '',
  })
  return Object.fromEntries(
    ['raf', 'raf/basic', 'affcsv', 'affnpy', 'affnpy/val_set', 'imf', 'imf/test', 'classes', 'list.csv', 'unknown', 'notcsv.txt', 'emptysplits'].map(
      (k) => [k, path.join(base, k)],
    ),
  )
}

describe('detectFormat', () => {
  it('recognises each layout and says what it found', async () => {
    const p = layouts()
    expect(await detectFormat(p['raf']!)).toMatchObject({format: 'rafdb', root: p['raf']})
    expect((await detectFormat(p['raf']!)).notes.join()).toMatch(/basic\/EmoLabel\/list_patition_label\.txt/)
    expect(await detectFormat(p['raf/basic']!)).toMatchObject({format: 'rafdb'})
    expect(await detectFormat(p['affcsv']!)).toMatchObject({format: 'affectnet', variant: 'csv'})
    expect((await detectFormat(p['affcsv']!)).notes.join()).toMatch(/Manually_Annotated_file_lists/)
    expect(await detectFormat(p['affnpy']!)).toMatchObject({format: 'affectnet', variant: 'npy'})
    expect(await detectFormat(p['affnpy/val_set']!)).toMatchObject({format: 'affectnet', variant: 'npy'})
    expect(await detectFormat(p['imf']!)).toMatchObject({format: 'imagefolder'})
    expect((await detectFormat(p['imf']!)).notes.join()).toMatch(/split folders test\/, train\//)
    expect(await detectFormat(p['imf/test']!)).toMatchObject({format: 'imagefolder'})
    expect((await detectFormat(p['classes']!)).notes.join()).toMatch(/class folders 0, 1/)
    expect(await detectFormat(p['list.csv']!)).toMatchObject({format: 'csv', root: p['list.csv']})
  })

  it('fails on an unknown layout, listing what it looked for and what it saw', async () => {
    const p = layouts()
    const err = await detectFormat(p['unknown']!).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    const msg = (err as Error).message
    expect(msg).toMatch(/cannot tell the dataset layout/)
    expect(msg).toMatch(/list_patition_label\.txt/)
    expect(msg).toMatch(/validation\.csv/)
    expect(msg).toMatch(/Found: data\.bin, readme\.md, stuff\//)
    await expect(detectFormat(p['notcsv.txt']!)).rejects.toThrow(/not a \.csv manifest/)
    await expect(detectFormat(p['emptysplits']!)).rejects.toThrow(/Found: train\//)
    await expect(detectFormat(path.join(p['unknown']!, 'missing'))).rejects.toThrow(/not found/)
    const empty = tmpDir()
    await expect(detectFormat(empty)).rejects.toThrow(/an empty folder/)
  })
})

describe('loadDataset', () => {
  it('dispatches on --format auto and notes the detection', async () => {
    const p = layouts()
    const raf = await loadDataset(p['raf']!, {split: 'test'})
    expect(raf.format).toBe('rafdb')
    expect(raf.items.map((i) => i.label)).toEqual([3, 6])
    expect(raf.notes[0]).toMatch(/^--format auto: rafdb/)

    const aff = await loadDataset(p['affcsv']!, {format: 'auto', split: 'test', classes: 7})
    expect(aff.items.map((i) => [i.relPath, i.label])).toEqual([['Manually_Annotated_Images/1/a.jpg', 3]])
    expect(aff.excluded).toEqual([{reason: 'expression 9 (Uncertain): not an emotion', count: 1}])

    const npy = await loadDataset(p['affnpy']!, {classes: 8})
    expect(npy.items.map((i) => i.label)).toEqual([2])

    const imf = await loadDataset(p['imf']!, {split: 'test'})
    expect(imf.labels).toEqual(['happy', 'sad'])
    expect(imf.items.map((i) => i.relPath)).toEqual(['test/happy/b.png', 'test/sad/c.png'])

    const csv = await loadDataset(p['list.csv']!, {labels: 'Sad,Happy'})
    expect(csv.labels).toEqual(['Sad', 'Happy'])
    expect(csv.items.map((i) => i.label)).toEqual([1])
    // labels are for manifests; other layouts ignore them
    expect((await loadDataset(p['imf']!, {labels: 'rafdb'})).labels).toEqual(['happy', 'sad'])
  })

  it('honours an explicit format and limit, and validates them', async () => {
    const p = layouts()
    const imf = await loadDataset(p['imf']!, {format: 'imagefolder', split: 'test', limit: 1})
    expect(imf.items.map((i) => i.relPath)).toEqual(['test/happy/b.png'])
    expect(imf.notes.join('\n')).toMatch(/--limit 1: kept the first 1 of 2/)
    expect(imf.notes.join('\n')).not.toMatch(/--format auto/)
    await expect(loadDataset(p['imf']!, {format: 'rafdb'})).rejects.toThrow(/RAF-DB label file not found/)
    await expect(loadDataset(p['imf']!, {limit: 0})).rejects.toThrow(/--limit must be a positive integer/)
    await expect(loadDataset(p['imf']!, {format: 'zip' as never})).rejects.toThrow(/unknown --format "zip"/)
  })
})
