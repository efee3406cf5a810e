/** Hand-assembled torch.save archives: every dtype, strides, zip64, deflate, wrappers and malformed variants. */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CheckpointError, readCheckpoint, toFloat32} from '../../src/checkpoint/index.js'
import {OP, bytes, dictPickle, global, int, makeZip, rejection, str, tensorOps, tuple} from './helpers.js'
import type {TensorSpec, ZipInput} from './helpers.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poster-synth-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

let counter = 0
function save(data: Uint8Array): string {
  const p = join(dir, `c${counter++}.pth`)
  writeFileSync(p, data)
  return p
}

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** Storages of the synthetic checkpoint, by key. */
const STORAGES: Record<string, {type: string; data: Uint8Array}> = {
  '0': {type: 'DoubleStorage', data: u8(Float64Array.of(0, 1, 2, 3, 4, 5))},
  '1': {type: 'IntStorage', data: u8(Int32Array.of(-1, 2, 2147483647, -2147483648))},
  '2': {type: 'ShortStorage', data: u8(Int16Array.of(-32768, 7, 32767))},
  '3': {type: 'CharStorage', data: u8(Int8Array.of(-128, 127))},
  '4': {type: 'ByteStorage', data: Uint8Array.of(0, 255, 17)},
  '5': {type: 'BoolStorage', data: Uint8Array.of(1, 0, 1)},
  '6': {type: 'LongStorage', data: u8(BigInt64Array.of(2n ** 62n, -5n))},
  '7': {type: 'FloatStorage', data: u8(Float32Array.from({length: 24}, (_, i) => i))},
  '8': {type: 'HalfStorage', data: u8(Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001))},
  '9': {type: 'BFloat16Storage', data: u8(Uint16Array.of(0x3fc0, 0xff61))},
}

function spec(key: string, offset: number, shape: number[], stride: number[]): TensorSpec {
  const s = STORAGES[key]!
  const es = {DoubleStorage: 8, LongStorage: 8, FloatStorage: 4, IntStorage: 4, ShortStorage: 2, HalfStorage: 2, BFloat16Storage: 2}[s.type] ?? 1
  return {storageType: s.type, key, storageNumel: s.data.length / es, offset, shape, stride, location: 'cuda:0'}
}

const TENSORS: [string, TensorSpec][] = [
  ['module.f64_t', spec('0', 0, [3, 2], [1, 3])], // transpose of a 2x3
  ['module.i32', spec('1', 0, [4], [1])],
  ['module.i16', spec('2', 1, [2], [1])], // offset view
  ['module.i8', spec('3', 0, [2], [1])],
  ['module.u8', spec('4', 0, [3], [1])],
  ['module.b', spec('5', 0, [3], [1])],
  ['module.i64', spec('6', 0, [2], [1])],
  ['module.perm', spec('7', 0, [4, 2, 3], [1, 12, 4])], // a 2x3x4 permuted to (2, 0, 1)
  ['module.expand', spec('7', 5, [2, 3], [0, 1])], // stride-0 broadcast
  ['module.step', spec('7', 1, [3, 2], [8, 3])], // strided sub-block
  ['module.f32', spec('7', 0, [24], [1])], // covers the whole storage: zero-copy
  ['module.h', spec('8', 1, [3], [1])],
  ['module.bf', spec('9', 0, [2], [1])],
  ['module.scalar', spec('8', 0, [], [])],
]

function archive(opts: {prefix?: string; zip64?: boolean; deflate?: boolean; wrapper?: string; extra?: [number[], number[]][]; tensors?: [string, TensorSpec][]; pickle?: Uint8Array; skip?: string} = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive'
  const sd = [...global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE, OP.MARK,
    ...(opts.tensors ?? TENSORS).flatMap(([k, t]) => [...str(k), ...tensorOps(t)]), OP.SETITEMS]
  const pickle = opts.pickle ?? (opts.wrapper === undefined
    ? bytes(OP.PROTO, 2, ...sd, OP.STOP)
    : dictPickle([[str('epoch'), int(7)], [str(opts.wrapper), sd], ...(opts.extra ?? [])]))
  const files: ZipInput[] = [{name: `${prefix}/data.pkl`, data: pickle, deflate: opts.deflate}]
  for (const [key, s] of Object.entries(STORAGES)) {
    if (key !== opts.skip) files.push({name: `${prefix}/data/${key}`, data: s.data, deflate: opts.deflate})
  }
  files.push({name: `${prefix}/version`, data: bytes('3\n')})
  return makeZip(files, {zip64: opts.zip64})
}


describe('synthetic zip checkpoints', () => {
  const variants: [string, {prefix?: string; zip64?: boolean; deflate?: boolean}][] = [
    ['plain', {}],
    ['zip64 records', {zip64: true}],
    ['deflated records', {deflate: true}],
    ['another archive name', {prefix: 'my_model-epoch3'}],
  ]
  for (const [name, opts] of variants) {
    it(`reads every dtype and view (${name})`, async () => {
      const ck = await readCheckpoint(save(archive(opts)))
      const sd = ck.stateDict
      expect(ck.format).toBe('zip')
      const get = (k: string) => sd.get(k)!
      expect([...sd.keys()]).toEqual(TENSORS.map(([k]) => k.slice('module.'.length)))
      expect(get('f64_t')).toEqual({dtype: 'float64', shape: [3, 2], data: Float64Array.of(0, 3, 1, 4, 2, 5)})
      expect(get('i32')).toEqual({dtype: 'int32', shape: [4], data: Int32Array.of(-1, 2, 2147483647, -2147483648)})
      expect(get('i16')).toEqual({dtype: 'int16', shape: [2], data: Int16Array.of(7, 32767)})
      expect(get('i8')).toEqual({dtype: 'int8', shape: [2], data: Int8Array.of(-128, 127)})
      expect(get('u8')).toEqual({dtype: 'uint8', shape: [3], data: Uint8Array.of(0, 255, 17)})
      expect(get('b')).toEqual({dtype: 'bool', shape: [3], data: Uint8Array.of(1, 0, 1)})
      expect(get('i64')).toEqual({dtype: 'int64', shape: [2], data: BigInt64Array.of(2n ** 62n, -5n)})
      // x = arange(24).reshape(2, 3, 4); perm = x.permute(2, 0, 1): perm[i][j][k] = x[j][k][i] = 12j + 4k + i
      const perm: number[] = []
      for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) perm.push(12 * j + 4 * k + i)
      expect(Array.from(get('perm').data as Float32Array)).toEqual(perm)
      expect(Array.from(get('expand').data as Float32Array)).toEqual([5, 6, 7, 5, 6, 7])
      expect(Array.from(get('step').data as Float32Array)).toEqual([1, 4, 9, 12, 17, 20])
      const whole = get('f32').data as Float32Array
      expect(Array.from(whole)).toEqual(Array.from({length: 24}, (_, i) => i))
      if (!opts.deflate) expect(whole.buffer.byteLength).toBe(96) // a view of the record's own buffer, not a copy
      expect(get('h').dtype).toBe('float16')
      expect(Array.from(toFloat32(get('h')))).toEqual([-2, 65504, 2 ** -24])
      expect(Array.from(toFloat32(get('bf')))).toEqual([1.5, -(1 + 97 / 128) * 2 ** 127])
      expect(get('scalar')).toEqual({dtype: 'float16', shape: [], data: Uint16Array.of(0x3c00)})
      expect(Array.from(toFloat32(get('scalar')))).toEqual([1])
    })
  }

  for (const wrapper of ['state_dict', 'model', 'model_state_dict']) {
    it(`finds the state dict under '${wrapper}' and reads the metadata`, async () => {
      const numpyBestAcc = [...global('numpy.core.multiarray', 'scalar'),
        ...global('numpy', 'dtype'), ...str('f8'), OP.NEWFALSE, OP.NEWTRUE, OP.TUPLE3, OP.REDUCE,
        ...tuple(int(3), str('<'), [OP.NONE], [OP.NONE], [OP.NONE], int(0), int(0), int(0)), OP.BUILD,
        OP.SHORT_BINBYTES, 8, ...new Uint8Array(Float64Array.of(87.5).buffer), OP.TUPLE2, OP.REDUCE]
      const ck = await readCheckpoint(save(archive({
        wrapper,
        extra: [[str('best_acc'), numpyBestAcc], [str('arch'), str('poster_v2')], [str('lr'), [OP.BINFLOAT, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc]]],
      })))
      expect(ck.stateDictKey).toBe(wrapper)
      expect(ck.stateDict.size).toBe(TENSORS.length)
      expect(ck.meta).toEqual({epoch: 7, best_acc: 87.5, arch: 'poster_v2', lr: 0.001})
    })
  }

  it('accepts nn.Parameter entries (_rebuild_parameter)', async () => {
    const param = [...global('torch._utils', '_rebuild_parameter'), OP.MARK, ...tensorOps(spec('7', 0, [2, 3], [3, 1])), OP.NEWTRUE,
      ...global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE, OP.REDUCE]
    const pickle = bytes(OP.PROTO, 2, OP.EMPTY_DICT, ...str('w'), ...param, OP.SETITEM, OP.STOP)
    const ck = await readCheckpoint(save(archive({pickle})))
    expect(Array.from(ck.stateDict.get('w')!.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5])
  })
})

describe('malformed synthetic checkpoints', () => {
  it('a missing storage record', async () => {
    const err = await rejection(readCheckpoint(save(archive({skip: '4'}))))
    expect(err.code).toBe('corrupt')
    expect(err.message).toMatch(/storage 4 but its record 'archive\/data\/4' is missing/)
  })

  it('a view that reaches past its storage', async () => {
    const err = await rejection(readCheckpoint(save(archive({tensors: [['w', spec('7', 20, [2, 3], [3, 1])]]}))))
    expect(err.code).toBe('corrupt')
    expect(err.message).toMatch(/tensor 'w' does not fit its storage 7/)
  })

  it('a zip without data.pkl, and a TorchScript archive', async () => {
    const other = await rejection(readCheckpoint(save(makeZip([{name: 'readme.txt', data: bytes('hi')}]))))
    expect(other.code).toBe('not-a-checkpoint')
    expect(other.message).toMatch(/zip archive without a data\.pkl record.*'readme\.txt'/)
    const ts = await rejection(readCheckpoint(save(makeZip([{name: 'm/constants.pkl', data: bytes(OP.PROTO, 2, OP.NONE, OP.STOP)}, {name: 'm/code/m.py', data: bytes('')}]))))
    expect(ts.code).toBe('unsupported')
    expect(ts.message).toMatch(/TorchScript/)
  })

  it('a checkpoint without tensors', async () => {
    const err = await rejection(readCheckpoint(save(archive({pickle: dictPickle([[str('epoch'), int(1)], [str('note'), str('x')]])}))))
    expect(err.code).toBe('no-state-dict')
    expect(err.message).toMatch(/top-level keys are 'epoch', 'note'/)
  })

  it('a refused global inside a zip names it', async () => {
    const pickle = bytes(OP.PROTO, 2, ...global('builtins', 'exec'), ...str('import os'), OP.TUPLE1, OP.REDUCE, OP.STOP)
    const err = await rejection(readCheckpoint(save(archive({pickle}))))
    expect(err.code).toBe('refused')
    expect(err.message).toMatch(/builtins\.exec/)
  })
})

describe('synthetic legacy checkpoints', () => {
  /** A pre-1.6 file: magic, protocol, sys_info, the object, the key list, then each storage with its count. */
  function legacy(littleEndian: boolean): Uint8Array {
    const magic = bytes(OP.PROTO, 2, OP.LONG1, 10, ...[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], OP.STOP)
    const proto = bytes(OP.PROTO, 2, OP.BININT2, 0xe9, 0x03, OP.STOP)
    const sys = dictPickle([[str('protocol_version'), [OP.BININT2, 0xe9, 0x03]], [str('little_endian'), [littleEndian ? OP.NEWTRUE : OP.NEWFALSE]]])
    const pid = (view: number[]) => [...tuple(str('storage'), global('torch', 'FloatStorage'), str('140'), str('cuda:0'), int(6), view), OP.BINPERSID]
    const rebuild = (p: number[], offset: number, shape: number[], stride: number[]) => [
      ...global('torch._utils', '_rebuild_tensor_v2'),
      ...tuple(p, int(offset), tuple(...shape.map(int)), tuple(...stride.map(int)), [OP.NEWFALSE], [...global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE]),
      OP.REDUCE,
    ]
    const main = dictPickle([
      [str('whole'), rebuild(pid([OP.NONE]), 0, [2, 3], [3, 1])],
      // an old-style storage view: elements 2..4 of storage 140, under the view key '141'
      [str('view'), rebuild(pid(tuple(str('141'), int(2), int(3))), 1, [2], [1])],
    ])
    const keys = bytes(OP.PROTO, 2, OP.EMPTY_LIST, ...str('140'), OP.APPEND, OP.STOP)
    const values = Float32Array.of(10, 11, 12, 13, 14, 15)
    const data = new Uint8Array(8 + 24)
    const dv = new DataView(data.buffer)
    dv.setBigInt64(0, 6n, littleEndian)
    values.forEach((v, i) => dv.setFloat32(8 + 4 * i, v, littleEndian))
    return bytes(magic, proto, sys, main, keys, data)
  }

  for (const little of [true, false]) {
    it(`reads storages and old-style storage views (${little ? 'little' : 'big'}-endian)`, async () => {
      const ck = await readCheckpoint(save(legacy(little)))
      expect(ck.format).toBe('legacy')
      expect(ck.stateDict.get('whole')).toEqual({dtype: 'float32', shape: [2, 3], data: Float32Array.of(10, 11, 12, 13, 14, 15)})
      expect(ck.stateDict.get('view')).toEqual({dtype: 'float32', shape: [2], data: Float32Array.of(13, 14)})
    })
  }
})
