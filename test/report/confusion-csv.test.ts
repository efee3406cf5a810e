import {mkdtemp, readFile, rm, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {confusionCsv, writeConfusionCsv} from '../../src/report/confusion-csv.js'

describe('confusion.csv', () => {
  it('exact content', () => {
    expect(confusionCsv(['Happy', 'Sad', 'Fear, "real"'], [[5, 1, 0], [2, 7, 1], [0, 0, 3]])).toBe(
      'true\\pred,Happy,Sad,"Fear, ""real"""\r\n' +
        'Happy,5,1,0\r\n' +
        'Sad,2,7,1\r\n' +
        '"Fear, ""real""",0,0,3\r\n',
    )
  })

  it('refuses a matrix that does not match the names', () => {
    expect(() => confusionCsv(['a', 'b'], [[1, 2]])).toThrow(/2×2/)
    expect(() => confusionCsv(['a', 'b'], [[1], [2]])).toThrow(/2×2/)
  })

  it('writes atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poster-cm-'))
    try {
      const f = join(dir, 'confusion.csv')
      await writeConfusionCsv(f, ['A', 'B'], [[1, 0], [0, 1]])
      expect(await readFile(f, 'utf8')).toBe('true\\pred,A,B\r\nA,1,0\r\nB,0,1\r\n')
      expect(await readdir(dir)).toEqual(['confusion.csv'])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
