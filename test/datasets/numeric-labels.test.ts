/**
 * Numeric class labels are read the same way in a CSV manifest and in ImageFolder class folders (as RAF-DB's or
 * AffectNet's codes), and when both readings are possible the loader stops and names both unless told which.
 * Also: a manifest's quoted path keeps its spaces.
 */
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadImageFolder} from '../../src/datasets/image-folder.js'
import {AFFECTNET7, AFFECTNET8, RAFDB} from '../../src/datasets/labels.js'
import {loadManifest} from '../../src/datasets/manifest.js'
import {tmpDir, writeTree} from './helpers.js'

/** The same images and numeric labels as a manifest and as an ImageFolder tree. */
function bothLayouts(codes: number[], header = 'path,label'): {csv: string; folder: string} {
  const root = tmpDir()
  const files: Record<string, string> = {}
  const rows = [header]
  codes.forEach((c, i) => {
    files[`img/${i}.jpg`] = 'x'
    files[`tree/test/${c}/${i}.jpg`] = 'x'
    rows.push(`img/${i}.jpg,${c}`)
  })
  files['list.csv'] = rows.join('\n') + '\n'
  writeTree(root, files)
  return {csv: path.join(root, 'list.csv'), folder: path.join(root, 'tree')}
}

/** The class name of every image, in listing order, or the error. */
async function names(load: Promise<{labels: string[]; items: Array<{label?: number}>}>): Promise<string[] | string> {
  try {
    const ds = await load
    return ds.items.map((i) => ds.labels[i.label!]!)
  } catch (e) {
    return (e as Error).message.replace(/^.*? are numbers/, 'numbers')
  }
}

describe('numeric labels, one reading everywhere', () => {
  const cases: Array<{codes: number[]; classes?: number; expected: string[] | RegExp}> = [
    // RAF-DB's full code set: RAF-DB (the issue's case: a manifest read it as AffectNet-8 indices before).
    {codes: [1, 2, 3, 4, 5, 6, 7], expected: RAFDB.names},
    {codes: [0, 1, 2, 3, 4, 5, 6], expected: AFFECTNET7.names},
    {codes: [0, 1, 2, 3, 4, 5, 6, 7], expected: AFFECTNET8.names},
    {codes: [0, 1, 2, 3, 4, 5, 6], classes: 8, expected: AFFECTNET7.names},
    {codes: [1, 2, 3, 4, 5, 6, 7], classes: 8, expected: AFFECTNET8.names.slice(1)},
    {codes: [1, 4, 7], classes: 7, expected: ['Surprise', 'Happiness', 'Neutral']},
    {codes: [1, 4, 7], expected: /numbers \(1, 4, 7\) that can be read two ways: as RAF-DB codes .* or as AffectNet-8 codes .*--classes 7 for RAF-DB or --classes 8/},
    {codes: [2, 5], expected: /numbers \(2, 5\) that can be read two ways: as RAF-DB codes .* or as AffectNet-7 codes/},
  ]
  for (const c of cases) {
    it(`${c.codes.join(',')}${c.classes ? ` with --classes ${c.classes}` : ''}: manifest and ImageFolder agree`, async () => {
      const {csv, folder} = bothLayouts(c.codes)
      const fromCsv = await names(loadManifest(csv, {classes: c.classes}))
      const fromFolders = await names(loadImageFolder(folder, {classes: c.classes}))
      if (c.expected instanceof RegExp) {
        expect(fromCsv).toMatch(c.expected)
        expect(fromFolders).toMatch(c.expected)
      } else {
        expect(fromCsv).toEqual(c.expected)
        expect(fromFolders).toEqual(c.expected)
      }
    })
  }

  it('a header says which: label_rafdb / label_affectnet8 read the same numbers as those codes', async () => {
    const raf = bothLayouts([1, 4, 7], 'path,label_rafdb')
    expect(await names(loadManifest(raf.csv))).toEqual(['Surprise', 'Happiness', 'Neutral'])
    const aff = bothLayouts([1, 4, 7], 'path,LABEL_AFFECTNET8')
    expect(await names(loadManifest(aff.csv))).toEqual(['Happy', 'Fear', 'Contempt'])
    const ds = await loadManifest(aff.csv)
    expect(ds.labels).toEqual(AFFECTNET8.names)
    expect(ds.notes.join('\n')).toMatch(/labels from column label_affectnet8: .*numbers are AffectNet-8 codes/)
    const bad = bothLayouts([1], 'path,label_ferplus')
    await expect(loadManifest(bad.csv)).rejects.toThrow(/column "label_ferplus" names no label set poster knows \(label_rafdb, label_affectnet7, label_affectnet8, label_caers\)/)
    await expect(loadManifest(raf.csv, {labels: 'affectnet8'})).rejects.toThrow(/label_rafdb and --labels affectnet8 name different label sets/)
  })
})

describe('manifest paths', () => {
  it('a quoted path keeps leading and trailing spaces; spaces outside quotes are dropped', async () => {
    const root = tmpDir()
    writeTree(root, {
      'list.csv': 'path,label\n" lead space.jpg",happy\n"trail .jpg" , sad\n  plain.jpg  ,  fear\n',
      ' lead space.jpg': 'x',
      'trail .jpg': 'x',
      'plain.jpg': 'x',
    })
    const ds = await loadManifest(path.join(root, 'list.csv'))
    expect(ds.items.map((i) => [i.relPath, i.path, ds.labels[i.label!]])).toEqual([
      [' lead space.jpg', path.join(root, ' lead space.jpg'), 'Happiness'],
      ['trail .jpg', path.join(root, 'trail .jpg'), 'Sadness'],
      ['plain.jpg', path.join(root, 'plain.jpg'), 'Fear'],
    ])
    expect(ds.notes.join('\n')).not.toMatch(/not found/)
  })
})
