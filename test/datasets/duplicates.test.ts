/**
 * Images listed twice (issue 14, item 13): in RAF-DB's label file, AffectNet's CSV and a manifest, an exact repeat
 * is scored once with a counted note, a repeat with another label (or box) stops the load naming both lines, and
 * with `collect` (poster dataset check) the conflict is kept as a finding instead. eval scores each image once and
 * says so in its warnings and metrics.json.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadAffectnet} from '../../src/datasets/affectnet.js'
import {REPEAT_REASON} from '../../src/datasets/duplicates.js'
import {loadManifest} from '../../src/datasets/manifest.js'
import {loadRafdb} from '../../src/datasets/rafdb.js'
import {evaluate} from '../../src/pipeline/evaluate.js'
import {loadSharp} from '../../src/image/sharp.js'
import {SEVEN_CLASS_SPEC, SEVEN_COLORS, writeTinyModel} from '../helpers/tiny-model.js'
import {tmpDir, writeTree} from './helpers.js'

function rafdb(root: string, lines: string[]): void {
  const files: Record<string, string> = {'EmoLabel/list_patition_label.txt': lines.join('\n') + '\n'}
  for (const l of lines) {
    const name = l.split(' ')[0]!
    files[`Image/aligned/${path.parse(name).name}_aligned.jpg`] = 'x'
  }
  writeTree(root, files)
}

describe('RAF-DB label file listing an image twice', () => {
  it('same label: scored once, counted and named in a note', async () => {
    const root = tmpDir()
    rafdb(root, ['test_0001.jpg 7', 'test_0002.jpg 4', 'test_0001.jpg 7', 'test_0001.jpg 7', 'train_00001.jpg 1'])
    const ds = await loadRafdb(root, {split: 'test'})
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['Image/aligned/test_0001_aligned.jpg', 6],
      ['Image/aligned/test_0002_aligned.jpg', 3],
    ])
    expect(ds.excluded).toEqual([{reason: REPEAT_REASON, count: 2}])
    expect(ds.duplicates?.repeatedListings).toBe(2)
    expect(ds.duplicates?.repeats).toEqual([{relPath: 'test_0001.jpg', lines: [1, 3, 4], labels: ['7 (Neutral)', '7 (Neutral)', '7 (Neutral)'], conflict: false}])
    expect(ds.notes.join('\n')).toMatch(/1 image is listed more than once with the same label \(2 repeated listings dropped; first: test_0001\.jpg \(line 1: 7 \(Neutral\); line 3/)
  })

  it('different labels: an error naming the image, both lines and both labels', async () => {
    const root = tmpDir()
    rafdb(root, ['test_0001.jpg 7', 'test_0002.jpg 4', 'test_0001.jpg 4'])
    await expect(loadRafdb(root, {split: 'test'})).rejects.toThrow(
      /1 image is listed more than once with different labels .*test_0001\.jpg \(line 1: 7 \(Neutral\); line 3: 4 \(Happiness\)\)/,
    )
    // A conflict in the other split does not stop this one.
    expect((await loadRafdb(root, {split: 'train'})).items).toEqual([])
  })

  it('collect: the conflict is kept as a finding, the first listing scored', async () => {
    const root = tmpDir()
    rafdb(root, ['test_0001.jpg 7', 'test_0002.jpg 4', 'test_0001.jpg 4', 'test_0003.jpg 9'])
    writeTree(root, ['Image/aligned/test_0003_aligned.jpg'])
    const ds = await loadRafdb(root, {split: 'test', collect: true})
    expect(ds.items.map((i) => i.label)).toEqual([6, 3])
    expect(ds.duplicates?.conflicts).toEqual([{relPath: 'test_0001.jpg', lines: [1, 3], labels: ['7 (Neutral)', '4 (Happiness)'], conflict: true}])
    expect(ds.rowProblems).toEqual([
      {
        kind: 'label',
        where: `${path.join(root, 'EmoLabel/list_patition_label.txt')} line 4`,
        message: 'label "9" for test_0003.jpg is outside 1..7',
        path: path.join(root, 'Image/aligned/test_0003_aligned.jpg'),
        relPath: 'Image/aligned/test_0003_aligned.jpg',
      },
    ])
    await expect(loadRafdb(root, {split: 'test'})).rejects.toThrow(/line 4: label "9" for test_0003\.jpg is outside 1\.\.7/)
  })
})

const HEADER = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'

describe('AffectNet CSV listing an image twice', () => {
  function affectnet(root: string, rows: string[]): void {
    writeTree(root, {'validation.csv': [HEADER, ...rows].join('\n') + '\n'})
    for (const r of rows) writeTree(root, [`Manually_Annotated_Images/${r.split(',')[0]}`])
  }

  it('same code and box: once, counted; another code or another box: an error', async () => {
    const root = tmpDir()
    affectnet(root, ['1/a.jpg,0,0,10,10,,3,0,0', '1/b.jpg,0,0,10,10,,1,0,0', '1/a.jpg,0,0,10,10,,3,0,0'])
    const ds = await loadAffectnet(root)
    expect(ds.items.map((i) => [i.relPath, i.label])).toEqual([
      ['Manually_Annotated_Images/1/a.jpg', 3],
      ['Manually_Annotated_Images/1/b.jpg', 1],
    ])
    expect(ds.excluded).toEqual([{reason: REPEAT_REASON, count: 1}])

    const code = tmpDir()
    affectnet(code, ['1/a.jpg,0,0,10,10,,3,0,0', '1/a.jpg,0,0,10,10,,9,0,0'])
    await expect(loadAffectnet(code)).rejects.toThrow(/Manually_Annotated_Images\/1\/a\.jpg \(line 2: 3 \(Surprise\), box 0,0,10,10; line 3: 9 \(Uncertain\), box 0,0,10,10\)/)

    const box = tmpDir()
    affectnet(box, ['1/a.jpg,0,0,10,10,,3,0,0', '1/a.jpg,5,5,10,10,,3,0,0'])
    await expect(loadAffectnet(box)).rejects.toThrow(/different labels or face boxes.*box 0,0,10,10; line 3: 3 \(Surprise\), box 5,5,10,10/)
    const kept = await loadAffectnet(box, {collect: true})
    expect(kept.items.map((i) => i.box)).toEqual([{x: 0, y: 0, w: 10, h: 10}])
    expect(kept.duplicates?.conflicts.map((g) => g.lines)).toEqual([[2, 3]])
  })
})

describe('manifest listing an image twice', () => {
  it('the same file however written: same label (by meaning) once; another label an error', async () => {
    const root = tmpDir()
    writeTree(root, ['img/a.jpg', 'img/b.jpg'])
    const csv = path.join(root, 'm.csv')
    await writeFile(csv, 'path,label\nimg/a.jpg,happy\nimg/b.jpg,sad\n./img/a.jpg,Happiness\n')
    const ds = await loadManifest(csv)
    expect(ds.items.map((i) => [i.relPath, ds.labels[i.label!]])).toEqual([
      ['img/a.jpg', 'Happiness'],
      ['img/b.jpg', 'Sadness'],
    ])
    expect(ds.duplicates?.repeats[0]).toMatchObject({relPath: 'img/a.jpg', lines: [2, 4]})
    expect(ds.excluded).toEqual([{reason: REPEAT_REASON, count: 1}])

    await writeFile(csv, `path,label\nimg/a.jpg,happy\n${path.join(root, 'img/a.jpg')},sad\n`)
    await expect(loadManifest(csv)).rejects.toThrow(/img\/a\.jpg \(line 2: happy \(Happiness\); line 3: sad \(Sadness\)\)/)
  })
})

describe('eval scores a repeated image once', () => {
  it('n_images counts it once and the warning and metrics.json name it', async () => {
    const root = tmpDir()
    await mkdir(path.join(root, 'img'))
    const sharp = await loadSharp()
    for (let c = 0; c < 3; c++) {
      const [r, g, b] = SEVEN_COLORS[c]!
      await sharp({create: {width: 8, height: 8, channels: 3, background: {r, g, b}}}).png().toFile(path.join(root, 'img', `${c}.png`))
    }
    const csv = path.join(root, 'set.csv')
    await writeFile(csv, 'path,label_rafdb\nimg/0.png,1\nimg/1.png,2\nimg/0.png,1\nimg/2.png,3\nimg/0.png,1\n')
    const model = await writeTinyModel(path.join(root, 'tiny.onnx'), SEVEN_CLASS_SPEC)
    const r = await evaluate({dataset: csv, model, out: path.join(root, 'run'), pictures: false})
    expect(r.metrics.n_images).toBe(3)
    expect(r.metrics.dataset.duplicates).toEqual({file: csv, repeated_listings: 2, images: 1, first: [{path: 'img/0.png', lines: [2, 4, 6]}]})
    expect(r.metrics.warnings.join('\n')).toMatch(/1 image is listed more than once with the same label .*img\/0\.png.*each is scored once \(2 repeated listings left out\)/)
  })
})
