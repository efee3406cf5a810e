/**
 * poster dataset subset: stratified by class, the same images for the same seed whatever the listing order or the
 * other images, a manifest eval's loader reads back as those images and labels (boxes kept for AffectNet).
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import DatasetSubset from '../../src/commands/dataset/subset.js'
import {chooseSubset, subsetRank, writeSubset} from '../../src/dataset-tools/subset.js'
import {loadDataset, type DatasetItem} from '../../src/datasets/index.js'
import {loadManifest} from '../../src/datasets/manifest.js'
import {RAFDB} from '../../src/datasets/labels.js'
import {tmpDir, writeTree} from '../datasets/helpers.js'

const ROOT = new URL('../..', import.meta.url).pathname

/** RAF-DB test split with `counts[c]` images of class c (dummy bytes: the loaders never decode). */
function rafdb(root: string, counts: number[]): void {
  const lines: string[] = []
  const files: Record<string, string> = {}
  let n = 1
  counts.forEach((k, c) => {
    for (let i = 0; i < k; i++) {
      const stem = `test_${String(n++).padStart(4, '0')}`
      lines.push(`${stem}.jpg ${c + 1}`)
      files[`Image/aligned/${stem}_aligned.jpg`] = 'x'
    }
  })
  lines.push('train_00001.jpg 1')
  files['Image/aligned/train_00001_aligned.jpg'] = 'x'
  files['EmoLabel/list_patition_label.txt'] = lines.join('\n') + '\n'
  writeTree(root, files)
}

describe('chooseSubset', () => {
  const items = (names: string[], label = 0): DatasetItem[] => names.map((n) => ({path: `/d/${n}`, relPath: n, label, split: 'test'}))

  it('takes the N smallest ranks per class, in dataset order, independent of listing order and of other images', () => {
    const names = Array.from({length: 40}, (_, i) => `img${i}.jpg`)
    const a = chooseSubset(items(names), 1, 5, 3).map((i) => i.relPath)
    const byRank = [...names].sort((x, y) => subsetRank(3, x) - subsetRank(3, y)).slice(0, 5)
    expect(a).toEqual(names.filter((n) => byRank.includes(n)))
    expect(chooseSubset(items([...names].reverse()), 1, 5, 3).map((i) => i.relPath).sort()).toEqual([...a].sort())
    // Adding images that rank after the chosen ones changes nothing.
    const extra = Array.from({length: 400}, (_, i) => `new${i}.jpg`).filter((n) => subsetRank(3, n) > subsetRank(3, byRank[4]!))
    expect(chooseSubset(items([...names, ...extra]), 1, 5, 3).map((i) => i.relPath)).toEqual(a)
    expect(chooseSubset(items(names), 1, 5, 4).map((i) => i.relPath)).not.toEqual(a)
  })
})

describe('writeSubset on RAF-DB', () => {
  it('stratified, reproducible, read back by the manifest loader with the RAF-DB label set', async () => {
    const root = tmpDir()
    rafdb(root, [10, 2, 10, 30, 10, 10, 10])
    const ds = await loadDataset(root, {split: 'test'})
    const out = path.join(root, 'sub', 'subset.csv')
    const r = await writeSubset(ds, {perClass: 4, seed: 1, out})
    expect(r.images).toBe(4 * 6 + 2)
    expect(r.classes.map((c) => c.taken)).toEqual([4, 2, 4, 4, 4, 4, 4])
    expect(r.classes.map((c) => c.available)).toEqual([10, 2, 10, 30, 10, 10, 10])
    expect(r.label_column).toBe('label_rafdb')
    expect(r.notes.join('\n')).toMatch(/fewer than 4 images in Fear \(2\): all of them taken/)
    const text = readFileSync(out, 'utf8')
    expect(text.split('\n')[0]).toBe('path,label_rafdb')
    expect(text.split('\n')[1]).toMatch(/^\.\.\/Image\/aligned\/test_\d{4}_aligned\.jpg,(Surprise|Fear|Disgust|Happiness|Sadness|Anger|Neutral)$/)
    const back = await loadManifest(out)
    expect(back.labels).toEqual(RAFDB.names)
    const counts = RAFDB.names.map((_, c) => back.items.filter((i) => i.label === c).length)
    expect(counts).toEqual([4, 2, 4, 4, 4, 4, 4])
    // Every chosen image is the dataset's, with its label.
    const byPath = new Map(ds.items.map((i) => [i.path, i.label]))
    for (const it of back.items) expect(byPath.get(it.path)).toBe(it.label)

    // Same seed, same file; refuses to overwrite without force.
    await expect(writeSubset(ds, {perClass: 4, seed: 1, out})).rejects.toThrow(/already exists; pass --force/)
    const out2 = path.join(root, 'again.csv')
    await writeSubset(ds, {perClass: 4, seed: 1, out: out2, absolute: true})
    expect((await loadManifest(out2)).items.map((i) => i.path)).toEqual(back.items.map((i) => i.path))
  })

  it('the command: --json result, and the AffectNet boxes kept so --faces box works on the subset', async () => {
    const root = tmpDir()
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    const rows: string[] = []
    for (let i = 0; i < 24; i++) rows.push(`1/${i} img.jpg,${i},${i + 1},${20 + i},${30 + i},,${i % 8},0,0`)
    writeTree(root, {'validation.csv': [header, ...rows].join('\n') + '\n'})
    for (let i = 0; i < 24; i++) writeTree(root, [`Manually_Annotated_Images/1/${i} img.jpg`])
    const out = path.join(root, 'aff.csv')
    const {stdout, error} = await captureOutput(() => DatasetSubset.run([root, '--classes', '8', '--per-class', '2', '--seed', '9', '--out', out, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const j = JSON.parse(stdout)
    expect(j.images).toBe(16)
    expect(j.label_column).toBe('label_affectnet8')
    expect(j.dataset.split).toBe('validation')
    const back = await loadManifest(out)
    expect(back.hasBoxes).toBe(true)
    for (const it of back.items) {
      const i = Number(path.basename(it.path).split(' ')[0])
      expect(it.box).toEqual({x: i, y: i + 1, w: 20 + i, h: 30 + i})
      expect(it.label).toBe(i % 8)
    }
    const usage = await captureOutput(() => DatasetSubset.run([root, '--per-class', '0', '--out', out], {root: ROOT}))
    expect(usage.error?.oclif?.exit).toBe(2)
  })
})
