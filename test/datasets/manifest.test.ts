import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {AFFECTNET7, AFFECTNET8, RAFDB} from '../../src/datasets/labels.js'
import {loadManifest} from '../../src/datasets/manifest.js'
import {tmpDir, writeTree} from './helpers.js'

function manifest(rows: string[], header = 'id,path,label,notes'): {dir: string; csv: string} {
  const dir = tmpDir()
  writeTree(dir, {'list.csv': [header, ...rows, ''].join('\n'), 'img/a.jpg': 'x', 'img/b.jpg': 'x', 'img/c,"q".jpg': 'x'})
  return {dir, csv: path.join(dir, 'list.csv')}
}

describe('loadManifest', () => {
  it('optional x,y,w,h columns give each image its face box (for --faces box); all four or none', async () => {
    const {csv} = manifest(['img/a.jpg,Happy,1,2,30,40', 'img/b.jpg,Sad,,,,', '"img/c,""q"".jpg",Fear,1,2,y,4'], 'path,label,x,y,w,h')
    const ds = await loadManifest(csv)
    expect(ds.hasBoxes).toBe(true)
    expect(ds.items.map((it) => [it.relPath, it.box, it.boxError])).toEqual([
      ['img/a.jpg', {x: 1, y: 2, w: 30, h: 40}, undefined],
      ['img/b.jpg', undefined, undefined],
      ['img/c,"q".jpg', undefined, 'face box "1,2,y,4" is not four numbers (x, y, width, height)'],
    ])
    expect(ds.notes.join('\n')).toMatch(/face boxes from the manifest's x, y, w, h columns/)
    const partial = manifest(['img/a.jpg,Happy,1,2'], 'path,label,x,y')
    await expect(loadManifest(partial.csv)).rejects.toThrow(/a face box needs all of x, y, w, h columns; the header has only x, y/)
    expect((await loadManifest(manifest(['1,img/a.jpg,Happy,x']).csv)).hasBoxes).toBe(false)
  })

  it('reads emotion names into the RAF-DB label set; relative and absolute paths', async () => {
    const abs = path.join(tmpDir(), 'abs.jpg')
    writeTree(path.dirname(abs), ['abs.jpg'])
    const {dir, csv} = manifest(['1,img/a.jpg,Happy,x', '2,./img/b.jpg,angry,y', `3,${abs},NEUTRAL,`, '4,"img/c,""q"".jpg",surprised,'])
    const ds = await loadManifest(csv)
    expect(ds.format).toBe('csv')
    expect(ds.root).toBe(csv)
    expect(ds.labels).toEqual(RAFDB.names)
    expect(ds.items).toEqual([
      {path: path.join(dir, 'img/a.jpg'), relPath: 'img/a.jpg', label: 3, split: 'all'},
      {path: path.join(dir, 'img/b.jpg'), relPath: 'img/b.jpg', label: 5, split: 'all'},
      {path: abs, relPath: abs, label: 6, split: 'all'},
      {path: path.join(dir, 'img/c,"q".jpg'), relPath: 'img/c,"q".jpg', label: 0, split: 'all'},
    ])
    expect(ds.notes.join('\n')).toMatch(/emotion names; using the rafdb label set/)
    expect(ds.notes.join('\n')).not.toMatch(/not found/)
  })

  it('switches to AffectNet-8 when Contempt appears', async () => {
    const {csv} = manifest(['1,img/a.jpg,contempt,', '2,img/b.jpg,neutral,'])
    const ds = await loadManifest(csv)
    expect(ds.labels).toEqual(AFFECTNET8.names)
    expect(ds.items.map((i) => i.label)).toEqual([7, 0])
    await expect(loadManifest(csv, {classes: 7})).rejects.toThrow(/line 2: label "contempt"/)
  })

  it('reads numbers with --labels as that set\'s codes or indices, and without it as ImageFolder reads numbered folders', async () => {
    const {csv: csv2} = manifest(['img/a.jpg,0', 'img/b.jpg,6'], 'PATH,Label')
    const a = await loadManifest(csv2, {labels: 'affectnet7'})
    expect(a.labels[a.items[1]!.label!]).toBe('Anger')
    // A 0 is only ever an AffectNet code (RAF-DB numbers from 1): the same reading as folders 0..6.
    const b = await loadManifest(csv2)
    expect(b.labels).toEqual(AFFECTNET7.names)
    expect(b.items.map((i) => i.label)).toEqual([0, 6])
    expect(b.notes.join('\n')).toMatch(/labels are numbers, read as AffectNet-7 codes/)
    const c = await loadManifest(csv2, {labels: ['x', 'y', 'z', 'w', 'v', 'u', 't']})
    expect(c.labels).toHaveLength(7)
    expect(c.items.map((i) => i.label)).toEqual([0, 6])
    await expect(loadManifest(csv2, {labels: 'a,b,c'})).rejects.toThrow(/line 3: label "6" is not one of 3 classes/)
    // --labels rafdb means RAF-DB's own codes, 1..7: a 0 is outside them.
    await expect(loadManifest(csv2, {labels: 'rafdb'})).rejects.toThrow(/line 2: label "0" is not one of 7 classes/)
    const {csv: csv3} = manifest(['img/a.jpg,7'], 'path,label')
    await expect(loadManifest(csv3)).rejects.toThrow(/can be read two ways/)
    expect((await loadManifest(csv3, {classes: 8})).labels).toEqual(AFFECTNET8.names)
    const {csv: csv4} = manifest(['img/a.jpg,12'], 'path,label')
    await expect(loadManifest(csv4)).rejects.toThrow(/neither RAF-DB codes \(1\.\.7\) nor AffectNet codes \(0\.\.7\); name the label set/)
  })

  it('matches names against --labels by meaning', async () => {
    const {csv} = manifest(['img/a.jpg,joy', 'img/b.jpg,Sad', '"img/c,""q"".jpg",3'], 'path,label')
    const ds = await loadManifest(csv, {labels: 'Neutral,Happy,Sad,Surprise'})
    expect(ds.items.map((i) => i.label)).toEqual([1, 2, 3])
    await expect(loadManifest(csv, {labels: 'Neutral,Sad'})).rejects.toThrow(/line 2: label "joy" is not one of 2 classes \[Neutral, Sad\]/)
  })

  it('uses sorted distinct names when they are not all emotions', async () => {
    const {csv} = manifest(['img/a.jpg,dog', 'img/b.jpg,Cat', '"img/c,""q"".jpg",cat'], 'path,label')
    const ds = await loadManifest(csv)
    expect(ds.labels).toEqual(['Cat', 'dog'])
    expect(ds.items.map((i) => i.label)).toEqual([1, 0, 0])
  })

  it('errors with line numbers; missing files kept and counted', async () => {
    const {csv} = manifest(['img/a.jpg,happy', 'img/b.jpg,3'], 'path,label')
    await expect(loadManifest(csv)).rejects.toThrow(/line 2: label "happy" is a name but line 3 uses a number/)
    const {csv: empty} = manifest(['img/a.jpg,'], 'path,label')
    await expect(loadManifest(empty)).rejects.toThrow(/line 2: empty label/)
    const {csv: noCols} = manifest(['img/a.jpg'], 'file')
    await expect(loadManifest(noCols)).rejects.toThrow(/"path" and "label" columns/)
    const {csv: aff} = manifest([], 'subDirectory_filePath,expression')
    await expect(loadManifest(aff)).rejects.toThrow(/AffectNet file list/)
    const {csv: missing} = manifest(['img/nope.jpg,happy', 'img/a.jpg,sad'], 'path,label')
    const ds = await loadManifest(missing)
    expect(ds.items).toHaveLength(2)
    expect(ds.notes.join('\n')).toMatch(/1 listed image not found \(first: img\/nope\.jpg\)/)
  })
})
