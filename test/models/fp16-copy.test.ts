import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {listCache, pruneCache} from '../../src/models/cache-entries.js'
import {fp16ComputeCopy, fp16CopyPath} from '../../src/models/fp16-copy.js'
import {readModel} from '../../src/onnx/read.js'
import {sha256File} from '../../src/basics.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const work = mkdtempSync(join(tmpdir(), 'poster-fp16-copy-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('the float16-compute copy in the cache', () => {
  it('is made once, listed as fp16 with its source, and pruned when its model is gone', async () => {
    const cache = join(work, 'cache')
    const model = await writeTinyModel(join(work, 'tiny.onnx'), {...SEVEN_CLASS_SPEC, landmarks: true})
    const sha = await sha256File(model)
    const said: string[] = []
    const first = await fp16ComputeCopy(model, sha, cache, (m) => said.push(m))
    expect(first.made).toBe(true)
    expect(first.path).toBe(fp16CopyPath(cache, sha))
    expect(said.join('\n')).toMatch(/writing the float16-compute copy/)
    expect(JSON.parse(readFileSync(`${first.path}.json`, 'utf8'))).toMatchObject({model, sha256: sha, rewrite: 1, saturated: 0})
    const copy = await readModel(first.path)
    expect(copy.metadata.compute_dtype).toBe('float16')
    expect(copy.metadata.labels).toBeDefined() // the model's own metadata is kept
    expect(copy.graph.inputs.map((i) => i.dtype)).toEqual(['float32'])

    const again = await fp16ComputeCopy(model, sha, cache)
    expect(again).toMatchObject({made: false, path: first.path})

    const entries = await listCache(cache)
    expect(entries.map((e) => [e.kind, e.source, e.orphan])).toEqual([['fp16', model, false]])
    expect(entries[0]!.what).toBe(`float16-compute copy of ${model} (--dtype fp16)`)

    rmSync(model)
    const pruned = await pruneCache(cache)
    expect(pruned.removed.map((e) => e.kind)).toEqual(['fp16'])
    expect(existsSync(first.path)).toBe(false)
  })
})
