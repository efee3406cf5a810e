/**
 * src/basics.ts: the ground floor every layer shares (input size, atomic writes, file hashes), defined there
 * once; no other module defines its own.
 */
import {readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {INPUT_NUMEL, INPUT_SIZE, sha256File} from '../src/basics.js'
import {PREPROCESS} from '../src/image/preprocess.js'
import {INPUT_SIZE as POSTER_INPUT} from '../src/poster/build.js'
import {INPUT_SIZE as BATCH_INPUT} from '../src/runtime/batches.js'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n)
    return statSync(p).isDirectory() ? sources(p) : n.endsWith('.ts') ? [p] : []
  })
}

describe('basics', () => {
  it('the model input size, the same constant everywhere', () => {
    expect(INPUT_SIZE).toBe(224)
    expect(INPUT_NUMEL).toBe(3 * 224 * 224)
    expect([POSTER_INPUT, BATCH_INPUT, PREPROCESS.size, PREPROCESS.numel]).toEqual([224, 224, 224, INPUT_NUMEL])
  })

  it('sha256File: the SHA-256 of the bytes (FIPS 180-2 test vector "abc"), of an empty file, by path or bytes of the path', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'poster-basics-'))
    writeFileSync(path.join(dir, 'abc'), 'abc')
    writeFileSync(path.join(dir, 'empty'), '')
    expect(await sha256File(path.join(dir, 'abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(await sha256File(Buffer.from(path.join(dir, 'empty')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('is the only definition of the input size, the atomic write and the file hash in src/', () => {
    const definitions: Record<string, RegExp> = {
      'INPUT_SIZE': /export const INPUT_SIZE\s*=/,
      'writeFileAtomic': /function writeFileAtomic(Sync)?\b/,
      'a streamed SHA-256': /createHash\(['"]sha256['"]\)/,
      'the input numel as a literal': /3 \* 224 \* 224/,
    }
    const found: Record<string, string[]> = {}
    for (const file of sources()) {
      if (file.endsWith(path.join('bench', 'python.ts'))) continue // a Python script in a string
      const text = readFileSync(file, 'utf8')
      for (const [name, re] of Object.entries(definitions)) if (re.test(text)) (found[name] ??= []).push(path.relative(SRC, file))
    }
    expect(found).toEqual({INPUT_SIZE: ['basics.ts'], writeFileAtomic: ['basics.ts'], 'a streamed SHA-256': ['basics.ts']})
  })
})
