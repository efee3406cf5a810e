import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {completeRecordCount, openRunOutput, sidecarPath} from '../../src/pipeline/run-output.js'
import {parsePredictionsCsv, predictColumns, faceColumns} from '../../src/report/predictions-csv.js'
import {OutputLockedError} from '../../src/report/run-lock.js'
import {cleanupTmp, tmpDir} from '../helpers/predict-fixtures.js'

afterAll(() => cleanupTmp())

const classes = ['a', 'b']
const identity = {kind: 'predict', model: {sha256: 'aa11', labels: classes}, faces: 'whole'}
const columns = predictColumns(classes)

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(r.stdout.toString())
}

describe('openRunOutput', () => {
  it('refuses a second run on the same output while the first holds it, naming the first', async () => {
    const out = path.join(tmpDir(), 'p.csv')
    const first = await openRunOutput(out, {columns, classNames: classes, identity})
    const err = await openRunOutput(out, {columns, classNames: classes, identity, resume: true}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OutputLockedError)
    expect((err as Error).message).toContain(`pid ${process.pid} on ${hostname()}`)
    await first.close()
    expect(existsSync(`${out}.lock`)).toBe(false)
    const again = await openRunOutput(out, {columns, classNames: classes, identity, resume: true})
    await again.close()
  })

  it('takes over a lock left by a process that died', async () => {
    const out = path.join(tmpDir(), 'p.csv')
    writeFileSync(`${out}.lock`, JSON.stringify({pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00Z'}))
    const o = await openRunOutput(out, {columns, classNames: classes, identity})
    expect(JSON.parse(readFileSync(`${out}.lock`, 'utf8')).pid).toBe(process.pid)
    await o.close()
  })

  it('records the identity beside the file and refuses a resume by another model, naming both', async () => {
    const out = path.join(tmpDir(), 'p.csv')
    const o = await openRunOutput(out, {columns, classNames: classes, identity})
    await o.writer.append([{path: 'x.png', status: 'ok', probs: [0.25, 0.75]}])
    await o.close()
    expect(JSON.parse(readFileSync(sidecarPath(out), 'utf8')).identity).toEqual(identity)
    const other = {...identity, model: {sha256: 'bb22', labels: classes}}
    await expect(openRunOutput(out, {columns, classNames: classes, identity: other, resume: true})).rejects.toThrow(
      /cannot resume .*p\.csv: it was written by a different run \(model\.sha256: aa11 there, bb22 now\)/,
    )
    // Refused runs leave the file and the lock as they were.
    expect(parsePredictionsCsv(readFileSync(out)).rows).toHaveLength(1)
    expect(existsSync(`${out}.lock`)).toBe(false)
    const same = await openRunOutput(out, {columns, classNames: classes, identity, resume: true})
    expect([...same.done.keys()]).toEqual(['x.png'])
    await same.close()
  })

  it('a file without its identity record (an older poster) resumes with a warning', async () => {
    const out = path.join(tmpDir(), 'old.csv')
    writeFileSync(out, `${columns.join(',')}\r\nx.png,ok,,1,b,0.750000,0.250000,0.750000\r\n`)
    const o = await openRunOutput(out, {columns, classNames: classes, identity, resume: true})
    expect(o.warnings.join('\n')).toMatch(/has no .*old\.csv\.run\.json.*cannot be checked/)
    await o.close()
  })

  it('cuts off an image whose face rows were cut short, and keeps complete ones', async () => {
    const out = path.join(tmpDir(), 'faces.csv')
    const cols = predictColumns(classes, {faces: 'detect'})
    expect(cols.slice(0, 8)).toEqual(['path', 'status', 'error', 'pred', 'pred_name', 'confidence', ...faceColumns('detect').slice(0, 2)])
    const id = {...identity, faces: 'detect'}
    const o = await openRunOutput(out, {columns: cols, classNames: classes, identity: id})
    const face = (index: number, count: number) => ({index, count, box: {x: 1, y: 2, w: 3, h: 4}, score: 0.9})
    await o.writer.append([
      {path: 'one.jpg', status: 'ok', probs: [0.5, 0.5], face: face(0, 1)},
      {path: 'none.jpg', status: 'no_face', extra: {faces: 0}},
      {path: 'three.jpg', status: 'ok', probs: [0.5, 0.5], face: face(0, 3)},
      {path: 'three.jpg', status: 'ok', probs: [0.5, 0.5], face: face(1, 3)},
    ])
    await o.close()
    const before = parsePredictionsCsv(readFileSync(out))
    expect(completeRecordCount(before)).toBe(2)
    const r = await openRunOutput(out, {columns: cols, classNames: classes, identity: id, resume: true})
    expect([...r.done.keys()]).toEqual(['one.jpg', 'none.jpg'])
    await r.close()
    const after = parsePredictionsCsv(readFileSync(out))
    expect(after.rows.map((x) => x.path)).toEqual(['one.jpg', 'none.jpg'])
    expect(after.rows[1]).toMatchObject({status: 'no_face', faces: '0', face: ''})
    // The cut is at a record boundary: the file is exactly its first three lines.
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(out, 'utf8').split('\r\n').slice(0, 3).join('\r\n') + '\r\n')
  })
})
