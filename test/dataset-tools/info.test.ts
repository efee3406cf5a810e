/**
 * poster dataset info: per-split class counts beside the official ones, missing and excluded rows, formats and sizes
 * from the headers, and the class-balance chart files.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import DatasetInfoCommand from '../../src/commands/dataset/info.js'
import {datasetInfo} from '../../src/dataset-tools/info.js'
import {RAFDB_OFFICIAL_COUNTS} from '../../src/dataset-tools/official.js'
import {loadSharp} from '../../src/image/sharp.js'
import {tmpDir, writeTree} from '../datasets/helpers.js'

const ROOT = new URL('../..', import.meta.url).pathname

/** RAF-DB label file with these per-class counts per split; dummy image bytes. */
function rafdbList(root: string, counts: {train: readonly number[]; test: readonly number[]}): void {
  const lines: string[] = []
  const files: string[] = []
  for (const split of ['train', 'test'] as const) {
    let n = 1
    counts[split].forEach((k, c) => {
      for (let i = 0; i < k; i++) {
        const stem = `${split}_${String(n++).padStart(split === 'train' ? 5 : 4, '0')}`
        lines.push(`${stem}.jpg ${c + 1}`)
        files.push(`Image/aligned/${stem}_aligned.jpg`)
      }
    })
  }
  writeTree(root, {'EmoLabel/list_patition_label.txt': lines.join('\n') + '\n'})
  writeTree(root, files)
}

describe('datasetInfo', () => {
  it('a complete RAF-DB basic matches the official counts class by class', async () => {
    const root = tmpDir()
    rafdbList(root, RAFDB_OFFICIAL_COUNTS)
    const info = await datasetInfo(root, {sizes: false})
    expect(info.format).toBe('rafdb')
    expect(info.label_set).toBe('rafdb')
    expect(info.splits.map((s) => [s.split, s.images, s.official?.matches])).toEqual([
      ['train', 12271, true],
      ['test', 3068, true],
    ])
    expect(info.splits[1]!.classes[3]).toEqual({name: 'Happiness', images: 1185, official: 1185})
  })

  it('a re-packaged RAF-DB: the differences, missing files, repeats, sizes and formats', async () => {
    const root = tmpDir()
    rafdbList(root, {train: [2, 1, 1, 1, 1, 1, 1], test: [1, 1, 1, 2, 1, 1, 1]})
    const sharp = await loadSharp()
    // Real images for the test split: JPEG 100x100 and PNG 64x48; one listed image missing.
    const dir = path.join(root, 'Image/aligned')
    for (let i = 1; i <= 8; i++) {
      const f = path.join(dir, `test_${String(i).padStart(4, '0')}_aligned.jpg`)
      const img = sharp({create: {width: i <= 5 ? 100 : 64, height: i <= 5 ? 100 : 48, channels: 3, background: {r: 10 * i, g: 0, b: 0}}})
      await (i <= 5 ? img.jpeg() : img.png()).toFile(f)
    }
    const list = path.join(root, 'EmoLabel/list_patition_label.txt')
    writeTree(root, {'EmoLabel/list_patition_label.txt': readFileSync(list, 'utf8') + 'test_0009.jpg 7\ntest_0001.jpg 1\n'})
    const info = await datasetInfo(root, {split: 'test'})
    const test = info.splits[0]!
    expect(test.images).toBe(9)
    expect(test.classes.map((c) => [c.images, c.official])).toEqual([[1, 329], [1, 74], [1, 160], [2, 1185], [1, 478], [1, 162], [2, 680]])
    expect(test.official).toEqual({source: 'RAF-DB basic test split', images: 3068, matches: false})
    expect(test.missing).toBe(1)
    expect(test.excluded).toEqual([{reason: expect.stringMatching(/exact repeat/), count: 1}])
    expect(test.stats).toMatchObject({
      read: 8,
      unreadable: 1,
      unreadable_examples: [{path: 'Image/aligned/test_0009_aligned.jpg', reason: 'missing'}],
      formats: {jpeg: 5, png: 3},
      sizes: [{size: '100x100', images: 5}, {size: '64x48', images: 3}],
      distinct_sizes: 2,
      min: {width: 64, height: 48},
      max: {width: 100, height: 100},
    })
  })

  it('AffectNet: excluded codes by reason, validation beside 500 per class', async () => {
    const root = tmpDir()
    const header = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal'
    const codes = [0, 1, 1, 2, 7, 8, 9, 10, 10, 3]
    const rows = codes.map((c, i) => `1/${i}.jpg,0,0,4,4,,${c},0,0`)
    writeTree(root, {'validation.csv': [header, ...rows].join('\n') + '\n'})
    writeTree(root, codes.map((_, i) => `Manually_Annotated_Images/1/${i}.jpg`))
    const info = await datasetInfo(root, {sizes: false})
    expect(info.splits.map((s) => s.split)).toEqual(['validation'])
    const v = info.splits[0]!
    expect(v.classes.map((c) => c.images)).toEqual([1, 2, 1, 1, 0, 0, 0])
    expect(v.classes.every((c) => c.official === 500)).toBe(true)
    expect(v.excluded).toEqual([
      {reason: 'expression 7 (Contempt) excluded in 7-class protocol', count: 1},
      {reason: 'expression 8 (None): not an emotion', count: 1},
      {reason: 'expression 9 (Uncertain): not an emotion', count: 1},
      {reason: 'expression 10 (Non-Face): not an emotion', count: 2},
    ])
    expect(info.has_boxes).toBe(true)
  })
})

describe('poster dataset info', () => {
  it('prints the table, writes info.json and the class-balance chart', async () => {
    const root = tmpDir()
    rafdbList(root, {train: [3, 1, 1, 1, 1, 1, 1], test: [1, 1, 1, 1, 1, 1, 1]})
    const out = path.join(root, 'info')
    const {stdout, error} = await captureOutput(() => DatasetInfoCommand.run([root, '--no-sizes', '--out', out], {root: ROOT}))
    expect(error).toBeUndefined()
    expect(stdout).toMatch(/train: 9 images \(official: 12271, RAF-DB basic train split\)/)
    expect(stdout).toMatch(/Surprise\s+3\s+33\.3%\s+1290\s+-1287/)
    const svg = readFileSync(path.join(out, 'class-balance.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('test Happiness: 1 images (14.3%); official 1,185')
    expect(readFileSync(path.join(out, 'class-balance.png')).subarray(1, 4).toString()).toBe('PNG')
    expect(JSON.parse(readFileSync(path.join(out, 'info.json'), 'utf8')).images).toBe(16)
    expect(existsSync(path.join(out, 'info.json'))).toBe(true)

    const j = await captureOutput(() => DatasetInfoCommand.run([root, '--no-sizes', '--split', 'train', '--json'], {root: ROOT}))
    expect(JSON.parse(j.stdout).splits.map((s: {split: string}) => s.split)).toEqual(['train'])
    const missing = await captureOutput(() => DatasetInfoCommand.run([path.join(root, 'nope'), '--json'], {root: ROOT}))
    expect(JSON.parse(missing.stdout).error.message).toMatch(/dataset path not found/)
  })
})
