/**
 * The embedded PyTorch baseline script: it parses, the environment switch, and, only when POSTER_BENCH_PYTHON and
 * POSTER_BENCH_OFFICIAL are set, that it rebuilds the official model with the parity fixtures' weights.
 */
import {spawnSync} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {PYTHON_BASELINE_SCRIPT, PythonBaseline, pythonBaselineEnv} from '../../src/bench/python.js'
import {maxAbsDiff} from '../../src/bench/stats.js'
import {posterManifest} from '../../src/poster/deterministic-weights.js'

const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined
const baseline = pythonBaselineEnv()

describe('PyTorch baseline script', () => {
  it('is skipped, with the reason, unless both variables name something usable', () => {
    expect(pythonBaselineEnv({})).toEqual({skipped: expect.stringContaining('POSTER_BENCH_PYTHON')})
    expect(pythonBaselineEnv({POSTER_BENCH_PYTHON: 'python3'})).toHaveProperty('skipped')
    expect(pythonBaselineEnv({POSTER_BENCH_PYTHON: 'python3', POSTER_BENCH_OFFICIAL: '/nonexistent'})).toEqual({
      skipped: expect.stringContaining('models/PosterV2_7cls.py'),
    })
  })

  it.skipIf(!python)('is valid Python', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'poster-bench-py-test-'))
    try {
      const file = join(dir, 'script.py')
      await writeFile(file, PYTHON_BASELINE_SCRIPT)
      const r = spawnSync(python!, ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', file], {encoding: 'utf8'})
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it.skipIf('skipped' in baseline)('rebuilds the official model with the fixtures\' weights (POSTER_BENCH_* set)', async () => {
    if ('skipped' in baseline) return
    const py = await PythonBaseline.create(baseline, {manifest: posterManifest(7), classes: 7, threads: 1})
    try {
      const r = await py.prepare({parityBatch: 3})
      const expected = JSON.parse(await readFile(new URL('../fixtures/parity/expected-7cls.json', import.meta.url), 'utf8')) as {logits: number[][]}
      expect(r.logits).toHaveLength(21)
      expect(maxAbsDiff(r.logits, expected.logits.flat())).toBeLessThan(1e-4)
    } finally {
      await py.remove()
    }
  })
})
