/**
 * A minimal torch.save writer for tests: the zip format (PyTorch ≥ 1.6) with a pickle protocol-2 `data.pkl`,
 * one uncompressed, 64-byte aligned `data/<key>` record per storage, `version` and `byteorder`, laid out the way
 * torch.save writes them. Big checkpoints are streamed to disk straight from the tensors' typed arrays.
 *
 * Python values are described with plain JavaScript:
 *   null → None, boolean → bool, integer number or bigint → int, other number → float (`pyFloat(x)` forces a
 *   float), string → str, Array → list, `pyTuple(...)` → tuple, plain object → dict (string keys),
 *   Map → collections.OrderedDict (what a state_dict is), `torchTensor(t)` → a tensor,
 *   `pyInstance(module, name, state)` → an instance of a plain Python class (GLOBAL, EMPTY_TUPLE, NEWOBJ, BUILD),
 *   as the released POSTER++ checkpoints pickle their `__main__.RecorderMeter`.
 */
import {closeSync, openSync, writeSync} from 'node:fs'

import type {DType, HostTensor, TensorData} from '../../src/tensor.js'

// ---------------------------------------------------------------------------------------------------------
// Python value markers

/** A Python tuple. */
export class PyTuple {
  readonly items: PyValue[]
  constructor(items: PyValue[]) {
    this.items = items
  }
}

/** A Python float, also for integral values (a bare integral number is written as an int). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** An instance of a plain Python class, restored by `cls.__new__(cls)` and BUILD(state). Never callable. */
export class PyInstance {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly state: PyValue,
  ) {}
}

export interface TensorViewOptions {
  /** Element offset into the storage (default 0). */
  offset?: number
  /** Strides in elements (default: row-major for `shape`). */
  stride?: number[]
  /** Overrides the storage's location tag (default: the save's `location`). */
  location?: string
}

/**
 * A tensor over a storage. The storage is `tensor.data` as a whole; tensors given the same `data` object share
 * one storage (and one `data/<key>` record), as views of one torch storage do.
 */
export class TorchTensor {
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    readonly storage: TensorData,
    readonly view: TensorViewOptions = {},
  ) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | PyTuple
  | PyFloat
  | PyInstance
  | TorchTensor
  | Map<PyValue, PyValue>
  | {[key: string]: PyValue}

export const pyTuple = (...items: PyValue[]) => new PyTuple(items)
export const pyFloat = (x: number) => new PyFloat(x)
export const pyInstance = (module: string, name: string, state: PyValue) => new PyInstance(module, name, state)
export function torchTensor(t: HostTensor, view?: TensorViewOptions): TorchTensor {
  return new TorchTensor(t.dtype, t.shape, t.data, view)
}

// ---------------------------------------------------------------------------------------------------------
// Pickle (protocol 2)

const STORAGE_CLASS: Readonly<Record<DType, string>> = {
  float32: 'FloatStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage', float64: 'DoubleStorage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage',
  bool: 'BoolStorage',
}

const ARRAY_DTYPES: ReadonlyArray<[new (...a: never[]) => TensorData, DType[]]> = [
  [Float32Array, ['float32']],
  [Float64Array, ['float64']],
  [Uint16Array, ['float16', 'bfloat16']],
  [BigInt64Array, ['int64']],
  [Int32Array, ['int32']],
  [Int16Array, ['int16']],
  [Int8Array, ['int8']],
  [Uint8Array, ['uint8', 'bool']],
]

/** One storage to write as `data/<key>`. */
export interface StorageRecord {
  key: string
  bytes: Uint8Array
}

class ByteSink {
  private buf = new Uint8Array(1 << 12)
  length = 0

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }
  u8(...bs: number[]): void {
    this.grow(bs.length)
    for (const b of bs) this.buf[this.length++] = b & 0xff
  }
  u16(n: number): void {
    this.u8(n, n >>> 8)
  }
  u32(n: number): void {
    this.u8(n, n >>> 8, n >>> 16, n >>> 24)
  }
  i32(n: number): void {
    this.u32(n >>> 0)
  }
  u64(n: number): void {
    this.u32(n % 0x1_0000_0000)
    this.u32(Math.floor(n / 0x1_0000_0000))
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i))
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

const OP = {
  PROTO: 0x80, STOP: 0x2e, MARK: 0x28, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89, BININT1: 0x4b, BININT2: 0x4d,
  BININT: 0x4a, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58, EMPTY_TUPLE: 0x29, TUPLE1: 0x85, TUPLE2: 0x86,
  TUPLE3: 0x87, TUPLE: 0x74, EMPTY_LIST: 0x5d, APPENDS: 0x65, EMPTY_DICT: 0x7d, SETITEMS: 0x75, GLOBAL: 0x63,
  REDUCE: 0x52, NEWOBJ: 0x81, BUILD: 0x62, BINPERSID: 0x51, BINPUT: 0x71, LONG_BINPUT: 0x72, BINGET: 0x68,
  LONG_BINGET: 0x6a,
} as const

/** Items per MARK … SETITEMS/APPENDS batch, as Python's pickler does. */
const BATCH = 1000

class PickleWriter {
  readonly out = new ByteSink()
  readonly storages: StorageRecord[] = []
  private readonly storageKeys = new Map<TensorData, string>()
  private readonly memo = new Map<string, number>()

  constructor(private readonly location: string) {}

  private put(id: string): void {
    const i = this.memo.size
    this.memo.set(id, i)
    if (i < 256) this.out.u8(OP.BINPUT, i)
    else (this.out.u8(OP.LONG_BINPUT), this.out.u32(i))
  }

  /** Emits a memo reference when `id` was memoised; returns whether it did. */
  private get(id: string): boolean {
    const i = this.memo.get(id)
    if (i === undefined) return false
    if (i < 256) this.out.u8(OP.BINGET, i)
    else (this.out.u8(OP.LONG_BINGET), this.out.u32(i))
    return true
  }

  global(module: string, name: string): void {
    const id = `g:${module}\n${name}`
    if (this.get(id)) return
    this.out.u8(OP.GLOBAL)
    this.out.ascii(`${module}\n${name}\n`)
    this.put(id)
  }

  str(s: string): void {
    const id = `s:${s}`
    if (this.get(id)) return
    const b = new TextEncoder().encode(s)
    this.out.u8(OP.BINUNICODE)
    this.out.u32(b.length)
    this.out.bytes(b)
    this.put(id)
  }

  int(n: number | bigint): void {
    if (typeof n === 'number' && !Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`)
    const v = BigInt(n)
    if (v >= 0n && v < 256n) return this.out.u8(OP.BININT1, Number(v))
    if (v >= 0n && v < 65536n) return (this.out.u8(OP.BININT2), this.out.u16(Number(v)))
    if (v >= -(2n ** 31n) && v < 2n ** 31n) return (this.out.u8(OP.BININT), this.out.i32(Number(v)))
    // LONG1: little-endian two's complement, as few bytes as hold the sign.
    const bytes: number[] = []
    let x = v
    for (;;) {
      bytes.push(Number(x & 0xffn))
      x >>= 8n
      const signBit = (bytes[bytes.length - 1]! & 0x80) !== 0
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break
    }
    this.out.u8(OP.LONG1, bytes.length, ...bytes)
  }

  float(x: number): void {
    const b = new Uint8Array(8)
    new DataView(b.buffer).setFloat64(0, x, false) // BINFLOAT is big-endian
    this.out.u8(OP.BINFLOAT)
    this.out.bytes(b)
  }

  tuple(items: readonly (() => void)[]): void {
    if (items.length === 0) return this.out.u8(OP.EMPTY_TUPLE)
    if (items.length > 3) this.out.u8(OP.MARK)
    for (const f of items) f()
    this.out.u8(items.length === 1 ? OP.TUPLE1 : items.length === 2 ? OP.TUPLE2 : items.length === 3 ? OP.TUPLE3 : OP.TUPLE)
  }

  private setItems(entries: Iterable<[PyValue, PyValue]>): void {
    let batch: [PyValue, PyValue][] = []
    const flush = () => {
      if (batch.length === 0) return
      this.out.u8(OP.MARK)
      for (const [k, v] of batch) (this.value(k), this.value(v))
      this.out.u8(OP.SETITEMS)
      batch = []
    }
    for (const e of entries) {
      batch.push(e)
      if (batch.length === BATCH) flush()
    }
    flush()
  }

  /** collections.OrderedDict(): GLOBAL, EMPTY_TUPLE, REDUCE, then the items. */
  orderedDict(entries: Iterable<[PyValue, PyValue]>): void {
    this.global('collections', 'OrderedDict')
    this.out.u8(OP.EMPTY_TUPLE, OP.REDUCE)
    this.setItems(entries)
  }

  tensor(t: TorchTensor): void {
    const ctor = ARRAY_DTYPES.find(([c]) => t.storage instanceof c)
    if (!ctor || !ctor[1].includes(t.dtype)) throw new TypeError(`a ${t.storage.constructor.name} cannot hold a ${t.dtype} storage`)
    let key = this.storageKeys.get(t.storage)
    if (key === undefined) {
      key = String(this.storages.length)
      this.storageKeys.set(t.storage, key)
      const s = t.storage
      this.storages.push({key, bytes: new Uint8Array(s.buffer, s.byteOffset, s.byteLength)})
    }
    const stride = t.view.stride ?? contiguousStrides(t.shape)
    if (stride.length !== t.shape.length) throw new RangeError(`stride [${stride}] does not match shape [${t.shape}]`)
    const storageKey = key
    // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    this.global('torch._utils', '_rebuild_tensor_v2')
    this.out.u8(OP.MARK)
    this.tuple([
      () => this.str('storage'),
      () => this.global('torch', STORAGE_CLASS[t.dtype]),
      () => this.str(storageKey),
      () => this.str(t.view.location ?? this.location),
      () => this.int(t.storage.length),
    ])
    this.out.u8(OP.BINPERSID)
    this.int(t.view.offset ?? 0)
    this.tuple(t.shape.map((d) => () => this.int(d)))
    this.tuple(stride.map((d) => () => this.int(d)))
    this.out.u8(OP.NEWFALSE)
    this.orderedDict([])
    this.out.u8(OP.TUPLE, OP.REDUCE)
  }

  value(v: PyValue): void {
    if (v === null) return this.out.u8(OP.NONE)
    if (typeof v === 'boolean') return this.out.u8(v ? OP.NEWTRUE : OP.NEWFALSE)
    if (typeof v === 'bigint') return this.int(v)
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(v) : this.float(v)
    if (typeof v === 'string') return this.str(v)
    if (v instanceof PyFloat) return this.float(v.value)
    if (v instanceof PyTuple) return this.tuple(v.items.map((x) => () => this.value(x)))
    if (v instanceof TorchTensor) return this.tensor(v)
    if (v instanceof Map) return this.orderedDict(v)
    if (v instanceof PyInstance) {
      this.global(v.module, v.name)
      this.out.u8(OP.EMPTY_TUPLE, OP.NEWOBJ)
      this.value(v.state)
      this.out.u8(OP.BUILD)
      return
    }
    if (Array.isArray(v)) {
      this.out.u8(OP.EMPTY_LIST)
      for (let i = 0; i < v.length; i += BATCH) {
        this.out.u8(OP.MARK)
        for (const x of v.slice(i, i + BATCH)) this.value(x)
        this.out.u8(OP.APPENDS)
      }
      return
    }
    if (typeof v === 'object') {
      this.out.u8(OP.EMPTY_DICT)
      this.setItems(Object.entries(v))
      return
    }
    throw new TypeError(`cannot pickle ${String(v)}`)
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length)
  let s = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = s
    s *= shape[d]!
  }
  return out
}

/** The pickle (protocol 2) of `obj` as torch.save writes it, and the storages its tensors refer to. */
export function pickleTorch(obj: PyValue, location = 'cuda:0'): {pickle: Uint8Array; storages: StorageRecord[]} {
  const w = new PickleWriter(location)
  w.out.u8(OP.PROTO, 2)
  w.value(obj)
  w.out.u8(OP.STOP)
  return {pickle: w.out.result(), storages: w.storages}
}

// ---------------------------------------------------------------------------------------------------------
// CRC-32 (zip's, polynomial 0xEDB88320), slicing-by-8

const CRC_TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!
    const t = new Uint32Array(256)
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!
    tables.push(t)
  }
  return tables
})()

/** CRC-32 of `data`, continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let c = ~crc >>> 0
  let i = 0
  const n = data.length
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c =
      t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!
  }
  for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

// ---------------------------------------------------------------------------------------------------------
// Zip (stored records, data 64-byte aligned with an 'FB' extra field of padding, as PyTorchStreamWriter does)

const ALIGNMENT = 64
const UINT32_MAX = 0xffffffff

interface Sink {
  write(b: Uint8Array): void
  readonly position: number
}

interface CentralEntry {
  name: Uint8Array
  crc: number
  size: number
  offset: number
}

function writeZip(sink: Sink, records: Iterable<{name: string; data: Uint8Array}>): void {
  const central: CentralEntry[] = []
  for (const {name, data} of records) {
    const nameBytes = new TextEncoder().encode(name)
    const offset = sink.position
    if (offset > UINT32_MAX || data.length > UINT32_MAX) throw new RangeError('this test writer does not do zip64 (checkpoints over 4 GiB)')
    const crc = crc32(data)
    // Extra field 'FB' (id 0x4246) whose payload pads the header so the data starts on a 64-byte boundary.
    const base = offset + 30 + nameBytes.length + 4
    const pad = (ALIGNMENT - (base % ALIGNMENT)) % ALIGNMENT
    const h = new ByteSink()
    h.u32(0x04034b50)
    h.u16(20) // version needed
    h.u16(0) // flags
    h.u16(0) // stored
    h.u16(0) // time
    h.u16(0x21) // date (1980-01-01)
    h.u32(crc)
    h.u32(data.length)
    h.u32(data.length)
    h.u16(nameBytes.length)
    h.u16(4 + pad)
    h.bytes(nameBytes)
    h.u8(0x46, 0x42) // 'F', 'B'
    h.u16(pad)
    for (let i = 0; i < pad; i++) h.u8(0x5a) // 'Z'
    sink.write(h.result())
    if (sink.position % ALIGNMENT !== 0) throw new Error('internal: record data is not aligned')
    sink.write(data)
    central.push({name: nameBytes, crc, size: data.length, offset})
  }
  const cdStart = sink.position
  const cd = new ByteSink()
  for (const e of central) {
    cd.u32(0x02014b50)
    cd.u16(20) // version made by
    cd.u16(20) // version needed
    cd.u16(0)
    cd.u16(0)
    cd.u16(0)
    cd.u16(0x21)
    cd.u32(e.crc)
    cd.u32(e.size)
    cd.u32(e.size)
    cd.u16(e.name.length)
    cd.u16(0) // extra
    cd.u16(0) // comment
    cd.u16(0) // disk
    cd.u16(0) // internal attributes
    cd.u32(0) // external attributes
    cd.u32(e.offset)
    cd.bytes(e.name)
  }
  const cdBytes = cd.result()
  sink.write(cdBytes)
  if (cdStart > UINT32_MAX) throw new RangeError('this test writer does not do zip64 (checkpoints over 4 GiB)')
  const end = new ByteSink()
  end.u32(0x06054b50)
  end.u16(0)
  end.u16(0)
  end.u16(central.length)
  end.u16(central.length)
  end.u32(cdBytes.length)
  end.u32(cdStart)
  end.u16(0)
  sink.write(end.result())
}

export interface TorchSaveOptions {
  /** The folder inside the archive (torch uses the file's stem); default 'archive'. */
  archiveName?: string
  /** Location tag of every storage; default 'cuda:0', as in the released POSTER++ checkpoints. */
  location?: string
}

function* archiveRecords(obj: PyValue, opts: TorchSaveOptions): Generator<{name: string; data: Uint8Array}> {
  const prefix = opts.archiveName ?? 'archive'
  const {pickle, storages} = pickleTorch(obj, opts.location ?? 'cuda:0')
  const text = (s: string) => new TextEncoder().encode(s)
  yield {name: `${prefix}/data.pkl`, data: pickle}
  yield {name: `${prefix}/byteorder`, data: text('little')}
  for (const s of storages) yield {name: `${prefix}/data/${s.key}`, data: s.bytes}
  yield {name: `${prefix}/version`, data: text('3\n')}
}

/** torch.save(obj) into memory (small checkpoints). */
export function torchSaveBytes(obj: PyValue, opts: TorchSaveOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = []
  let position = 0
  writeZip(
    {
      write(b) {
        chunks.push(b)
        position += b.length
      },
      get position() {
        return position
      },
    },
    archiveRecords(obj, opts),
  )
  const out = new Uint8Array(position)
  let o = 0
  for (const c of chunks) (out.set(c, o), (o += c.length))
  return out
}

/** torch.save(obj, path), streamed from the tensors' own memory (no copy of the weights). Returns the file size. */
export function torchSave(path: string, obj: PyValue, opts: TorchSaveOptions = {}): number {
  const fd = openSync(path, 'w')
  let position = 0
  try {
    writeZip(
      {
        write(b) {
          let done = 0
          while (done < b.length) done += writeSync(fd, b, done, Math.min(b.length - done, 1 << 26))
          position += b.length
        },
        get position() {
          return position
        },
      },
      archiveRecords(obj, opts),
    )
  } finally {
    closeSync(fd)
  }
  return position
}

// ---------------------------------------------------------------------------------------------------------
// The released POSTER++ checkpoint layout

/** A `__main__.RecorderMeter` stand-in: an inert instance whose state holds numbers (and lists of numbers). */
export function recorderMeter(totalEpoch: number): PyInstance {
  const zeros = () => Array.from({length: totalEpoch}, () => pyTuple(pyFloat(0), pyFloat(0)))
  return pyInstance('__main__', 'RecorderMeter', {
    total_epoch: totalEpoch,
    current_epoch: totalEpoch,
    epoch_losses: zeros(),
    epoch_accuracy: zeros(),
  })
}

/**
 * `{epoch, state_dict ('module.'-prefixed OrderedDict), best_acc (0-d float32 tensor), recorder, recorder1}` as
 * the released POSTER++ checkpoints hold it (every storage tagged by the save's location, 'cuda:0' by default).
 */
export function releasedCheckpoint(
  weights: Iterable<[string, HostTensor]>,
  meta: {epoch?: number; bestAcc?: number; prefix?: string} = {},
): PyValue {
  const prefix = meta.prefix ?? 'module.'
  const sd = new Map<PyValue, PyValue>()
  for (const [k, t] of weights) sd.set(prefix + k, torchTensor(t))
  return {
    epoch: meta.epoch ?? 200,
    state_dict: sd,
    best_acc: torchTensor({dtype: 'float32', shape: [], data: Float32Array.of(meta.bestAcc ?? 92.21)}),
    recorder: recorderMeter(4),
    recorder1: recorderMeter(4),
  }
}
