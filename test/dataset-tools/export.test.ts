/**
 * poster dataset export: RAF-DB to the ImageFolder tree main.py reads (hard links, class folders 1..7, read back by
 * poster and by torchvision's ImageFolder when Debian's python3-torchvision is installed), AffectNet's CSV release
 * cropped at its boxes, and an ImageFolder tree as CSV manifests.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import DatasetExport from '../../src/commands/dataset/export.js'
import {exportDataset} from '../../src/dataset-tools/export.js'
import {loadImageFolder, loadManifest, loadRafdb} from '../../src/datasets/index.js'
import {RAFDB, AFFECTNET8} from '../../src/datasets/labels.js'
import {cropBox} from '../../src/faces/box.js'
import {decodeRgb} from '../../src/image/sharp.js'
import {tmpDir} from '../datasets/helpers.js'
import {blobJpeg, put} from './planted.js'

const ROOT = new URL('../..', import.meta.url).pathname
const PYTHON = '/usr/bin/python3'
const hasTorchvision = spawnSync(PYTHON, ['-c', 'import torchvision'], {encoding: 'utf8'}).status === 0

/** RAF-DB basic with `perClass[c]` train and test images of class c (generated JPEGs). */
async function rafdb(root: string, train: number[], test: number[]): Promise<void> {
  const lines: string[] = []
  let seed = 500
  for (const [split, counts] of [['train', train], ['test', test]] as const) {
    let n = 1
    for (let c = 0; c < 7; c++) {
      for (let i = 0; i < counts[c]!; i++) {
        const stem = `${split}_${String(n++).padStart(split === 'train' ? 5 : 4, '0')}`
        put(root, `Image/aligned/${stem}_aligned.jpg`, await blobJpeg(seed++, 40, 40))
        lines.push(`${stem}.jpg ${c + 1}`)
      }
    }
  }
  put(root, 'EmoLabel/list_patition_label.txt', lines.join('\n') + '\n')
}

describe('export RAF-DB to ImageFolder', () => {
  it('train/ and valid/ with folders 1..7, hard links, a manifest, read back by poster (and torchvision)', async () => {
    const root = tmpDir()
    const train = [2, 1, 1, 3, 1, 1, 2]
    const test = [1, 1, 1, 2, 1, 1, 1]
    await rafdb(root, train, test)
    const out = path.join(root, 'export')
    const r = await exportDataset(root, {to: 'imagefolder', out})
    expect(r.class_folders).toEqual(['1', '2', '3', '4', '5', '6', '7'])
    expect(r.imagefolder_index).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(r.splits.map((s) => [s.split, s.folder, s.images])).toEqual([['train', 'train', 11], ['test', 'valid', 8]])
    expect(r.how).toEqual({linked: 19, copied: 0, written: 0, failed: 0})
    expect(r.read_back).toEqual({ok: true, images: 19})
    expect(readdirSync(path.join(out, 'valid')).sort()).toEqual(['1', '2', '3', '4', '5', '6', '7'])
    const exported = path.join(out, 'valid/4/test_0004_aligned.jpg')
    const original = path.join(root, 'Image/aligned/test_0004_aligned.jpg')
    expect(statSync(exported).ino).toBe(statSync(original).ino)
    const manifest = readFileSync(path.join(out, 'manifest.csv'), 'utf8').split('\n')
    expect(manifest[0]).toBe('source,split,label,path,how,error')
    expect(manifest).toContain(`${original},test,Happiness,valid/4/test_0004_aligned.jpg,link,`)

    // poster reads the export as the same images with the same labels as the original.
    const src = await loadRafdb(root, {split: 'test'})
    const back = await loadImageFolder(out, {split: 'test'})
    expect(back.labels).toEqual(RAFDB.names)
    expect(back.items.map((i) => [path.basename(i.path), i.label]).sort()).toEqual(src.items.map((i) => [path.basename(i.path), i.label]).sort())

    if (!hasTorchvision) return
    const py = spawnSync(PYTHON, ['-c', `
import json, sys, os
from torchvision.datasets import ImageFolder
out = {}
for split in ('train', 'valid'):
    ds = ImageFolder(os.path.join(sys.argv[1], split))
    out[split] = {'class_to_idx': ds.class_to_idx, 'samples': [[os.path.relpath(p, sys.argv[1]), t] for p, t in ds.samples]}
    ds[0]  # the loader opens an image as main.py does
print(json.dumps(out))
`, out], {encoding: 'utf8'})
    expect(py.status, py.stderr).toBe(0)
    const tv = JSON.parse(py.stdout) as Record<string, {class_to_idx: Record<string, number>; samples: Array<[string, number]>}>
    expect(tv.train!.class_to_idx).toEqual({1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6})
    // Each image's torchvision class index is its RAF-DB label index (code - 1), and the counts per class agree.
    const srcTrain = await loadRafdb(root, {split: 'train'})
    const expected = (ds: typeof src, folder: string) =>
      ds.items.map((i) => [`${folder}/${i.label! + 1}/${path.basename(i.path)}`, i.label] as [string, number]).sort()
    expect(tv.valid!.samples.sort()).toEqual(expected(src, 'valid'))
    expect(tv.train!.samples.sort()).toEqual(expected(srcTrain, 'train'))
    expect(RAFDB.names.map((_, c) => tv.train!.samples.filter((s) => s[1] === c).length)).toEqual(train)
    expect(RAFDB.names.map((_, c) => tv.valid!.samples.filter((s) => s[1] === c).length)).toEqual(test)
  })

  it('refuses an output folder that is not empty', async () => {
    const root = tmpDir()
    await rafdb(root, [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1])
    put(root, 'busy/file.txt', 'x')
    const r = await captureOutput(() => DatasetExport.run([root, path.join(root, 'busy'), '--to', 'imagefolder'], {root: ROOT}))
    expect(r.error?.message).toMatch(/already exists; choose a new folder/)
    expect(r.error?.oclif?.exit).toBe(1)
  })
})

describe('export AffectNet with --faces box', () => {
  it('crops at the annotated boxes as eval does, PNG, folders 0..7; an image without a usable box is reported', async () => {
    const root = tmpDir()
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    const rows: string[] = []
    for (let i = 0; i < 9; i++) {
      put(root, `Manually_Annotated_Images/1/${i}.jpg`, await blobJpeg(700 + i, 60, 50))
      rows.push(i === 8 ? `1/${i}.jpg,5,5,0,10,,1,0,0` : `1/${i}.jpg,${i},${2 * i},${30 + i},${20 + i},,${i % 8},0,0`)
    }
    put(root, 'validation.csv', [header, ...rows].join('\n') + '\n')
    const out = path.join(root, 'faces')
    const {stdout, error} = await captureOutput(() => DatasetExport.run([root, out, '--to', 'imagefolder', '--classes', '8', '--faces', 'box', '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const r = JSON.parse(stdout)
    expect(r.class_folders).toEqual(['0', '1', '2', '3', '4', '5', '6', '7'])
    expect(r.how).toEqual({linked: 0, copied: 0, written: 8, failed: 1})
    expect(r.splits[0]).toMatchObject({split: 'validation', folder: 'valid', images: 8, failed: 1})
    const crop = await decodeRgb(path.join(out, 'valid/3/3.png'))
    const want = cropBox(await decodeRgb(path.join(root, 'Manually_Annotated_Images/1/3.jpg')), {x: 3, y: 6, w: 33, h: 23}).image
    expect([crop.width, crop.height]).toEqual([33, 23])
    expect(Buffer.from(crop.data).equals(Buffer.from(want.data))).toBe(true)
    expect(readFileSync(path.join(out, 'manifest.csv'), 'utf8')).toMatch(/1\/8\.jpg,validation,Happy,,failed,"zero-size face box 0×10 at \(5, 5\)"/)
    const back = await loadImageFolder(out, {split: 'valid', classes: 8})
    expect(back.labels).toEqual(AFFECTNET8.names)
    expect(back.items).toHaveLength(8)
  })
})

describe('export: bad inputs', () => {
  it('a missing image and a FIFO are failed rows in manifest.csv, never opened', async () => {
    const root = tmpDir()
    put(root, 'img/a.jpg', await blobJpeg(950, 20, 20))
    spawnSync('mkfifo', [path.join(root, 'img/fifo.jpg')])
    const csv = put(root, 'set.csv', 'path,label_rafdb\nimg/a.jpg,1\nimg/fifo.jpg,2\nimg/gone.jpg,3\n')
    const out = path.join(root, 'out')
    const r = await exportDataset(csv, {to: 'imagefolder', out, faces: 'whole'})
    expect(r.how).toEqual({linked: 1, copied: 0, written: 0, failed: 2})
    const m = readFileSync(path.join(out, 'manifest.csv'), 'utf8')
    expect(m).toMatch(/img\/fifo\.jpg,all,Fear,,failed,not a regular file \(a FIFO\)/)
    expect(m).toMatch(/img\/gone\.jpg,all,Disgust,,failed,missing/)
    expect(r.read_back.images).toBe(1)
  })
})

describe('export with --faces detect', () => {
  it('the largest face found, aligned to 100×100; an image without a face is a failed row', async () => {
    const root = tmpDir()
    const photo = new URL('../fixtures/faces/photos/hopper-640x480.jpg', import.meta.url).pathname
    put(root, 'img/hopper.jpg', readFileSync(photo))
    put(root, 'img/blob.jpg', await blobJpeg(960, 64, 64))
    const csv = put(root, 'set.csv', 'path,label_rafdb\nimg/hopper.jpg,4\nimg/blob.jpg,7\n')
    const out = path.join(root, 'faces')
    const r = await exportDataset(csv, {to: 'imagefolder', out, faces: 'detect'})
    expect(r.how).toMatchObject({written: 1, failed: 1})
    const face = await decodeRgb(path.join(out, 'valid/4/hopper.png'))
    expect([face.width, face.height]).toEqual([100, 100])
    expect(readFileSync(path.join(out, 'manifest.csv'), 'utf8')).toMatch(/img\/blob\.jpg,all,Neutral,,failed,no face found/)
  })
})

describe('export to CSV', () => {
  it('an ImageFolder tree with emotion-named folders: the tree and one manifest per split, read back', async () => {
    const root = tmpDir()
    let seed = 900
    for (const c of ['angry', 'happy', 'sad']) for (let i = 0; i < 2; i++) put(root, `test/${c}/${c}${i}.jpg`, await blobJpeg(seed++, 30, 30))
    const out = path.join(root, 'csv')
    const r = await exportDataset(root, {to: 'csv', out})
    expect(r.class_folders).toEqual(['angry', 'happy', 'sad'])
    expect(r.splits[0]!.manifest).toBe(path.join(out, 'valid.csv'))
    const m = await loadManifest(path.join(out, 'valid.csv'))
    expect(m.items.map((i) => [path.relative(out, i.path), m.labels[i.label!]])).toEqual([
      // The manifest's emotion words are read as the RAF-DB label set, matched by meaning.
      ['valid/angry/angry0.jpg', 'Anger'],
      ['valid/angry/angry1.jpg', 'Anger'],
      ['valid/happy/happy0.jpg', 'Happiness'],
      ['valid/happy/happy1.jpg', 'Happiness'],
      ['valid/sad/sad0.jpg', 'Sadness'],
      ['valid/sad/sad1.jpg', 'Sadness'],
    ])
  })
})
