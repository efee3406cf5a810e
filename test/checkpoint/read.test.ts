import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CheckpointError, readCheckpoint, toFloat32} from '../../src/checkpoint/index.js'
import type {Checkpoint} from '../../src/checkpoint/index.js'
import {NumpyArray, NumpyDType, PyDict, PyObject, TensorRef} from '../../src/checkpoint/pyobjects.js'
import type {HostTensor} from '../../src/tensor.js'
import {rejection} from './helpers.js'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/torch/${name}`, import.meta.url))

interface ExpectedTensor {
  dtype: string
  shape: number[]
  values: number[]
}
const expected = JSON.parse(readFileSync(fixture('expected.json'), 'utf8')) as Record<string, any>
const zipExpected = expected['checkpoint-zip.pth'] as {epoch: number; best_acc: number; state_dict: Record<string, ExpectedTensor>; other_keys: string[]}

function values(t: HostTensor): number[] {
  return Array.from(toFloat32(t))
}


function checkStateDict(ck: Checkpoint, exp: Record<string, ExpectedTensor>) {
  const strip = (k: string) => (k.startsWith('module.') ? k.slice(7) : k)
  expect([...ck.stateDict.keys()]).toEqual(Object.keys(exp).map(strip))
  for (const [key, e] of Object.entries(exp)) {
    const t = ck.stateDict.get(strip(key))!
    expect(t, key).toBeDefined()
    expect(t.dtype, key).toBe(e.dtype)
    expect(t.shape, key).toEqual(e.shape)
    expect(t.data.length, key).toBe(e.values.length)
    // Exact: every expected value is a float32 / float16 / bfloat16 / int value printed by Python in full.
    expect(values(t), key).toEqual(e.values)
  }
}

const EXPECTED_ARRAY: Record<string, string> = {
  float32: 'Float32Array', float16: 'Uint16Array', bfloat16: 'Uint16Array', int64: 'BigInt64Array',
}

describe.each([
  ['checkpoint-zip.pth', 'zip'],
  ['checkpoint-legacy.pth', 'legacy'],
] as const)('%s', (file, format) => {
  let ck: Checkpoint
  beforeAll(async () => {
    ck = await readCheckpoint(fixture(file))
  })

  it(`is read as ${format} with every tensor's dtype, shape and values as expected.json says`, () => {
    expect(ck.format).toBe(format)
    expect(expected[file].format).toBe(format)
    expect(ck.stateDictKey).toBe('state_dict')
    checkStateDict(ck, zipExpected.state_dict)
  })

  it('keeps float16/bfloat16 as raw bit patterns, int64 as BigInt64Array', () => {
    for (const t of ck.stateDict.values()) expect(t.data.constructor.name).toBe(EXPECTED_ARRAY[t.dtype])
    const half = ck.stateDict.get('half')!.data as Uint16Array
    expect(half[0]).toBe(0x2d17) // float16 bits of 0.07952880859375
    const bf = ck.stateDict.get('bf16')!.data as Uint16Array
    expect(bf[1]).toBe(0x400c) // bfloat16 bits of 2.1875
    expect(ck.stateDict.get('bn.num_batches_tracked')!.data).toEqual(BigInt64Array.of(123n))
    expect(ck.stateDict.get('index')!.data).toEqual(BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 5n))
  })

  it('materialises views of one shared storage (transpose, strided slice) as contiguous row-major copies', () => {
    const fc = ck.stateDict.get('fc.weight')!
    const fcT = ck.stateDict.get('fc_t.weight')!
    const slice = ck.stateDict.get('slice')!
    const a = values(fc)
    // fc_t = fc.t(): element [i][j] of fc_t is fc[j][i]
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(values(fcT)[i * 4 + j]).toBe(a[j * 3 + i])
    // slice = storage[4:] viewed as 3x2 with strides (3, 1): rows 1..3 of fc, columns 1..2
    expect(values(slice)).toEqual([a[4], a[5], a[7], a[8], a[10], a[11]])
    // the copies do not alias each other
    expect(fcT.data.buffer).not.toBe(fc.data.buffer)
    expect(slice.data.buffer).not.toBe(fc.data.buffer)
    expect(slice.data.length).toBe(6)
  })

  it('reads 0-d and empty tensors', () => {
    const scalar = ck.stateDict.get('scalar')!
    expect(scalar.shape).toEqual([])
    expect(Array.from(scalar.data as Float32Array)).toEqual([3.5])
    const empty = ck.stateDict.get('empty')!
    expect(empty.shape).toEqual([0, 4])
    expect(empty.data).toBeInstanceOf(Float32Array)
    expect(empty.data.length).toBe(0)
  })

  it('gives epoch and best_acc (a 0-d float32 tensor) as numbers', () => {
    expect(ck.meta.epoch).toBe(zipExpected.epoch)
    expect(ck.meta.best_acc).toBe(zipExpected.best_acc)
    expect(typeof ck.meta.best_acc).toBe('number')
  })

  it('keeps the rest of the checkpoint as inert data: RecorderMeter objects with numpy arrays, the optimizer dict', () => {
    expect(ck.root).toBeInstanceOf(PyDict)
    const root = ck.root as PyDict
    expect([...root.keys()]).toEqual(zipExpected.other_keys)
    for (const [name, epochs] of [['recorder', 3], ['recorder1', 2]] as const) {
      const rec = root.get(name) as PyObject
      expect(rec).toBeInstanceOf(PyObject)
      expect(rec.className).toBe('__main__.RecorderMeter')
      expect(rec.attr('total_epoch')).toBe(epochs)
      const losses = rec.attr('epoch_losses') as NumpyArray
      expect(losses).toBeInstanceOf(NumpyArray)
      expect(losses.shape).toEqual([epochs, 2])
      expect((losses.dtype as NumpyDType).str).toBe('<f4')
      expect(losses.data).toEqual(new Uint8Array(epochs * 2 * 4))
    }
    const opt = root.get('optimizer') as PyDict
    expect(opt).toBeInstanceOf(PyDict)
    const group = (opt.get('param_groups') as PyDict[])[0]!
    expect(group.get('lr')).toBe(3.5e-5)
    expect(group.get('params')).toEqual([0, 1, 2])
    // state-dict tensors stay descriptors in root; every storage was saved from cuda:0 and landed on the host anyway
    const sd = root.get('state_dict') as PyDict
    const ref = sd.get('module.conv.weight') as TensorRef
    expect(ref).toBeInstanceOf(TensorRef)
    expect(ref.storage.location).toBe(expected['checkpoint-zip.pth'].storage_location)
  })
})

describe('state-dict-only.pth', () => {
  it('reads a bare state dict (no wrapper, no prefix)', async () => {
    const ck = await readCheckpoint(fixture('state-dict-only.pth'))
    expect(ck.format).toBe(expected['state-dict-only.pth'].format)
    expect(ck.stateDictKey).toBe('')
    expect(ck.meta).toEqual({})
    checkStateDict(ck, expected['state-dict-only.pth'].state_dict)
  })
})

describe('options', () => {
  it('keys: reads only the selected tensors', async () => {
    const seen: string[] = []
    const ck = await readCheckpoint(fixture('checkpoint-zip.pth'), {keys: (k) => (seen.push(k), k.startsWith('bn.'))})
    expect(seen).toContain('conv.weight')
    expect([...ck.stateDict.keys()]).toEqual(['bn.weight', 'bn.running_var', 'bn.num_batches_tracked'])
  })

  it('sha256: hashes the file', async () => {
    const ck = await readCheckpoint(fixture('checkpoint-legacy.pth'), {sha256: true})
    expect(ck.sha256).toBe(createHash('sha256').update(readFileSync(fixture('checkpoint-legacy.pth'))).digest('hex'))
  })

  it('onProgress: reports bytes up to the total', async () => {
    const calls: [number, number][] = []
    await readCheckpoint(fixture('checkpoint-zip.pth'), {onProgress: (a, b) => calls.push([a, b])})
    expect(calls).toHaveLength(12)
    expect(calls[calls.length - 1]![0]).toBe(calls[0]![1])
  })
})

describe('malicious.pth', () => {
  const path = fixture('malicious.pth')
  // What the pickle would run: posix.system('touch /tmp/poster-checkpoint-pwned').
  const command = 'touch /tmp/poster-checkpoint-pwned'
  const marker = '/tmp/poster-checkpoint-pwned'

  it('is refused, naming os.system, and nothing is executed', async () => {
    const raw = readFileSync(path)
    expect(raw.includes(Buffer.from('cposix\nsystem\n'))).toBe(true)
    expect(raw.includes(Buffer.from(command))).toBe(true)
    rmSync(marker, {force: true})
    expect(existsSync(marker)).toBe(false)

    const err = await rejection(readCheckpoint(path))
    expect(err.code).toBe('refused')
    expect(err.message).toContain('os.system')
    expect(err.message).toContain('posix.system')
    expect(err.message).toMatch(/refusing to load/)
    expect(err.message).toContain(path)
    expect(existsSync(marker)).toBe(false)

    // Even when no tensor is wanted the pickle is refused as a whole.
    expect((await rejection(readCheckpoint(path, {keys: () => false}))).code).toBe('refused')
    expect(existsSync(marker)).toBe(false)
  })
})

describe('damaged and foreign files', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'poster-ckpt-'))
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  const write = (name: string, data: Uint8Array | string) => {
    const p = join(dir, name)
    writeFileSync(p, data)
    return p
  }

  it('truncated.pth: says the file is cut short and where', async () => {
    const err = await rejection(readCheckpoint(fixture('truncated.pth')))
    expect(err.code).toBe('truncated')
    expect(err.message).toMatch(/truncated/)
    expect(err.message).toContain("the last one 'checkpoint-zip/data/2'")
    expect(err.message).toContain("record 'checkpoint-zip/data/3' at offset 2648 is cut short")
  })

  it('not-a-checkpoint.pth: says what the file looks like', async () => {
    const err = await rejection(readCheckpoint(fixture('not-a-checkpoint.pth')))
    expect(err.code).toBe('not-a-checkpoint')
    expect(err.message).toMatch(/not a PyTorch checkpoint: expected a zip archive .* or a legacy pickle .*, found text: "this is not a checkpoint\\n"/)
  })

  it('a zip checkpoint cut inside a storage record names the record', async () => {
    const full = readFileSync(fixture('checkpoint-zip.pth'))
    const err = await rejection(readCheckpoint(write('cut-data.pth', full.subarray(0, 2100))))
    expect(err.code).toBe('truncated')
    expect(err.message).toMatch(/record 'checkpoint-zip\/data\/0' \(data from offset \d+\) is cut short/)
  })

  it('a zip checkpoint cut in its central directory', async () => {
    const full = readFileSync(fixture('checkpoint-zip.pth'))
    const err = await rejection(readCheckpoint(write('cut-cd.pth', full.subarray(0, full.length - 100))))
    expect(err.code).toBe('truncated')
    expect(err.message).toMatch(/13 records are complete.*central directory/)
  })

  it('a legacy checkpoint cut inside its storages names the storage', async () => {
    const full = readFileSync(fixture('checkpoint-legacy.pth'))
    const err = await rejection(readCheckpoint(write('cut-legacy.pth', full.subarray(0, full.length - 3))))
    expect(err.code).toBe('truncated')
    expect(err.message).toMatch(/storage \d+ \(11 of 11, header at offset \d+\) needs 6 bytes from offset 2744 but the file ends at 2747; 10 of 11 storages are complete/)
    const early = await rejection(readCheckpoint(write('cut-legacy2.pth', full.subarray(0, 500))))
    expect(early.code).toBe('truncated')
    expect(early.message).toMatch(/checkpoint pickle, starting at offset 137, is cut short/)
  })

  it('empty files, HTML pages, LFS pointers, gzip and binary junk are described', async () => {
    const cases: [string, string | Uint8Array, RegExp][] = [
      ['empty.pth', '', /the file is empty/],
      ['page.pth', '<!DOCTYPE html><html><body>Not Found</body></html>', /HTML/],
      ['lfs.pth', 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n', /Git LFS pointer/],
      ['gz.pth', Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0), /gzip/],
      ['junk.pth', Uint8Array.of(0, 1, 2, 3, 250, 251), /binary data starting with 00 01 02 03 fa fb/],
    ]
    for (const [name, data, re] of cases) {
      const err = await rejection(readCheckpoint(write(name, data)))
      expect(err.code, name).toBe('not-a-checkpoint')
      expect(err.message, name).toMatch(/not a PyTorch checkpoint/)
      expect(err.message, name).toMatch(re)
    }
  })

  it('a plain pickle (not torch.save) is not a checkpoint', async () => {
    const err = await rejection(readCheckpoint(write('plain.pkl', Uint8Array.of(0x80, 2, 0x7d, 0x2e))))
    expect(err.code).toBe('not-a-checkpoint')
    expect(err.message).toMatch(/Python pickle of a dict, not a torch\.save file/)
  })

  it('a missing file is an io error', async () => {
    const err = await rejection(readCheckpoint(join(dir, 'nope.pth')))
    expect(err.code).toBe('io')
    expect(err.message).toMatch(/cannot open the checkpoint/)
  })
})
