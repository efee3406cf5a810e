/**
 * File names that are not valid UTF-8: Node decodes them lossily (U+FFFD), which would make them unreadable and
 * let two of them collide. predict's discovery reads names as bytes, shows bad bytes as \xHH and reads the file
 * through its raw path.
 */
import {mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {fsNameToString} from '../../src/datasets/fsutil.js'
import {discoverPredictInputs, predict} from '../../src/pipeline/predict.js'
import {readPredictions} from '../../src/report/predictions-csv.js'
import {cleanupTmp, SPEC, solidImage, tinyModel, tmpDir} from '../helpers/predict-fixtures.js'

afterAll(() => cleanupTmp())

const b = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))))

describe('fsNameToString', () => {
  it('keeps valid UTF-8 and escapes each invalid byte', () => {
    expect(fsNameToString(b('ünï 表情 😀.png'))).toEqual({text: 'ünï 表情 😀.png', valid: true})
    expect(fsNameToString(b('a', [0xff], 'b'))).toEqual({text: 'a\\xffb', valid: false})
    expect(fsNameToString(b([0xc3]))).toEqual({text: '\\xc3', valid: false}) // cut sequence
    expect(fsNameToString(b([0xc0, 0xaf]))).toEqual({text: '\\xc0\\xaf', valid: false}) // overlong '/'
    expect(fsNameToString(b([0xed, 0xa0, 0x80]))).toEqual({text: '\\xed\\xa0\\x80', valid: false}) // surrogate
    expect(fsNameToString(b([0xf4, 0x90, 0x80, 0x80]))).toEqual({text: '\\xf4\\x90\\x80\\x80', valid: false}) // > U+10FFFF
    expect(fsNameToString(b([0xe9], 'é', [0xe9]))).toEqual({text: '\\xe9é\\xe9', valid: false})
  })
})

describe('non-UTF-8 names in predict', () => {
  it('finds, keeps apart and reads files and folders whose names are not UTF-8, and symlinks to them', async () => {
    const base = tmpDir()
    const root = path.join(base, 'in')
    mkdirSync(root)
    const at = (...parts: Array<string | number[]>) => b(`${root}/`, ...parts)
    // Two names that Node would both show as "x\uFFFD.png".
    writeFileSync(at('x', [0xe9], '.png'), await solidImage('png', [200, 10, 10], 10, 12))
    writeFileSync(at('x', [0xff], '.png'), await solidImage('png', [10, 200, 10], 14, 10))
    // A folder with a Latin-1 name, an image inside, and a symlink with a bad name pointing at it.
    mkdirSync(at('caf', [0xe9]))
    writeFileSync(at('caf', [0xe9], '/in.png'), await solidImage('png', [10, 10, 200], 8, 8))
    // A symlink with a bad name to a file with a bad name outside the inputs (it reads the target's bytes).
    const target = b(`${base}/outside-`, [0xfd], '.png')
    writeFileSync(target, await solidImage('png', [10, 200, 10], 20, 20))
    symlinkSync(target, at('link-', [0xfe], '.png'))

    const d = await discoverPredictInputs([root], true)
    expect(d.items.map((i) => i.relPath)).toEqual([`${root}/caf\\xe9/in.png`, `${root}/link-\\xfe.png`, `${root}/x\\xe9.png`, `${root}/x\\xff.png`])
    expect(d.items.every((i) => i.rawPath !== undefined)).toBe(true)
    expect(d.items[2]!.rawPath!.equals(at('x', [0xe9], '.png'))).toBe(true)

    const work = tmpDir()
    const model = await tinyModel(work)
    const out = path.join(work, 'p.csv')
    const s = await predict({inputs: [root], recursive: true, model, out, landmarks: true})
    expect(s).toMatchObject({images: 4, ok: 4, errors: 0})
    const rows = (await readPredictions(out)).rows
    expect(rows.map((r) => [r.path, r.status])).toEqual(d.items.map((i) => [i.relPath, 'ok']))
    // Different files, different predictions: the two look-alike names were not mixed up.
    expect(rows[2]!.pred_name).not.toBe(rows[3]!.pred_name)
    expect(rows[1]!.p_anger).toBe(rows[3]!.p_anger) // the link reads its target (same colour as x\xff.png)
    expect(Number(rows[1]!.lm0_x) / 20).toBeCloseTo(Number(rows[3]!.lm0_x) / 14, 4)
    // Landmarks scaled by each file's own size (10×12 and 14×10).
    expect(Number(rows[3]!.lm0_x)).toBeGreaterThan(0)
    // The CSV is valid UTF-8 throughout.
    expect(() => new TextDecoder('utf-8', {fatal: true}).decode(readFileSync(out))).not.toThrow()
    expect(SPEC.labels).toContain(rows[0]!.pred_name)
  })
})
