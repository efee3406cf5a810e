/**
 * Hostile checkpoints (issue 14, items 1-5): each is built here from its recipe, read in a child process with a
 * 256 MB heap (test/helpers/checkpoint-child.ts, killed after 60 s), and must end in a CheckpointError that says
 * what was expected and what was found, with the child's peak memory (heap and ArrayBuffers) bounded.
 * `poster convert` turns the same files into exit 1. The committed corpus (test/fixtures/torch/hostile/) must
 * still be what the recipes build, and every file in it is refused the same way.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {HostTensor} from '../../src/tensor.js'

import * as H from './hostile-files.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('../helpers/checkpoint-child.ts', import.meta.url))
const CONVERT_CHILD = fileURLToPath(new URL('../helpers/convert-child.ts', import.meta.url))

/** Peak resident memory a child may reach reading one hostile file (it idles at about 80 MB). */
const MAX_RSS_MB = 350

interface ChildLine {
  file: string
  ok: boolean
  code?: string
  message?: string
  ms: number
  maxRssMB: number
}

/** Reads `files` in one child with a 256 MB heap; the child is killed (and the test fails) after `limitMs`. */
export async function readInChild(files: string[], limitMs = 60_000): Promise<ChildLine[]> {
  const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', CHILD, ...files], {cwd: REPO, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  const {code, signal} = await new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (c, s) => resolve({code: c, signal: s})))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`the reader child ended with ${signal ?? `exit ${code}`} (a ${limitMs / 1000} s limit): ${stderr.slice(-2000)}`)
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as ChildLine)
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poster-hostile-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function save(name: string, data: Uint8Array): string {
  const p = join(dir, name)
  writeFileSync(p, data)
  return p
}

/** The one line for `file`, checked to be a bounded refusal with `code`. */
function refused(lines: ChildLine[], file: string, code: string): string {
  const line = lines.find((l) => l.file === file)
  expect(line, file).toBeDefined()
  expect(line!.ok, `${file}: ${line!.message}`).toBe(false)
  expect(line!.code, line!.message).toBe(code)
  expect(line!.maxRssMB, file).toBeLessThan(MAX_RSS_MB)
  expect(line!.message!.startsWith(`${file}: `)).toBe(true)
  return line!.message!
}

describe('1: a stored record whose declared size is 2^31 or more', () => {
  it('is refused as corrupt, naming the record and both sizes (it aborted node in fs.read)', async () => {
    const size2g = save('size-2g.pth', H.patchedRecordSize(0x80000000))
    const size4g = save('size-4g.pth', H.patchedRecordSize(0xffffffff))
    const pastEnd = save('past-end.pth', H.patchedBothSizes(0xfffffff0))
    const lines = await readInChild([size2g, size4g, pastEnd])
    expect(refused(lines, size2g, 'corrupt')).toMatch(
      /record 'checkpoint-zip\/data\/0' is stored uncompressed, so its two sizes must agree, but the central directory declares 2147483648 bytes uncompressed and 216 bytes stored/,
    )
    expect(refused(lines, size4g, 'corrupt')).toMatch(/declares 4294967295 bytes uncompressed and 216 bytes stored/)
    expect(refused(lines, pastEnd, 'truncated')).toMatch(/record 'checkpoint-zip\/data\/0' .* holds 4294967280 bytes from offset \d+, past the end of the file \(4575 bytes\)/)
  })
})

/** `poster convert FILE --json` in a child process (test/helpers/convert-child.ts, 256 MB heap): exit code and the parsed JSON. */
async function convertInChild(file: string, out: string, limitMs = 60_000): Promise<{exit: number | null; json: {error?: {message: string; exitCode: number}}}> {
  const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', CONVERT_CHILD, file, '--out', out, '--json'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  const exit = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return {exit, json: JSON.parse(stdout) as {error?: {message: string; exitCode: number}}}
}

describe('poster convert on hostile checkpoints', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['size-2g', () => H.patchedRecordSize(0x80000000), /is stored uncompressed.*2147483648 bytes uncompressed and 216 bytes stored/],
    ['long4', () => H.long4Zip(1 << 20), /integer of 1048576 bytes .*at most 2048 bytes/],
    ['stride0', () => H.strideZeroZip(), /tensor 'w0' has 268435455 elements.*at most 67108864 per tensor/],
    ['zip-bomb', () => H.zipBomb(3, 1024), /record 'a\/data\/\d' declares 1073741824 bytes .*a zip bomb/],
    ['amplify', () => H.amplifyingZip(), /the last one builtins\.list\) would iterate or create more than \d+ elements/],
  ]
  it.each(cases)('%s: exit 1 with the reader\'s message, nothing written', async (name, build, message) => {
    const file = save(`${name}.pth`, build())
    const out = join(dir, `${name}.onnx`)
    const r = await convertInChild(file, out)
    expect(r.exit).toBe(1)
    expect(r.json.error!.exitCode).toBe(1)
    expect(r.json.error!.message).toMatch(message)
    expect(readdirSync(dir).filter((f) => f.includes(`${name}.onnx`))).toEqual([])
  })
})

describe('2: huge integers', () => {
  it('a LONG4 with a 1 MiB payload (it hung convert for minutes) and a million-digit text LONG are refused at once', async () => {
    const long4 = save('long4.pth', H.long4Zip(1 << 20))
    const text = save('text-long.pth', H.textLongZip(1 << 20))
    const lines = await readInChild([long4, text], 20_000) // it ran for minutes: 20 s is a hang guard, not a timing
    expect(refused(lines, long4, 'limit')).toMatch(
      /record 'a\/data\.pkl': the pickle holds an integer of 1048576 bytes \(opcode at offset 2\); a checkpoint's integers are at most 2048 bytes \(4300 digits\)/,
    )
    expect(refused(lines, text, 'limit')).toMatch(/the pickle holds an integer of 1048576 digits \(opcode at offset 2\)/)
  })
})

describe('3: pickles that multiply their data through allowed globals', () => {
  it('list(x) of a 100k-element list, 100k times (700 KB; it ran out of heap at 4.3 GB), and the same through tuple, set and BUILD, stop at the work budget', async () => {
    const list = save('amplify-list.pth', H.amplifyingZip(100_000, 100_000))
    const tuple = save('amplify-tuple.pth', H.amplifyingZip(100_000, 100_000, ['builtins', 'tuple']))
    const set = save('amplify-set.pth', H.amplifyingZip(100_000, 100_000, ['builtins', 'frozenset']))
    const dict = save('amplify-odict.pth', H.amplifyingZip(100_000, 100_000, ['collections', 'OrderedDict']))
    const build = save('amplify-build.pth', H.amplifyingBuildZip(100_000, 100_000))
    const lines = await readInChild([list, tuple, set, dict, build])
    const size = H.amplifyingPickle(100_000, 100_000).length
    expect(size).toBe(700_028)
    expect(refused(lines, list, 'limit')).toMatch(
      new RegExp(`record 'a/data\\.pkl': the pickle's calls \\(the last one builtins\\.list\\) would iterate or create more than ${2 ** 20 + 8 * size} elements, ` +
        `the budget for a pickle of ${size} bytes \\(1048576 \\+ 8 per byte\\)`),
    )
    expect(refused(lines, tuple, 'limit')).toMatch(/the last one builtins\.tuple\) would iterate or create more than \d+ elements/)
    expect(refused(lines, set, 'limit')).toMatch(/the last one builtins\.frozenset\)/)
    // OrderedDict(x) of a list of Nones is not a list of pairs: refused as corrupt on the first call, before any work.
    expect(refused(lines, dict, 'corrupt')).toMatch(/collections\.OrderedDict: expected \(key, value\) pairs, found None/)
    expect(refused(lines, build, 'limit')).toMatch(/the last one BUILD of a __main__\.Meter object\) would iterate or create more than/)
  })

  it('real checkpoint pickles need less than one element of work per byte', async () => {
    const {unpickle} = await import('../../src/checkpoint/unpickle.js')
    const {storageFromPid} = await import('../../src/checkpoint/globals.js')
    const {ZipArchive} = await import('../../src/checkpoint/zip.js')
    const {releasedCheckpoint, torchSave} = await import('../helpers/torch-save.js')
    const {posterManifest} = await import('../../src/poster/deterministic-weights.js')
    const {open} = await import('node:fs/promises')
    // torch's own output (RecorderMeter objects with numpy arrays, an optimizer dict), and the released POSTER++
    // layout with every one of its 747 keys (tensors of the real rank, one element each), read with a budget of
    // one element per byte of pickle and no floor.
    const released = join(dir, 'released-layout.pth')
    const tiny = posterManifest(7).map((e) => [e.key, {dtype: 'float32' as const, shape: e.shape.map(() => 1), data: new Float32Array(1)}] as [string, HostTensor])
    torchSave(released, releasedCheckpoint(tiny, {epoch: 200, bestAcc: 92.21}))
    for (const path of [fileURLToPath(new URL('../fixtures/torch/checkpoint-zip.pth', import.meta.url)), released]) {
      const fh = await open(path, 'r')
      try {
        const zip = await ZipArchive.open(fh, (await fh.stat()).size)
        const name = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl'))!
        const pkl = await zip.read(zip.entries.get(name)!)
        const {value} = unpickle(pkl, {persistentLoad: (pid) => storageFromPid(pid).storage, workBudget: pkl.length})
        expect((value as Map<string, unknown>).has('state_dict'), path).toBe(true)
      } finally {
        await fh.close()
      }
    }
  })
})

describe('4: views far larger than their storage', () => {
  it('8 stride-0 tensors of 268435455 elements over 4 elements (1 KB; it took 8.4 GB), many smaller expanded views, and a storage claiming 2^40 elements are refused before anything is allocated', async () => {
    const stride0 = save('stride0.pth', H.strideZeroZip(8, 268435455))
    const many = save('many-expanded.pth', H.manyExpandedZip(64, 1 << 24))
    const claim = save('claim.pth', H.hugeStorageClaimZip())
    const lines = await readInChild([stride0, many, claim])
    expect(refused(lines, stride0, 'limit')).toMatch(
      /tensor 'w0' has 268435455 elements \(shape \[268435455\], stride \[0\], over a storage of 4\); this reader takes at most 67108864 per tensor/,
    )
    expect(refused(lines, many, 'limit')).toMatch(
      /the state dict's 64 tensors would take 4294967296 bytes, more than their storages hold \(256 bytes\) by over 67108864: views that repeat elements/,
    )
    expect(refused(lines, claim, 'corrupt')).toMatch(/tensor 'w' does not fit its storage 0: the storage should hold 1099511627776 float32 elements but its record has 16 bytes/)
  })

  it('checkView: negative storage offsets and sizes (legacy storage views) and views past their storage are corrupt', async () => {
    const {checkView} = await import('../../src/checkpoint/tensors.js')
    const {StorageRef, TensorRef} = await import('../../src/checkpoint/pyobjects.js')
    const view = (offset: number, numel: number, shape: number[], stride: number[], storageOffset = 0) =>
      new TensorRef(new StorageRef('0', 'float32', 'cpu', numel, offset), storageOffset, shape, stride, false)
    expect(() => checkView(view(-4, 4, [4], [1]), 16, 'w')).toThrow(/tensor 'w' does not fit its storage 0: the storage has a negative offset or size \(-4, 4\)/)
    expect(() => checkView(view(0, -1, [1], [1]), 16, 'w')).toThrow(/negative offset or size/)
    expect(() => checkView(view(0, 4, [2, 2], [2, 2]), 16, 'w')).toThrow(/reaches element 4 of 4/)
    expect(() => checkView(view(0, 4, [2], [1], -1), 16, 'w')).toThrow(/negative offset or stride/)
    expect(checkView(view(1, 3, [3, 5], [1, 0]), 16, 'w')).toBe(15)
  })

  it('a modest stride-0 view (a broadcast buffer) is still read, its values repeated', async () => {
    const {readCheckpoint} = await import('../../src/checkpoint/index.js')
    const path = save('broadcast.pth', H.manyExpandedZip(1, 1 << 20))
    const ck = await readCheckpoint(path)
    const t = ck.stateDict.get('w0')!
    expect(t.shape).toEqual([1024, 1024])
    expect(t.data.length).toBe(1 << 20)
    expect((t.data as Float32Array).every((x) => x === 0)).toBe(true)
  })
})

describe('5: zip bombs', () => {
  it('3 records of 1 GiB of zeros (3 MB; it inflated 3 GiB, 9.5 GB peak), a record inflating past its declared size, and an impossible ratio stop at the limit', async () => {
    const bomb = save('bomb.pth', H.zipBomb(3, 1024))
    const lying = save('lying.pth', H.pickleBomb(1024, 4096))
    const ratio = save('ratio.pth', H.pickleBomb(1, 0xfffffff0))
    const partly = save('partly.pth', H.zipBomb(3, 32))
    const lines = await readInChild([bomb, lying, ratio, partly])
    const size = H.zipBomb(3, 1024).length
    const budget = 64 * 2 ** 20 + 16 * size
    expect(refused(lines, bomb, 'limit')).toMatch(
      new RegExp(`record 'a/data/\\d' declares 1073741824 bytes decompressed from \\d+: more than this reader inflates from a ${size}-byte file ` +
        `\\(${budget} bytes in all: 67108864 \\+ 16 per byte of file\\); a zip bomb`),
    )
    expect(refused(lines, lying, 'corrupt')).toMatch(/record 'a\/data\.pkl' decompresses to more than the 4096 bytes it declares/)
    expect(refused(lines, ratio, 'corrupt')).toMatch(/record 'a\/data\.pkl' declares 4294967280 bytes decompressed from \d+ bytes, which deflate cannot do \(it expands data at most 1032 times\)/)
    // Two records of 32 MiB fit the budget of a 100 KB file, the third does not.
    expect(refused(lines, partly, 'limit')).toMatch(/record 'a\/data\/\d' declares 33554432 bytes .*, 67108864 already inflated\); a zip bomb/)
  })

  it('an honest deflated checkpoint within the budget is read', async () => {
    const {readCheckpoint} = await import('../../src/checkpoint/index.js')
    const ck = await readCheckpoint(save('small-zeros.pth', H.zipBomb(2, 16)))
    expect([...ck.stateDict.keys()]).toEqual(['w0', 'w1'])
    expect(Array.from(ck.stateDict.get('w1')!.data as Float32Array)).toEqual([0, 0, 0, 0])
  })
})

describe('the hostile corpus (test/fixtures/torch/hostile/)', () => {
  it('holds exactly the files the recipes build', () => {
    expect(readdirSync(H.CORPUS_DIR).sort()).toEqual(H.CORPUS.map((c) => c.file).sort())
    for (const c of H.CORPUS) {
      const committed = readFileSync(join(H.CORPUS_DIR, c.file))
      expect(Buffer.compare(committed, Buffer.from(c.build())), c.file).toBe(0)
      expect(committed.length, c.file).toBeLessThan(200_000)
    }
  })

  it('every file is refused with its code and message, in bounded memory', async () => {
    const lines = await readInChild(H.CORPUS.map((c) => join(H.CORPUS_DIR, c.file)))
    for (const c of H.CORPUS) expect(refused(lines, join(H.CORPUS_DIR, c.file), c.code), c.file).toMatch(c.message)
  })
})

describe('hostile files no test foresaw', () => {
  it('1000 random mutations of real and hostile checkpoints: each read or refused with a CheckpointError about the file, in bounded memory', async () => {
    // A fixed seed, so a failure can be replayed (POSTER_FUZZ_SEED tries others).
    const seed = process.env.POSTER_FUZZ_SEED ?? '14'
    const fixtures = fileURLToPath(new URL('../fixtures/torch/', import.meta.url))
    const bases = [
      ...['checkpoint-zip.pth', 'checkpoint-legacy.pth', 'state-dict-only.pth'].map((f) => join(fixtures, f)),
      ...H.CORPUS.map((c) => join(H.CORPUS_DIR, c.file)),
    ]
    const mutants = mkdtempSync(join(dir, 'mutants-'))
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', fileURLToPath(new URL('../helpers/mutation-child.ts', import.meta.url)), seed, '1000', mutants, ...bases], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    clearTimeout(timer)
    expect(code, stderr.slice(-2000)).toBe(0)
    const summary = JSON.parse(stdout) as {outcomes: Record<string, number>; bugs: unknown[]; maxRssMB: number}
    expect(summary.bugs).toEqual([])
    expect(Object.values(summary.outcomes).reduce((a, b) => a + b, 0)).toBe(1000)
    // Some mutants still read, most are refused, and every kind of refusal shows up.
    expect(summary.outcomes.ok).toBeGreaterThan(0)
    for (const kind of ['corrupt', 'truncated', 'limit']) expect(summary.outcomes[kind], kind).toBeGreaterThan(0)
    expect(summary.maxRssMB).toBeLessThan(MAX_RSS_MB)
  })
})
