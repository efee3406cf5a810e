import {mkdtemp, readFile, rm, writeFile, appendFile, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parse} from 'csv-parse/sync'
import {
  EVAL_BASE_COLUMNS,
  PredictionsWriter,
  classNamesFromColumns,
  evalColumns,
  formatProb,
  indexByPath,
  landmarkColumns,
  parsePredictionsCsv,
  predictColumns,
  predictionsCsv,
  probColumn,
  readPredictions,
  recordToPredictionRow,
  type PredictionRow,
} from '../../src/report/predictions-csv.js'

const CLASSES = ['Neutral', 'Happy', 'Sad, or "blue"']

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'poster-pred-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

const tricky: PredictionRow[] = [
  {path: 'a,b/c.jpg', split: 'test', label: 1, status: 'ok', probs: [0.1, 0.7, 0.2]},
  {path: 'say "cheese".png', split: 'test', label: 0, status: 'ok', probs: [0.25, 0.25, 0.5]},
  {path: 'line\nbreak\r\nand\rcr.jpg', split: 'test', label: 2, status: 'ok', probs: [0, 0, 1]},
  {path: 'ünïcødé/日本語/😀 smile.jpg', split: 'test', label: 1, status: 'ok', probs: [1e-9, 0.999999999, 0]},
  {path: 'broken.jpg', split: 'test', label: 0, status: 'error', error: 'unsupported image format, "HEIC"\nline 2'},
  {path: ' leading space.jpg', split: 'test', label: 0, status: 'ok', probs: [0.5, 0.3, 0.2]},
]

describe('columns', () => {
  it('eval columns: base, p_<class> in order, optional landmarks', () => {
    const cols = evalColumns(CLASSES)
    expect(cols.slice(0, 10)).toEqual([...EVAL_BASE_COLUMNS])
    expect(cols.slice(10)).toEqual(['p_Neutral', 'p_Happy', 'p_Sad, or "blue"'])
    const lm = evalColumns(CLASSES, {landmarks: true})
    expect(lm.length).toBe(10 + 3 + 136)
    expect(lm.slice(13, 17)).toEqual(['lm0_x', 'lm0_y', 'lm1_x', 'lm1_y'])
    expect(lm.at(-1)).toBe('lm67_y')
    expect(landmarkColumns(2)).toEqual(['lm0_x', 'lm0_y', 'lm1_x', 'lm1_y'])
  })

  it('predict columns', () => {
    expect(predictColumns(['A', 'B'])).toEqual(['path', 'status', 'error', 'pred', 'pred_name', 'confidence', 'p_A', 'p_B'])
  })

  it('class names are kept except line breaks; duplicates are refused', () => {
    expect(probColumn(' Sad\nface ')).toBe('p_Sad face')
    expect(probColumn('Ärger')).toBe('p_Ärger')
    expect(() => evalColumns(['A', 'A'])).toThrow(/twice/)
    expect(classNamesFromColumns(evalColumns(CLASSES))).toEqual(CLASSES)
  })
})

describe('formatting', () => {
  it('probabilities: 6 decimals, fixed, no exponent, no negative zero', () => {
    expect(formatProb(1e-9)).toBe('1.00000e-9')
    expect(formatProb(0.1234567)).toBe('0.123457')
    expect(formatProb(1)).toBe('1.000000')
    expect(formatProb(-1e-12)).toBe('0.000000')
    expect(formatProb(3.5e-7)).toBe('3.50000e-7')
    expect(formatProb(5e-6)).toBe('0.00000500000')
    expect(formatProb(0.012345678)).toBe('0.0123457')
    expect(formatProb(0.1)).toBe('0.100000')
    expect(formatProb(Number.NaN)).toBe('NaN')
  })

  it('rows: derived pred, names, confidence, correct; error rows have empty prediction fields', () => {
    const text = predictionsCsv(evalColumns(CLASSES), CLASSES, [tricky[0]!, tricky[4]!])
    const [header, ok, err] = parse(text) as string[][]
    expect(header).toEqual(evalColumns(CLASSES))
    expect(ok).toEqual([
      'a,b/c.jpg', 'test', '1', 'Happy', '1', 'Happy', '0.700000', 'true', 'ok', '',
      '0.100000', '0.700000', '0.200000',
    ])
    expect(err).toEqual([
      'broken.jpg', 'test', '0', 'Neutral', '', '', '', '', 'error', 'unsupported image format, "HEIC"\nline 2',
      '', '', '',
    ])
    expect(text.endsWith('\r\n')).toBe(true)
    expect(text.split('\r\n')[0]).toBe(
      'path,split,label,label_name,pred,pred_name,confidence,correct,status,error,p_Neutral,p_Happy,"p_Sad, or ""blue"""',
    )
  })

  it('quotes exactly the fields that need it', () => {
    const text = predictionsCsv(predictColumns(['A', 'B']), ['A', 'B'], [
      {path: 'plain.jpg', status: 'ok', probs: [0.2, 0.8]},
      {path: 'with,comma.jpg', status: 'ok', probs: [0.9, 0.1]},
      {path: 'q"uote.jpg', status: 'ok', probs: [0.9, 0.1]},
      {path: 'nl\n.jpg', status: 'ok', probs: [0.9, 0.1]},
      {path: 'cr\r.jpg', status: 'ok', probs: [0.9, 0.1]},
      {path: 'é.jpg', status: 'ok', probs: [0.9, 0.1]},
    ])
    expect(text).toBe(
      'path,status,error,pred,pred_name,confidence,p_A,p_B\r\n' +
        'plain.jpg,ok,,1,B,0.800000,0.200000,0.800000\r\n' +
        '"with,comma.jpg",ok,,0,A,0.900000,0.900000,0.100000\r\n' +
        '"q""uote.jpg",ok,,0,A,0.900000,0.900000,0.100000\r\n' +
        '"nl\n.jpg",ok,,0,A,0.900000,0.900000,0.100000\r\n' +
        '"cr\r.jpg",ok,,0,A,0.900000,0.900000,0.100000\r\n' +
        'é.jpg,ok,,0,A,0.900000,0.900000,0.100000\r\n',
    )
  })

  it('a wrong number of probabilities is an error', () => {
    expect(() => predictionsCsv(evalColumns(CLASSES), CLASSES, [{path: 'x', status: 'ok', probs: [1]}])).toThrow(
      /1 probabilities for 3 classes/,
    )
  })
})

describe('PredictionsWriter + readPredictions round trip', () => {
  it('commas, quotes, CR/LF and unicode in paths and errors survive', async () => {
    const file = join(dir, 'predictions.csv')
    const w = await PredictionsWriter.open(file, {columns: evalColumns(CLASSES), classNames: CLASSES})
    await w.append(tricky.slice(0, 3))
    await w.append([])
    await w.append(tricky.slice(3))
    await w.close()
    expect(w.rowsWritten).toBe(tricky.length)

    const back = await readPredictions(file)
    expect(back.warnings).toEqual([])
    expect(back.droppedPartial).toBeUndefined()
    expect(back.columns).toEqual(evalColumns(CLASSES))
    expect(back.rows.map((r) => r.path)).toEqual(tricky.map((r) => r.path))
    expect(back.rows[4]!.error).toBe(tricky[4]!.error)
    expect(back.rows[4]!.status).toBe('error')
    expect(back.rows[3]!['p_Happy']).toBe('1.000000')
    expect(back.rows[3]!.correct).toBe('true')
    expect(back.rows[1]!.pred_name).toBe('Sad, or "blue"')
    expect(back.rows[1]!['p_Sad, or "blue"']).toBe('0.500000')
    expect(back.completeBytes).toBe((await readFile(file)).length)

    // Typed rows come back too.
    const row = recordToPredictionRow(back.rows[0]!, back.columns)
    expect(row).toMatchObject({path: 'a,b/c.jpg', status: 'ok', label: 1, pred: 1, confidence: 0.7, split: 'test'})
    expect(row.probs).toEqual([0.1, 0.7, 0.2])
    const err = recordToPredictionRow(back.rows[4]!, back.columns)
    expect(err).toMatchObject({status: 'error', label: 0})
    expect(err.pred).toBeUndefined()
    expect(err.probs).toBeUndefined()
  })

  it('landmark columns round-trip', async () => {
    const file = join(dir, 'p.csv')
    const cols = predictColumns(['A', 'B'], {landmarks: true, landmarkPoints: 2})
    const w = await PredictionsWriter.open(file, {columns: cols, classNames: ['A', 'B']})
    await w.append([
      {path: 'x.jpg', status: 'ok', probs: [0.25, 0.75], landmarks: [0.1, 0.2, 0.3, 0.4]},
      {path: 'y.jpg', status: 'error', error: 'decode failed'},
    ])
    await w.close()
    const back = await readPredictions(file)
    expect(back.rows[0]).toMatchObject({lm0_x: '0.100000', lm0_y: '0.200000', lm1_x: '0.300000', lm1_y: '0.400000'})
    expect(back.rows[1]).toMatchObject({lm0_x: '', status: 'error', error: 'decode failed'})
    expect(recordToPredictionRow(back.rows[0]!, back.columns).landmarks).toEqual([0.1, 0.2, 0.3, 0.4])
  })

  it('appends are serialised even when not awaited one by one', async () => {
    const file = join(dir, 'p.csv')
    const w = await PredictionsWriter.open(file, {columns: predictColumns(['A', 'B']), classNames: ['A', 'B']})
    await Promise.all(
      Array.from({length: 20}, (_, i) => w.append([{path: `img${i}.jpg`, status: 'ok', probs: [i / 20, 1 - i / 20]}])),
    )
    await w.close()
    await w.close()
    const back = await readPredictions(file)
    expect(back.rows.map((r) => r.path)).toEqual(Array.from({length: 20}, (_, i) => `img${i}.jpg`))
    await expect(w.append([])).rejects.toThrow(/after close/)
  })

  it('the header is on disk as soon as the file is opened', async () => {
    const file = join(dir, 'p.csv')
    const w = await PredictionsWriter.open(file, {columns: predictColumns(['A', 'B']), classNames: ['A', 'B']})
    expect(await readFile(file, 'utf8')).toBe('path,status,error,pred,pred_name,confidence,p_A,p_B\r\n')
    await w.close()
  })

  it('appendRecords writes records by column name (merge)', async () => {
    const file = join(dir, 'p.csv')
    const w = await PredictionsWriter.open(file, {columns: ['path', 'status', 'p_A'], classNames: ['A']})
    await w.appendRecords([{path: 'm,1.jpg', status: 'ok', p_A: '1.000000', ignored: 'x'}, {path: 'm2.jpg'}])
    await w.close()
    expect(await readFile(file, 'utf8')).toBe('path,status,p_A\r\n"m,1.jpg",ok,1.000000\r\nm2.jpg,,\r\n')
  })
})

describe('truncated last line (killed run)', () => {
  const cols = predictColumns(['A', 'B'])
  const full = predictionsCsv(cols, ['A', 'B'], [
    {path: 'one.jpg', status: 'ok', probs: [0.9, 0.1]},
    {path: 'two,"x"\n.jpg', status: 'ok', probs: [0.2, 0.8]},
    {path: 'three.jpg', status: 'ok', probs: [0.4, 0.6]},
  ])
  const lastStart = full.lastIndexOf('three.jpg')

  it('every cut inside the last row drops just that row and says so', () => {
    for (let cut = lastStart + 1; cut < full.length; cut++) {
      const r = parsePredictionsCsv(full.slice(0, cut))
      expect(r.rows.map((x) => x.path)).toEqual(['one.jpg', 'two,"x"\n.jpg'])
      expect(r.droppedPartial).toBeDefined()
      expect(r.droppedPartial!.line).toBe(5)
      expect(r.warnings[0]).toMatch(/incomplete last row \(line 5/)
      expect(r.completeBytes).toBe(Buffer.byteLength(full.slice(0, lastStart)))
    }
  })

  it('a cut inside a quoted field holding a newline is recognised as partial', () => {
    const start = full.indexOf('"two')
    const cut = full.indexOf('\n.jpg') + 1 // just after the newline inside the quotes
    const r = parsePredictionsCsv(full.slice(0, cut))
    expect(r.rows.map((x) => x.path)).toEqual(['one.jpg'])
    expect(r.droppedPartial!.text).toBe(full.slice(start, cut))
  })

  it('a complete file, or trailing NUL padding, drops nothing', () => {
    expect(parsePredictionsCsv(full).droppedPartial).toBeUndefined()
    const padded = parsePredictionsCsv(Buffer.concat([Buffer.from(full), Buffer.alloc(64)]))
    expect(padded.rows.length).toBe(3)
    expect(padded.warnings).toEqual([])
  })

  it('an empty file or a cut header gives no columns', () => {
    expect(parsePredictionsCsv('')).toMatchObject({columns: [], rows: [], completeBytes: 0})
    const r = parsePredictionsCsv('path,sta')
    expect(r.columns).toEqual([])
    expect(r.warnings[0]).toMatch(/header was cut short/)
  })

  it('a complete row with the wrong field count is an error, not silently dropped', () => {
    expect(() => parsePredictionsCsv('a,b\r\n1,2,3\r\n')).toThrow(/record 2 has 3 fields/)
    expect(() => parsePredictionsCsv('a,a\r\n1,2\r\n')).toThrow(/appears twice/)
  })

  it('resume cuts the partial row off and appends after the complete ones', async () => {
    const file = join(dir, 'predictions.csv')
    await writeFile(file, full.slice(0, lastStart + 7))
    const w = await PredictionsWriter.open(file, {columns: cols, classNames: ['A', 'B'], resume: true})
    expect(w.existing!.rows.length).toBe(2)
    expect(w.existing!.droppedPartial).toBeDefined()
    expect(indexByPath(w.existing!.rows).has('one.jpg')).toBe(true)
    await w.append([{path: 'three.jpg', status: 'ok', probs: [0.4, 0.6]}])
    await w.close()
    expect(await readFile(file, 'utf8')).toBe(full)
  })

  it('resume of a missing file starts a new one; a header mismatch refuses', async () => {
    const file = join(dir, 'predictions.csv')
    const w = await PredictionsWriter.open(file, {columns: cols, classNames: ['A', 'B'], resume: true})
    expect(w.existing).toBeUndefined()
    await w.close()
    expect(await readFile(file, 'utf8')).toBe(cols.join(',') + '\r\n')
    await appendFile(file, 'x.jpg,ok,,0,A,0.9,0.9,0.1\r\n')
    await expect(
      PredictionsWriter.open(file, {columns: predictColumns(['A', 'C']), classNames: ['A', 'C'], resume: true}),
    ).rejects.toThrow(/cannot resume/)
    // Without resume the file is replaced.
    const w2 = await PredictionsWriter.open(file, {columns: cols, classNames: ['A', 'B']})
    await w2.close()
    expect((await readPredictions(file)).rows).toEqual([])
    expect(await readdir(dir)).toEqual(['predictions.csv'])
  })
})
