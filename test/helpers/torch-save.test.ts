/**
 * The test torch.save writer, checked against the project's reader (and against torch.load itself when Debian's
 * python3-torch is installed): values, dtypes, shapes, shared storages and views, metadata, the inert recorder.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PyDict, PyObject, readCheckpoint, TensorRef, toFloat32, unpickle} from '../../src/checkpoint/index.js'
import {ZipArchive} from '../../src/checkpoint/zip.js'
import type {HostTensor} from '../../src/tensor.js'
import {
  crc32,
  pickleTorch,
  pyFloat,
  pyInstance,
  pyTuple,
  releasedCheckpoint,
  torchSave,
  torchSaveBytes,
  torchTensor,
  type PyValue,
} from './torch-save.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poster-torchsave-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const WEIGHTS: [string, HostTensor][] = [
  ['conv.weight', {dtype: 'float32', shape: [2, 1, 2, 2], data: Float32Array.from({length: 8}, (_, i) => i / 4 - 1)}],
  ['bn.running_var', {dtype: 'float32', shape: [2], data: Float32Array.of(0.5, 2)}],
  ['bn.num_batches_tracked', {dtype: 'int64', shape: [], data: BigInt64Array.of(12345n)}],
  ['attn.relative_position_index', {dtype: 'int64', shape: [2, 2], data: BigInt64Array.of(0n, 1n, 2n, -3n)}],
  ['half', {dtype: 'float16', shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7bff)}],
  ['empty', {dtype: 'float32', shape: [0, 4], data: new Float32Array(0)}],
]

function values(t: HostTensor): number[] {
  return t.dtype === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(toFloat32(t))
}

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926)
    expect(crc32(new Uint8Array(0))).toBe(0)
    const long = Uint8Array.from({length: 1037}, (_, i) => (i * 31 + 7) & 0xff)
    // Split anywhere, continued from the previous value: same result as in one go (and the 8-byte fast path agrees with the tail loop).
    expect(crc32(long.subarray(501), crc32(long.subarray(0, 501)))).toBe(crc32(long))
    expect(crc32(new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339)
  })
})

describe('torchSave → readCheckpoint', () => {
  it('round-trips the released checkpoint layout: values, dtypes, shapes, prefix stripped, epoch and best_acc', async () => {
    const path = join(dir, 'released.pth')
    const size = torchSave(path, releasedCheckpoint(WEIGHTS, {epoch: 137, bestAcc: 92.21}))
    expect(readFileSync(path).length).toBe(size)
    const ck = await readCheckpoint(path, {sha256: true})
    expect(ck.format).toBe('zip')
    expect(ck.stateDictKey).toBe('state_dict')
    expect([...ck.stateDict.keys()]).toEqual(WEIGHTS.map(([k]) => k))
    for (const [k, t] of WEIGHTS) {
      const got = ck.stateDict.get(k)!
      expect(got.dtype, k).toBe(t.dtype)
      expect(got.shape, k).toEqual(t.shape)
      expect(values(got), k).toEqual(values(t))
    }
    expect(Array.from(ck.stateDict.get('half')!.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x7bff])
    expect(ck.meta.epoch).toBe(137)
    expect(ck.meta.best_acc).toBe(92.21)
    expect(ck.sha256).toMatch(/^[0-9a-f]{64}$/)

    // The rest of the pickle is inert data: the recorders are PyObjects with their state, never run.
    const root = ck.root as PyDict
    const rec = root.get('recorder')
    expect(rec).toBeInstanceOf(PyObject)
    expect((rec as PyObject).className).toBe('__main__.RecorderMeter')
    const state = (rec as PyObject).state as PyDict
    expect(state.get('total_epoch')).toBe(4)
    expect(state.get('epoch_losses')).toEqual([[0, 0], [0, 0], [0, 0], [0, 0]])
    expect(root.get('recorder1')).toBeInstanceOf(PyObject)
    // Every storage carries the 'cuda:0' tag of the released files.
    const sd = root.get('state_dict') as PyDict
    expect(sd.pyClass).toBe('collections.OrderedDict')
    for (const v of sd.values()) expect((v as TensorRef).storage.location).toBe('cuda:0')
    expect([...sd.keys()].every((k) => String(k).startsWith('module.'))).toBe(true)
  })

  it('writes torch\'s archive layout: stored records, data aligned to 64 bytes, version and byteorder', async () => {
    const path = join(dir, 'layout.pth')
    torchSave(path, releasedCheckpoint(WEIGHTS), {archiveName: 'released'})
    const fh = await open(path, 'r')
    try {
      const zip = await ZipArchive.open(fh, (await fh.stat()).size)
      const names = [...zip.entries.keys()]
      expect(names[0]).toBe('released/data.pkl')
      expect(names).toContain('released/version')
      expect(names).toContain('released/byteorder')
      const storages = names.filter((n) => n.startsWith('released/data/'))
      // One record per storage: the six weights and best_acc.
      expect(storages).toHaveLength(WEIGHTS.length + 1)
      for (const e of zip.entries.values()) {
        expect(e.method, e.name).toBe(0)
        expect((await zip.dataOffset(e)) % 64, e.name).toBe(0)
      }
      expect(new TextDecoder().decode(await zip.read(zip.entries.get('released/version')!))).toBe('3\n')
      expect(new TextDecoder().decode(await zip.read(zip.entries.get('released/byteorder')!))).toBe('little')
    } finally {
      await fh.close()
    }
  })

  it('shares one storage between views (offsets, strides) and reads them back as torch would', async () => {
    const base = Float32Array.from({length: 12}, (_, i) => i)
    const t = (shape: number[], view: {offset?: number; stride?: number[]}) => torchTensor({dtype: 'float32', shape, data: base}, view)
    const sd = new Map<PyValue, PyValue>([
      ['whole', t([3, 4], {})],
      ['transposed', t([4, 3], {stride: [1, 4]})],
      ['row', t([4], {offset: 8})],
      ['column', t([3], {offset: 1, stride: [4]})],
    ])
    const bytes = torchSaveBytes({state_dict: sd, epoch: 1})
    const path = join(dir, 'views.pth')
    writeFileSync(path, bytes)
    const ck = await readCheckpoint(path)
    expect(Array.from(ck.stateDict.get('whole')!.data as Float32Array)).toEqual(Array.from(base))
    expect(Array.from(ck.stateDict.get('transposed')!.data as Float32Array)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    expect(Array.from(ck.stateDict.get('row')!.data as Float32Array)).toEqual([8, 9, 10, 11])
    expect(Array.from(ck.stateDict.get('column')!.data as Float32Array)).toEqual([1, 5, 9])
    const {storages} = pickleTorch({state_dict: sd})
    expect(storages).toHaveLength(1)
  })

  it('encodes plain Python data: ints of every width, floats, strings, None, bools, tuples, lists, dicts', () => {
    const obj: PyValue = {
      small: 7,
      mid: 40000,
      neg: -5,
      i32: 2 ** 31 - 1,
      big: 2 ** 40,
      huge: 2n ** 70n,
      negHuge: -(2n ** 70n),
      f: 0.1,
      integralFloat: pyFloat(3),
      s: 'ünïcode ✓',
      none: null,
      t: true,
      n: false,
      tuples: [pyTuple(), pyTuple(1), pyTuple(1, 2), pyTuple(1, 2, 3), pyTuple(1, 2, 3, 4)],
      nested: {inner: [1, [2, 'x']]},
      ordered: new Map<PyValue, PyValue>([[1, 'a'], ['b', 2]]),
      obj: pyInstance('__main__', 'Thing', {x: 1}),
    }
    const {pickle} = pickleTorch(obj)
    const {value} = unpickle(pickle)
    const d = value as PyDict
    expect(d.get('small')).toBe(7)
    expect(d.get('mid')).toBe(40000)
    expect(d.get('neg')).toBe(-5)
    expect(d.get('i32')).toBe(2 ** 31 - 1)
    expect(Number(d.get('big'))).toBe(2 ** 40)
    expect(BigInt(d.get('huge') as bigint)).toBe(2n ** 70n)
    expect(BigInt(d.get('negHuge') as bigint)).toBe(-(2n ** 70n))
    expect(d.get('f')).toBe(0.1)
    expect(d.get('integralFloat')).toBe(3)
    expect(d.get('s')).toBe('ünïcode ✓')
    expect(d.get('none')).toBeNull()
    expect(d.get('t')).toBe(true)
    expect(d.get('n')).toBe(false)
    expect(d.get('tuples')).toEqual([[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]])
    expect((d.get('nested') as PyDict).get('inner')).toEqual([1, [2, 'x']])
    const ordered = d.get('ordered') as PyDict
    expect(ordered.pyClass).toBe('collections.OrderedDict')
    expect([...ordered]).toEqual([[1, 'a'], ['b', 2]])
    const thing = d.get('obj') as PyObject
    expect(thing.className).toBe('__main__.Thing')
    expect((thing.state as PyDict).get('x')).toBe(1)
  })

  it('refuses to pair a typed array with a dtype it cannot hold', () => {
    expect(() => pickleTorch(torchTensor({dtype: 'int64', shape: [1], data: Float32Array.of(1)}))).toThrow(/cannot hold a int64/)
  })
})

// torch.load of the helper's output, where Debian's python3-torch is installed (not needed for the suite).
const PYTHON = '/usr/bin/python3'
const hasTorch = (() => {
  try {
    return spawnSync(PYTHON, ['-c', 'import torch'], {timeout: 60_000}).status === 0
  } catch {
    return false
  }
})()

describe.skipIf(!hasTorch)('torch.load reads the helper\'s files (python3-torch present)', () => {
  it('loads the released layout with the recorder class defined, CUDA storages mapped to the CPU', () => {
    const path = join(dir, 'for-torch.pth')
    torchSave(path, releasedCheckpoint(WEIGHTS, {epoch: 200, bestAcc: 92.21}))
    const script = [
      'import sys, json, torch',
      'class RecorderMeter: pass',
      'd = torch.load(sys.argv[1], map_location="cpu")',
      'sd = d["state_dict"]',
      'print(json.dumps({"epoch": d["epoch"], "best_acc": round(float(d["best_acc"]), 4), "best_dtype": str(d["best_acc"].dtype),',
      '  "keys": list(sd.keys()), "dtypes": [str(v.dtype) for v in sd.values()], "shapes": [list(v.shape) for v in sd.values()],',
      '  "values": [v.double().flatten().tolist() for v in sd.values()], "total_epoch": d["recorder"].total_epoch}))',
    ].join('\n')
    const r = spawnSync(PYTHON, ['-c', script, path], {encoding: 'utf8', timeout: 120_000})
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as {epoch: number; best_acc: number; best_dtype: string; keys: string[]; dtypes: string[]; shapes: number[][]; values: number[][]; total_epoch: number}
    expect(out.epoch).toBe(200)
    expect(out.best_acc).toBe(92.21)
    expect(out.best_dtype).toBe('torch.float32')
    expect(out.keys).toEqual(WEIGHTS.map(([k]) => `module.${k}`))
    expect(out.dtypes).toEqual(WEIGHTS.map(([, t]) => `torch.${t.dtype}`))
    expect(out.shapes).toEqual(WEIGHTS.map(([, t]) => t.shape))
    expect(out.values).toEqual(WEIGHTS.map(([, t]) => values(t)))
    expect(out.total_epoch).toBe(4)
  })
})
