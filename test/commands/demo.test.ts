/** `poster demo`: the real POSTER++ graph with untrained weights over a synthetic RAF-DB tree, every output written. */
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {captureOutput} from '@oclif/test'
import {describe, expect, it} from 'vitest'

import Demo from '../../src/commands/demo.js'
import {RAFDB} from '../../src/datasets/labels.js'

const ROOT = new URL('../..', import.meta.url).pathname

describe('poster demo', () => {
  it('builds the untrained model, writes a RAF-DB tree and every eval output, and says it is untrained', async () => {
    const runs = await mkdtemp(join(tmpdir(), 'poster-demo-'))
    const {stdout, error} = await captureOutput(() => Demo.run(['--per-class', '2', '--runs-root', runs, '--json'], {root: ROOT}))
    expect(error).toBeUndefined()
    const m = JSON.parse(stdout)
    expect(m.n_images).toBe(14)
    expect(m.labels).toEqual(RAFDB.names)
    expect(m.paper).toBeNull()
    expect(m.warnings.join('\n')).toMatch(/UNTRAINED/)
    expect(m.model.labels).toEqual(RAFDB.names)
    // The synthetic tree is in the released layout: 14 test + 7 train lines.
    const list = await readFile(join(runs, 'demo-data', 'rafdb-synthetic-2', 'EmoLabel', 'list_patition_label.txt'), 'utf8')
    expect(list.trim().split('\n').filter((l) => l.startsWith('test_'))).toHaveLength(14)
    const runDir = join(runs, (await readdir(runs)).find((d) => d.startsWith('demo-2'))!)
    for (const f of ['predictions.csv', 'metrics.json', 'confusion.csv', 'confusion.svg', 'confusion.png', 'calibration.svg', 'report.md', 'report.html']) {
      expect(existsSync(join(runDir, f)), f).toBe(true)
    }
    const header = (await readFile(join(runDir, 'predictions.csv'), 'utf8')).split('\r\n')[0].split(',')
    expect(header).toContain('lm67_y')
    expect(await readFile(join(runDir, 'report.md'), 'utf8')).toMatch(/UNTRAINED/)
  })
})
