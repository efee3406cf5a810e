import {describe, expect, it} from 'vitest'
import {CheckpointError} from '../../src/checkpoint/errors.js'
import {NumpyArray, NumpyDType, PyDict, PyObject, StorageRef, TensorRef} from '../../src/checkpoint/pyobjects.js'
import {PickleTruncatedError, unpickle} from '../../src/checkpoint/unpickle.js'
import {storageFromPid} from '../../src/checkpoint/globals.js'
import {OP, bytes, global, int, le32, le64, str, tensorOps, tuple} from './helpers.js'

const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)))
const load = (b: Uint8Array) => unpickle(b).value

function refused(b: Uint8Array): CheckpointError {
  try {
    unpickle(b)
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError)
    expect((err as CheckpointError).code).toBe('refused')
    return err as CheckpointError
  }
  throw new Error('expected the pickle to be refused')
}

describe('unpickle: values', () => {
  // pickle.dumps({'a': [1, -2, 2.5, 'x', b'y', None, True, False, (1, 2)], 'big': 2**70, 'neg': -300,
  //               'n': -2**40, 's': {3}, 'f': frozenset([4]), 'u': 'héllo'}, protocol=P) from CPython 3.11
  const PICKLES: Record<number, string> = {
    0: '286470300a56610a70310a286c70320a49310a61492d320a6146322e350a6156780a70330a61635f636f646563730a656e636f64650a70340a2856790a70350a566c6174696e310a70360a7470370a5270380a614e614930310a614930300a612849310a49320a7470390a6173566269670a7031300a4c313138303539313632303731373431313330333432344c0a73566e65670a7031310a492d3330300a73566e0a7031320a4c2d313039393531313632373737364c0a7356730a7031330a635f5f6275696c74696e5f5f0a7365740a7031340a28286c7031350a49330a61747031360a527031370a7356660a7031380a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7031390a28286c7032300a49340a61747032310a527032320a7356750a7032330a5668e96c6c6f0a7032340a732e',
    2: '80027d71002858010000006171015d7102284b014afeffffff4740040000000000005801000000787103635f636f646563730a656e636f64650a7104580100000079710558060000006c6174696e3171068671075271084e88894b014b02867109655803000000626967710a8a0900000000000000004058030000006e6567710b4ad4feffff58010000006e710c8a060000000000ff580100000073710d635f5f6275696c74696e5f5f0a7365740a710e5d710f4b03618571105271115801000000667112635f5f6275696c74696e5f5f0a66726f7a656e7365740a71135d71144b04618571155271165801000000757117580600000068c3a96c6c6f7118752e',
    3: '80037d71002858010000006171015d7102284b014afeffffff474004000000000000580100000078710343017971044e88894b014b0286710565580300000062696771068a0900000000000000004058030000006e656771074ad4feffff58010000006e71088a060000000000ff5801000000737109636275696c74696e730a7365740a710a5d710b4b036185710c52710d580100000066710e636275696c74696e730a66726f7a656e7365740a710f5d71104b04618571115271125801000000757113580600000068c3a96c6c6f7114752e',
    4: '80049576000000000000007d94288c0161945d94284b014afeffffff4740040000000000008c017894430179944e88894b014b028694658c03626967948a090000000000000000408c036e6567944ad4feffff8c016e948a060000000000ff8c0173948f94284b03908c016694284b0491948c0175948c0668c3a96c6c6f94752e',
    5: '80059576000000000000007d94288c0161945d94284b014afeffffff4740040000000000008c017894430179944e88894b014b028694658c03626967948a090000000000000000408c036e6567944ad4feffff8c016e948a060000000000ff8c0173948f94284b03908c016694284b0491948c0175948c0668c3a96c6c6f94752e',
  }
  for (const [proto, h] of Object.entries(PICKLES)) {
    it(`reads CPython's protocol ${proto} pickle of mixed data`, () => {
      const d = load(hex(h))
      expect(d).toBeInstanceOf(PyDict)
      const m = d as PyDict
      expect([...m.keys()]).toEqual(['a', 'big', 'neg', 'n', 's', 'f', 'u'])
      expect(m.get('a')).toEqual([1, -2, 2.5, 'x', Uint8Array.of(0x79), null, true, false, [1, 2]])
      expect(m.get('big')).toBe(2n ** 70n)
      expect(m.get('neg')).toBe(-300)
      expect(m.get('n')).toBe(-(2 ** 40))
      expect(m.get('s')).toEqual(new Set([3]))
      expect(m.get('f')).toEqual(new Set([4]))
      expect(m.get('u')).toBe('héllo')
    })
  }

  it('handles MARK, memo (BINPUT/LONG_BINPUT/MEMOIZE/GET/PUT), DUP, POP, POP_MARK and the text opcodes', () => {
    const b = bytes(
      OP.PROTO, 4, OP.FRAME, ...le64(0),
      OP.EMPTY_LIST, OP.MEMOIZE, // memo 0 = the list
      OP.MARK,
      OP.INT, '42\n', OP.INT, '01\n', OP.LONG, '-12345678901234567890L\n', OP.FLOAT, '0.25\n',
      OP.STRING, "'a\\'b\\x41'\n", OP.UNICODE, 'caf\\u00e9\n',
      OP.BININT2, ...[0x34, 0x12], OP.BININT, ...le32(-7 >>> 0), OP.LONG1, 2, 0xff, 0x7f, OP.LONG4, ...le32(1), 0xff,
      OP.BINFLOAT, ...[0xc0, 0x00, 0, 0, 0, 0, 0, 0],
      OP.SHORT_BINUNICODE, 2, 'hi', OP.BINUNICODE8, ...le64(1), 'z',
      OP.SHORT_BINBYTES, 1, 'q', OP.BINBYTES, ...le32(2), 'rs', OP.BINBYTES8, ...le64(1), 't', OP.BYTEARRAY8, ...le64(1), 'u',
      OP.SHORT_BINSTRING, 2, 'py', OP.BINSTRING, ...le32(1), 0xff,
      OP.NONE, OP.DUP, OP.POP,
      OP.MARK, OP.NONE, OP.NONE, OP.POP_MARK,
      OP.EMPTY_TUPLE, OP.LONG_BINPUT, ...le32(70000), OP.POP, OP.LONG_BINGET, ...le32(70000),
      OP.NONE, OP.PUT, '5\n', OP.POP, OP.GET, '5\n',
      OP.BINGET, 0,
      OP.APPENDS, OP.STOP,
    )
    const v = load(b) as unknown[]
    expect(v.slice(0, 21)).toEqual([
      42, true, -12345678901234567890n, 0.25, "a'bA", 'café', 0x1234, -7, 0x7fff, -1, -2, 'hi', 'z',
      Uint8Array.of(0x71), Uint8Array.of(0x72, 0x73), Uint8Array.of(0x74), Uint8Array.of(0x75), 'py', Uint8Array.of(0xff), null, [],
    ])
    expect(v[21]).toBeNull()
    expect(v[22]).toBe(v) // the list contains itself through the memo
  })

  it('builds dicts and lists with DICT, LIST, TUPLE, SETITEM, APPEND, TUPLE1-3, EMPTY_SET/ADDITEMS', () => {
    const b = bytes(
      OP.PROTO, 4, OP.MARK, ...str('k'), OP.MARK, ...int(1), OP.LIST, OP.DICT,
      ...str('t'), ...int(1), ...int(2), ...int(3), OP.TUPLE3, OP.SETITEM,
      ...str('u'), ...int(1), OP.TUPLE1, OP.SETITEM,
      ...str('l'), OP.EMPTY_LIST, ...int(9), OP.APPEND, OP.SETITEM,
      ...str('s'), OP.EMPTY_SET, OP.MARK, ...int(5), ...int(6), OP.ADDITEMS, OP.SETITEM,
      ...int(7), ...str('int key'), OP.SETITEM,
      OP.STOP,
    )
    const d = load(b) as PyDict
    expect(d.get('k')).toEqual([1])
    expect(d.get('t')).toEqual([1, 2, 3])
    expect(d.get('u')).toEqual([1])
    expect(d.get('l')).toEqual([9])
    expect(d.get('s')).toEqual(new Set([5, 6]))
    expect(d.get(7)).toBe('int key')
  })

  it('resolves persistent ids through the callback and rebuilds tensors as descriptors', () => {
    const b = bytes(OP.PROTO, 2, ...tensorOps({storageType: 'HalfStorage', key: '3', storageNumel: 10, offset: 2, shape: [2, 3], stride: [1, 2], location: 'cuda:1'}), OP.STOP)
    const seen: unknown[] = []
    const t = unpickle(b, {persistentLoad: (pid) => (seen.push(pid), storageFromPid(pid).storage)}).value
    expect(seen).toHaveLength(1)
    expect(t).toBeInstanceOf(TensorRef)
    const ref = t as TensorRef
    expect(ref.dtype).toBe('float16')
    expect(ref.storage).toEqual(new StorageRef('3', 'float16', 'cuda:1', 10))
    expect([ref.storageOffset, ref.shape, ref.stride]).toEqual([2, [2, 3], [1, 2]])
    expect(() => unpickle(b)).toThrow(/persistent id/)
  })

  it('reads OrderedDict (REDUCE) with BUILD attributes kept apart from the items', () => {
    const b = bytes(
      OP.PROTO, 2, ...global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE,
      OP.MARK, ...str('w'), ...int(1), OP.SETITEMS,
      OP.EMPTY_DICT, ...str('_metadata'), OP.EMPTY_DICT, OP.SETITEM, OP.BUILD,
      OP.STOP,
    )
    const d = load(b) as PyDict
    expect(d.pyClass).toBe('collections.OrderedDict')
    expect([...d.entries()]).toEqual([['w', 1]])
    expect((d.attrs as PyDict).has('_metadata')).toBe(true)
  })

  it('reads unknown classes as inert objects: NEWOBJ + BUILD, copyreg._reconstructor, INST/OBJ, NEWOBJ_EX', () => {
    const newobj = bytes(
      OP.PROTO, 2, ...global('__main__', 'RecorderMeter'), OP.EMPTY_TUPLE, OP.NEWOBJ,
      OP.EMPTY_DICT, ...str('total_epoch'), ...int(3), OP.SETITEM, OP.BUILD, OP.STOP,
    )
    const o = load(newobj) as PyObject
    expect(o).toBeInstanceOf(PyObject)
    expect(o.className).toBe('__main__.RecorderMeter')
    expect(o.attr('total_epoch')).toBe(3)

    const recon = bytes(
      OP.PROTO, 2, ...global('copy_reg', '_reconstructor'),
      ...tuple(global('utils', 'AverageMeter'), global('__builtin__', 'object'), [OP.NONE]), OP.REDUCE,
      OP.EMPTY_DICT, ...str('avg'), OP.BINFLOAT, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, OP.SETITEM, OP.BUILD, OP.STOP,
    )
    const r = load(recon) as PyObject
    expect(r.className).toBe('utils.AverageMeter')
    expect(r.attr('avg')).toBe(1)

    const inst = bytes(OP.MARK, ...int(1), OP.INST, 'argparse\nNamespace\n', OP.STOP)
    expect((load(inst) as PyObject).className).toBe('argparse.Namespace')
    const obj = bytes(OP.MARK, ...global('m', 'C'), ...int(2), OP.OBJ, OP.STOP)
    expect((load(obj) as PyObject).args).toEqual([2])

    const ex = bytes(OP.PROTO, 4, ...str('pkg.mod'), ...str('Thing'), OP.STACK_GLOBAL, OP.EMPTY_TUPLE, OP.EMPTY_DICT, OP.NEWOBJ_EX, OP.STOP)
    expect((load(ex) as PyObject).className).toBe('pkg.mod.Thing')
  })

  it('reads numpy arrays, dtypes and scalars as data', () => {
    const dtype = [...global('numpy', 'dtype'), ...str('f8'), OP.NEWFALSE, OP.NEWTRUE, OP.TUPLE3, OP.REDUCE,
      ...tuple(int(3), str('<'), [OP.NONE], [OP.NONE], [OP.NONE], [OP.BININT, ...le32(0xffffffff)], [OP.BININT, ...le32(0xffffffff)], int(0)), OP.BUILD]
    const scalar = bytes(OP.PROTO, 3, ...global('numpy.core.multiarray', 'scalar'), ...dtype,
      OP.SHORT_BINBYTES, 8, 0, 0, 0, 0, 0, 0, 0x59, 0x40, OP.TUPLE2, OP.REDUCE, OP.STOP)
    expect(load(scalar)).toBe(100)

    const arr = bytes(OP.PROTO, 3, ...global('numpy.core.multiarray', '_reconstruct'), ...global('numpy', 'ndarray'),
      ...int(0), OP.TUPLE1, OP.SHORT_BINBYTES, 1, 'b', OP.TUPLE3, OP.REDUCE,
      ...tuple(int(1), [...int(1), ...int(2), OP.TUPLE2], dtype, [OP.NEWFALSE], [OP.SHORT_BINBYTES, 16, ...new Array(16).fill(0)]),
      OP.BUILD, OP.STOP)
    const a = load(arr) as NumpyArray
    expect(a).toBeInstanceOf(NumpyArray)
    expect(a.shape).toEqual([1, 2])
    expect((a.dtype as NumpyDType).str).toBe('<f8')
    expect((a.data as Uint8Array).length).toBe(16)
  })
})

describe('unpickle: refusals and errors', () => {
  it('refuses builtins.eval and names it', () => {
    const evil = bytes(OP.PROTO, 2, ...global('builtins', 'eval'), ...str('1+1'), OP.TUPLE1, OP.REDUCE, OP.STOP)
    expect(refused(evil).message).toMatch(/builtins\.eval, which is not an allowed global/)
  })

  it('refuses os.system / posix.system via GLOBAL and STACK_GLOBAL before anything else happens', () => {
    const g = bytes(OP.PROTO, 2, ...global('posix', 'system'), ...str('echo hi'), OP.TUPLE1, OP.REDUCE, OP.STOP)
    expect(refused(g).message).toMatch(/posix\.system \(os\.system\)/)
    const sg = bytes(OP.PROTO, 4, ...str('os'), ...str('system'), OP.STACK_GLOBAL, ...str('echo hi'), OP.TUPLE1, OP.REDUCE, OP.STOP)
    expect(refused(sg).message).toMatch(/os\.system/)
  })

  it('refuses other code-running globals', () => {
    for (const [m, n] of [['__builtin__', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['builtins', '__import__'],
      ['subprocess', 'Popen'], ['subprocess', 'check_output'], ['nt', 'system'], ['operator', 'attrgetter'], ['functools', 'partial'],
      ['pickle', 'loads'], ['torch.hub', 'load'], ['runpy', '_run_code']] as const) {
      expect(refused(bytes(OP.PROTO, 2, ...global(m, n), OP.STOP)).message).toContain(`${m}.${n}`)
    }
  })

  it('refuses calling (REDUCE) an unknown class or function, but not referencing it', () => {
    const call = bytes(OP.PROTO, 2, ...global('__main__', 'RecorderMeter'), ...int(4), OP.TUPLE1, OP.REDUCE, OP.STOP)
    expect(refused(call).message).toMatch(/calls __main__\.RecorderMeter/)
    const fn = bytes(OP.PROTO, 2, ...global('somepkg.utils', 'do_things'), OP.EMPTY_TUPLE, OP.REDUCE, OP.STOP)
    expect(refused(fn).message).toMatch(/somepkg\.utils\.do_things/)
  })

  it('refuses the copyreg extension registry', () => {
    expect(refused(bytes(OP.PROTO, 2, OP.EXT1, 1, OP.STOP)).message).toMatch(/extension/)
  })

  it('reports a cut-short pickle as truncated, with the offset', () => {
    const b = bytes(OP.PROTO, 2, OP.BINUNICODE, ...le32(100), 'abc')
    expect(() => unpickle(b, {source: 'test.pkl'})).toThrow(PickleTruncatedError)
    expect(() => unpickle(b, {source: 'test.pkl'})).toThrow(/test\.pkl is cut short.*offset 7/)
    expect(() => unpickle(bytes(OP.PROTO, 2, OP.NONE))).toThrow(/cut short/)
  })

  it('rejects unknown opcodes, stack underflow and missing memo entries as corrupt', () => {
    expect(() => unpickle(bytes(0xff))).toThrow(/unknown pickle opcode 0xff/)
    expect(() => unpickle(bytes(OP.PROTO, 2, OP.STOP))).toThrow(/stack underflow/)
    expect(() => unpickle(bytes(OP.BINGET, 9, OP.STOP))).toThrow(/memo entry 9/)
    expect(() => unpickle(bytes(OP.PROTO, 9, OP.NONE, OP.STOP))).toThrow(/protocol 9/)
  })
})

describe('unpickle: integers at the size limit', () => {
  const long4 = (payload: Uint8Array) => bytes(OP.PROTO, 2, OP.LONG4, ...le32(payload.length), ...payload, OP.STOP)
  it('reads the largest allowed LONG4 exactly (2048 bytes, linear conversion), positive and negative', () => {
    const pos = new Uint8Array(2048).fill(0xab)
    pos[2047] = 0x7f
    const expected = BigInt('0x7f' + 'ab'.repeat(2047))
    expect(unpickle(long4(pos)).value).toBe(expected)
    const neg = new Uint8Array(2048).fill(0xff) // -1 in two's complement
    expect(unpickle(long4(neg)).value).toBe(-1)
    const small = Uint8Array.of(0x00, 0x00, 0x00, 0x00, 0x00, 0x80) // -2^47, on the number path
    expect(unpickle(long4(small)).value).toBe(-(2 ** 47))
    expect(unpickle(long4(Uint8Array.of(1, 0, 0, 0, 0, 0, 0x20))).value).toBe(2n ** 53n + 1n)
  })
  it('refuses one byte more, and a 4301-digit text integer, as limit errors', () => {
    let err: unknown
    try {
      unpickle(long4(new Uint8Array(2049)))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CheckpointError)
    expect((err as CheckpointError).code).toBe('limit')
    expect((err as CheckpointError).message).toMatch(/integer of 2049 bytes.*at most 2048 bytes/)
    const digits = (n: number) => bytes(OP.PROTO, 2, OP.LONG, '-' + '9'.repeat(n), 'L', 10, OP.STOP)
    expect(unpickle(digits(4300)).value).toBe(-BigInt('9'.repeat(4300)))
    expect(() => unpickle(digits(4301))).toThrow(/integer of 4301 digits/)
  })
})
