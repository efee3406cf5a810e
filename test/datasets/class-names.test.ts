/**
 * Class names reach terminals, CSV headers, reports and folder names: names from --labels or from a model's
 * 'labels' metadata that hold control or direction-changing characters, are empty, too long or name one class
 * twice are refused, saying which class and where it came from (issue 14: metadata was escaped only in errors).
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkClassNames, MAX_CLASS_NAME, parseLabels, RAFDB} from '../../src/datasets/labels.js'
import {openModel} from '../../src/pipeline/model.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

describe('checkClassNames', () => {
  it('accepts the registry sets and ordinary names, accented ones included', () => {
    expect(() => checkClassNames(RAFDB.names, 'x')).not.toThrow()
    expect(() => checkClassNames(['Überraschung', 'Peur', '怒り'], 'x')).not.toThrow()
  })
  it('refuses control characters, bidirectional overrides and lone surrogates, showing them escaped', () => {
    expect(() => checkClassNames(['Happy', 'Sad\u001b[2J'], 'src')).toThrow(/^src: class 1 "Sad\\u001b\[2J" holds a control/)
    expect(() => checkClassNames(['Happy\u202e', 'Sad'], 'src')).toThrow(/class 0 "Happy\\u202e"/)
    expect(() => checkClassNames(['a\ud800', 'b'], 'src')).toThrow(/class 0/)
    expect(() => checkClassNames(['a\nb', 'c'], 'src')).toThrow(/class 0 "a\\nb"/)
  })
  it('refuses empty, over-long and repeated names', () => {
    expect(() => checkClassNames(['Happy', '  '], 'src')).toThrow(/class 1 has an empty name/)
    expect(() => checkClassNames(['x'.repeat(MAX_CLASS_NAME + 1), 'y'], 'src')).toThrow(/129 characters long/)
    expect(() => checkClassNames(['Happiness', 'happy'], 'src')).toThrow(/"Happiness" and "happy" name the same class/)
  })
  it('--labels goes through the same check', () => {
    expect(() => parseLabels('Happy,Sad\u0007')).toThrow(/^--labels: class 1/)
  })
})

describe("a model whose 'labels' metadata is hostile", () => {
  let saved: string | undefined
  const dir = mkdtempSync(path.join(tmpdir(), 'poster-class-names-'))
  beforeAll(() => {
    saved = process.env.POSTER_CACHE
    process.env.POSTER_CACHE = path.join(dir, 'cache')
  })
  afterAll(() => {
    if (saved === undefined) delete process.env.POSTER_CACHE
    else process.env.POSTER_CACHE = saved
  })
  it('is refused when opened, naming the class; --labels overrides it', async () => {
    const names = [...RAFDB.names]
    names[4] = 'Sad\u001b]0;pwned\u0007'
    const model = await writeTinyModel(path.join(dir, 'hostile.onnx'), {...SEVEN_CLASS_SPEC, labels: names})
    await expect(openModel(model)).rejects.toThrow(/the model's 'labels' metadata: class 4 "Sad\\u001b\]0;pwned\\u0007" holds a control .*pass --labels/)
    const opened = await openModel(model, {labels: 'rafdb'})
    expect(opened.labels).toEqual(RAFDB.names)
    await opened.session.release()
  })
})
