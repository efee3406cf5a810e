/**
 * poster dataset check on generated datasets in every layout with planted problems: each planted problem is
 * found, named, and nothing else is (the other images are all different pictures).
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import DatasetCheck from '../../src/commands/dataset/check.js'
import {checkDataset, type CheckResult} from '../../src/dataset-tools/check.js'
import {tmpDir} from '../datasets/helpers.js'
import {blobJpeg, crop, put, reencode, resize100} from './planted.js'

const ROOT = new URL('../..', import.meta.url).pathname

function nonZero(r: CheckResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.counts).filter(([, v]) => v > 0))
}

const pairs = (r: CheckResult) => r.problems.near_duplicates.map((x) => [x.scope, x.a.path, x.b.path])

describe('dataset check: RAF-DB', () => {
  it('finds each planted problem and nothing else', async () => {
    const root = tmpDir()
    const img = (stem: string, data: string | Uint8Array) => put(root, `Image/aligned/${stem}_aligned.jpg`, data)
    const lines: string[] = []
    let seed = 1
    // 10 train images, all different; labels cycle.
    const train: Buffer[] = []
    for (let i = 1; i <= 10; i++) {
      const b = await blobJpeg(seed++)
      train.push(b)
      if (i !== 6) img(`train_${String(i).padStart(5, '0')}`, b)
      lines.push(`train_${String(i).padStart(5, '0')}.jpg ${((i - 1) % 7) + 1}`)
    }
    // Within train: train_00006 is train_00007 cropped (6% left, 4% top) and resized to 100x100.
    img('train_00006', await resize100(await crop(train[6]!, [0.06, 0.04, 0, 0])))
    // train_00002 listed again with another label.
    lines.push('train_00002.jpg 5')
    const test = async (i: number, data: string | Uint8Array, label: number) => {
      const stem = `test_${String(i).padStart(4, '0')}`
      if (data !== '') img(stem, data)
      lines.push(`${stem}.jpg ${label}`)
    }
    await test(1, train[0]!, 1) // exact copy of train_00001 (same label)
    await test(2, await reencode(train[2]!, 60), 2) // train_00003 re-encoded at quality 60, another label
    await test(3, 'this is not an image', 3) // unreadable
    await test(4, (await blobJpeg(seed++)).subarray(0, 1500), 4) // truncated
    await test(5, '', 5) // listed, missing
    await test(6, await blobJpeg(seed++), 7) // clean
    await test(7, await resize100(train[3]!), 4) // train_00004 resized to 100x100 (same label)
    await test(8, await crop(train[4]!, [0.03, 0.05, 0.05, 0.02]), 5) // train_00005 cropped
    lines.push('test_0009.jpg 8') // label outside 1..7
    img('test_0009', await blobJpeg(seed++))
    img('stray', await blobJpeg(seed++)) // present, not listed
    put(root, 'EmoLabel/list_patition_label.txt', lines.join('\n') + '\n')

    const {result: r} = await checkDataset(root)
    expect(r.format).toBe('rafdb')
    expect(r.splits).toEqual([{split: 'train', images: 10}, {split: 'test', images: 8}])
    expect(nonZero(r)).toEqual({labels: 1, listed_twice: 1, missing: 1, unlisted: 1, unreadable: 1, truncated: 1, exact_duplicates: 1, near_duplicates: 4, leakage_pairs: 4})
    expect(r.problems.labels[0]!.message).toBe('label "8" for test_0009.jpg is outside 1..7')
    expect(r.problems.listed_twice[0]).toMatchObject({path: 'train_00002.jpg', lines: [2, 11], labels: ['2 (Fear)', '5 (Sadness)'], conflict: true})
    expect(r.problems.missing).toEqual([{split: 'test', path: 'Image/aligned/test_0005_aligned.jpg', label: 'Sadness'}])
    expect(r.problems.unlisted).toEqual([{path: 'Image/aligned/stray_aligned.jpg', why: 'in the image folder but not in EmoLabel/list_patition_label.txt'}])
    expect(r.problems.unreadable).toEqual([{split: 'test', path: 'Image/aligned/test_0003_aligned.jpg', label: 'Disgust', reason: expect.stringMatching(/not an image/)}])
    expect(r.problems.truncated).toEqual([{split: 'test', path: 'Image/aligned/test_0004_aligned.jpg', label: 'Happiness'}])
    expect(r.problems.exact_duplicates.map((g) => [g.scope, g.images.map((i) => i.path)])).toEqual([
      ['across train and test', ['Image/aligned/train_00001_aligned.jpg', 'Image/aligned/test_0001_aligned.jpg']],
    ])
    expect(pairs(r).sort()).toEqual([
      ['across train and test', 'Image/aligned/train_00003_aligned.jpg', 'Image/aligned/test_0002_aligned.jpg'],
      ['across train and test', 'Image/aligned/train_00004_aligned.jpg', 'Image/aligned/test_0007_aligned.jpg'],
      ['across train and test', 'Image/aligned/train_00005_aligned.jpg', 'Image/aligned/test_0008_aligned.jpg'],
      ['within train', 'Image/aligned/train_00006_aligned.jpg', 'Image/aligned/train_00007_aligned.jpg'],
    ])
    for (const x of r.problems.near_duplicates) expect(x.similarity).toBeGreaterThanOrEqual(0.95)
    expect(r.leakage.pairs.map((l) => [l.kind, l.train.path, l.held_out.path, l.same_label]).sort()).toEqual([
      ['exact', 'Image/aligned/train_00001_aligned.jpg', 'Image/aligned/test_0001_aligned.jpg', true],
      ['near', 'Image/aligned/train_00003_aligned.jpg', 'Image/aligned/test_0002_aligned.jpg', false],
      ['near', 'Image/aligned/train_00004_aligned.jpg', 'Image/aligned/test_0007_aligned.jpg', true],
      ['near', 'Image/aligned/train_00005_aligned.jpg', 'Image/aligned/test_0008_aligned.jpg', true],
    ])
    expect(r.leakage.per_class.filter((c) => c.held_out_images > 0)).toEqual([
      {name: 'Surprise', held_out_images: 1, of: 1, label_differs: 0},
      {name: 'Fear', held_out_images: 1, of: 1, label_differs: 1},
      {name: 'Happiness', held_out_images: 1, of: 2, label_differs: 0},
      {name: 'Sadness', held_out_images: 1, of: 2, label_differs: 0},
    ])
    expect(r.clean).toBe(false)

    // The command: exit 1, the result in --json, and the report with the pairs' thumbnails.
    const out = path.join(root, 'report')
    const {stdout, error} = await captureOutput(() => DatasetCheck.run([root, '--json', '--out', out], {root: ROOT}))
    expect(error?.oclif?.exit ?? process.exitCode).toBe(1)
    process.exitCode = 0
    const j = JSON.parse(stdout)
    expect(j.counts.leakage_pairs).toBe(4)
    expect(j.error.message).toMatch(/^15 problems found/)
    const html = readFileSync(path.join(out, 'report.html'), 'utf8')
    expect(html.match(/<img src="data:image\/jpeg;base64,/g)?.length).toBe(2 * 4 + 2 + 2 * 4)
    expect(html).toContain('labels differ')
    expect(existsSync(path.join(out, 'check.json'))).toBe(true)
  })
})

describe('dataset check: ImageFolder, AffectNet CSV, manifest', () => {
  it('ImageFolder: files ImageFolder skips, a corrupt image, duplicates within and across splits', async () => {
    const root = tmpDir()
    let seed = 100
    const a = await blobJpeg(seed++)
    const b = await blobJpeg(seed++)
    for (let c = 1; c <= 7; c++) {
      put(root, `train/${c}/t${c}.jpg`, c === 1 ? a : await blobJpeg(seed++))
      put(root, `valid/${c}/v${c}.jpg`, c === 2 ? await crop(a, [0, 0, 0.08, 0.08]) : c === 3 ? b : await blobJpeg(seed++))
    }
    put(root, 'valid/4/copy.jpg', b) // exact, within valid
    put(root, 'valid/5/broken.png', 'PNG? no')
    put(root, 'valid/5/notes.txt', 'hello')
    put(root, 'valid/loose.jpg', await blobJpeg(seed++))
    const {result: r} = await checkDataset(root)
    expect(r.splits.map((s) => s.split)).toEqual(['train', 'valid'])
    expect(nonZero(r)).toEqual({unlisted: 2, unreadable: 1, exact_duplicates: 1, near_duplicates: 1, leakage_pairs: 1})
    expect(r.problems.unlisted).toEqual([
      {path: 'valid/5/notes.txt', why: expect.stringMatching(/^an extension ImageFolder does not read \(\.txt;/)},
      {path: 'valid/loose.jpg', why: 'directly in the split folder, not in a class folder (ImageFolder skips it)'},
    ])
    expect(r.problems.exact_duplicates[0]).toMatchObject({scope: 'within valid', images: [{path: 'valid/3/v3.jpg'}, {path: 'valid/4/copy.jpg'}]})
    expect(pairs(r)).toEqual([['across train and valid', 'train/1/t1.jpg', 'valid/2/v2.jpg']])
    expect(r.leakage.per_class.find((c) => c.held_out_images > 0)).toEqual({name: 'Fear', held_out_images: 1, of: 1, label_differs: 1})
  })

  it('AffectNet CSV: codes outside 0-10, conflicting listings, excluded rows are not unlisted, an exact copy across splits', async () => {
    const root = tmpDir()
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    let seed = 200
    const shared = await blobJpeg(seed++)
    const train: string[] = []
    for (let i = 0; i < 8; i++) {
      put(root, `Manually_Annotated_Images/1/tr${i}.jpg`, i === 0 ? shared : await blobJpeg(seed++))
      train.push(`1/tr${i}.jpg,0,0,100,100,,${i === 7 ? 9 : i},0,0`)
    }
    train.push('1/tr1.jpg,0,0,100,100,,1,0,0') // exact repeat of a listing
    const val: string[] = []
    for (let i = 0; i < 5; i++) {
      put(root, `Manually_Annotated_Images/2/va${i}.jpg`, i === 0 ? shared : await blobJpeg(seed++))
      val.push(`2/va${i}.jpg,0,0,100,100,,${i},0,0`)
    }
    val.push('2/va1.jpg,0,0,100,100,,3,0,0') // conflicting listing
    val.push('2/va2.jpg,0,0,100,100,,x,0,0') // not a code
    put(root, 'Manually_Annotated_Images/3/orphan.jpg', await blobJpeg(seed++))
    put(root, 'training.csv', [header, ...train].join('\n') + '\n')
    put(root, 'validation.csv', [header, ...val].join('\n') + '\n')
    const {result: r} = await checkDataset(root)
    expect(r.splits).toEqual([{split: 'train', images: 7}, {split: 'validation', images: 5}])
    expect(nonZero(r)).toEqual({labels: 1, listed_twice: 2, unlisted: 1, exact_duplicates: 1, leakage_pairs: 1})
    expect(r.problems.labels[0]!.message).toBe('expression "x" is not an AffectNet code 0-10')
    expect(r.problems.listed_twice.map((x) => [x.path, x.conflict])).toEqual([
      ['Manually_Annotated_Images/1/tr1.jpg', false],
      ['Manually_Annotated_Images/2/va1.jpg', true],
    ])
    expect(r.problems.unlisted.map((u) => u.path)).toEqual(['Manually_Annotated_Images/3/orphan.jpg'])
    expect(r.leakage.pairs).toEqual([
      {kind: 'exact', train: {split: 'train', path: 'Manually_Annotated_Images/1/tr0.jpg', label: 'Neutral'}, held_out: {split: 'validation', path: 'Manually_Annotated_Images/2/va0.jpg', label: 'Neutral'}, same_label: true},
    ])
  })

  it('manifest: a label outside its set, a missing file, a crop within the set; a clean set passes with exit 0', async () => {
    const root = tmpDir()
    let seed = 300
    const a = await blobJpeg(seed++)
    put(root, 'img/a.jpg', a)
    put(root, 'img/b.jpg', await crop(a, [0.05, 0.05, 0.05, 0.05]))
    for (const n of ['c', 'd', 'e']) put(root, `img/${n}.jpg`, await blobJpeg(seed++))
    const csv = put(root, 'set.csv', 'path,label_rafdb\nimg/a.jpg,1\nimg/b.jpg,1\nimg/c.jpg,9\nimg/d.jpg,4\nimg/gone.jpg,5\nimg/e.jpg,7\n')
    const {result: r} = await checkDataset(csv)
    expect(nonZero(r)).toEqual({labels: 1, missing: 1, near_duplicates: 1})
    expect(r.problems.labels[0]!.where).toBe(`${csv} line 4`)
    expect(pairs(r)).toEqual([['within all', 'img/a.jpg', 'img/b.jpg']])
    expect(r.notes.join('\n')).toMatch(/not checked for a manifest/)

    const clean = put(root, 'clean.csv', 'path,label_rafdb\nimg/a.jpg,1\nimg/c.jpg,2\nimg/d.jpg,4\nimg/e.jpg,7\n')
    const {stdout, error} = await captureOutput(() => DatasetCheck.run([clean, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(JSON.parse(stdout)).toMatchObject({clean: true, images: 4})
  })
})

describe('dataset check: AffectNet images/ + annotations/ release', () => {
  it('an image without annotation is unlisted, an excluded code is not, a copy across splits leaks', async () => {
    const {npyBytes, int64s} = await import('../datasets/helpers.js')
    const root = tmpDir()
    let seed = 400
    const shared = await blobJpeg(seed++)
    for (const [split, n] of [['train_set', 4], ['val_set', 3]] as const) {
      for (let i = 0; i < n; i++) {
        put(root, `${split}/images/${i}.jpg`, i === 0 ? shared : await blobJpeg(seed++))
        const code = split === 'train_set' && i === 3 ? 9n : BigInt(i)
        put(root, `${split}/annotations/${i}_exp.npy`, npyBytes('<i8', [], int64s([code])))
      }
    }
    put(root, 'val_set/images/99.jpg', await blobJpeg(seed++))
    const {result: r} = await checkDataset(root)
    expect(r.format).toBe('affectnet')
    expect(r.splits).toEqual([{split: 'train', images: 3}, {split: 'validation', images: 3}])
    expect(nonZero(r)).toEqual({unlisted: 1, exact_duplicates: 1, leakage_pairs: 1})
    expect(r.problems.unlisted).toEqual([{path: 'val_set/images/99.jpg', why: 'in images/ without an annotations/*_exp.npy'}])
    expect(r.leakage.pairs[0]).toMatchObject({train: {path: 'train_set/images/0.jpg'}, held_out: {path: 'val_set/images/0.jpg'}})
  })
})

describe('dataset check: files that must never be read', () => {
  it('a FIFO and a link to /dev/zero are unreadable, not a hang', async () => {
    const {spawnSync} = await import('node:child_process')
    const {symlinkSync} = await import('node:fs')
    const root = tmpDir()
    put(root, 'img/a.jpg', await blobJpeg(600))
    spawnSync('mkfifo', [path.join(root, 'img/fifo.jpg')])
    symlinkSync('/dev/zero', path.join(root, 'img/zero.jpg'))
    const csv = put(root, 'set.csv', 'path,label_rafdb\nimg/a.jpg,1\nimg/fifo.jpg,2\nimg/zero.jpg,3\n')
    const {result: r} = await checkDataset(csv)
    expect(r.problems.unreadable.map((u) => [u.path, u.reason])).toEqual([
      ['img/fifo.jpg', 'not a regular file (a FIFO)'],
      ['img/zero.jpg', 'not a regular file (a character device)'],
    ])
    expect(nonZero(r)).toEqual({unreadable: 2})
  })
})

describe('dataset check in worker threads', () => {
  it('gives the same findings as the main thread, failures with the same reasons', async () => {
    const root = tmpDir()
    let seed = 800
    const a = await blobJpeg(seed++)
    put(root, 'img/a.jpg', a)
    put(root, 'img/a-crop.jpg', await crop(a, [0.04, 0.04, 0.04, 0.04]))
    put(root, 'img/a-copy.jpg', a)
    put(root, 'img/bad.jpg', 'garbage')
    put(root, 'img/cut.jpg', (await blobJpeg(seed++)).subarray(0, 900))
    for (let i = 0; i < 6; i++) put(root, `img/o${i}.jpg`, await blobJpeg(seed++))
    const rows = ['a', 'a-crop', 'a-copy', 'bad', 'cut', 'gone', ...Array.from({length: 6}, (_, i) => `o${i}`)].map((n, i) => `img/${n}.jpg,${(i % 7) + 1}`)
    const csv = put(root, 'set.csv', ['path,label_rafdb', ...rows].join('\n') + '\n')
    const main = (await checkDataset(csv, {workers: 0})).result
    const pooled = (await checkDataset(csv, {workers: 2})).result
    expect(pooled.workers).toBe(2)
    expect(nonZero(main)).toEqual({missing: 1, unreadable: 1, truncated: 1, exact_duplicates: 1, near_duplicates: 2})
    expect(pooled.counts).toEqual(main.counts)
    expect(pooled.problems).toEqual(main.problems)
  })
})

describe('dataset check: crops within a very large split', () => {
  it('past cropsWithinLimit, a split is searched for re-encodes within it and for crops across splits only', async () => {
    const root = tmpDir()
    let seed = 850
    const a = await blobJpeg(seed++)
    const b = await blobJpeg(seed++)
    put(root, 'train/1/a.jpg', a)
    put(root, 'train/1/a-crop.jpg', await crop(a, [0.06, 0.06, 0, 0]))
    put(root, 'train/2/a-q50.jpg', await reencode(a, 50))
    put(root, 'train/3/b.jpg', b)
    put(root, 'valid/3/b-crop.jpg', await crop(b, [0, 0, 0.07, 0.05]))
    for (const c of [1, 2, 4, 5, 6, 7]) put(root, `valid/${c}/o.jpg`, await blobJpeg(seed++))
    for (let c = 4; c <= 7; c++) put(root, `train/${c}/t.jpg`, await blobJpeg(seed++))
    const all = (await checkDataset(root)).result
    expect(pairs(all).map((p) => p.slice(1).join(' ~ ')).sort()).toEqual([
      'train/1/a-crop.jpg ~ train/1/a.jpg',
      'train/1/a-crop.jpg ~ train/2/a-q50.jpg',
      'train/1/a.jpg ~ train/2/a-q50.jpg',
      'train/3/b.jpg ~ valid/3/b-crop.jpg',
    ])
    const limited = (await checkDataset(root, {cropsWithinLimit: 3})).result
    expect(pairs(limited).map((p) => p.slice(1).join(' ~ ')).sort()).toEqual(['train/1/a.jpg ~ train/2/a-q50.jpg', 'train/3/b.jpg ~ valid/3/b-crop.jpg'])
    expect(limited.notes.join('\n')).toMatch(/near duplicates within train \(8 images, more than 3\): re-encoded and resized copies are searched, crops are not/)
  })
})

describe('dataset check: a cluster of copies', () => {
  it('m training and k held-out copies of one image: one group, m·k leakage pairs, every held-out copy counted once', async () => {
    const root = tmpDir()
    const same = await blobJpeg(870, 24, 24)
    const rows: string[] = []
    for (let i = 0; i < 40; i++) rows.push(`train_${String(i + 1).padStart(5, '0')}.jpg ${(i % 7) + 1}`)
    for (let i = 0; i < 25; i++) rows.push(`test_${String(i + 1).padStart(4, '0')}.jpg ${(i % 7) + 1}`)
    for (const r of rows) put(root, `Image/aligned/${r.split('.')[0]}_aligned.jpg`, same)
    put(root, 'EmoLabel/list_patition_label.txt', rows.join('\n') + '\n')
    const {result: r} = await checkDataset(root)
    expect(nonZero(r)).toEqual({exact_duplicates: 1, leakage_pairs: 1000})
    expect(r.problems.exact_duplicates[0]!.images).toHaveLength(50)
    expect(r.leakage.per_class.map((c) => [c.held_out_images, c.of])).toEqual([[4, 4], [4, 4], [4, 4], [4, 4], [3, 3], [3, 3], [3, 3]])
    expect(r.leakage.per_class.every((c) => c.label_differs === c.held_out_images)).toBe(true)
  })
})
