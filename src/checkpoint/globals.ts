/**
 * The allow-list of Python globals a checkpoint pickle may name, and the inert JavaScript meaning of each.
 *
 * Nothing here runs Python or any code chosen by the file: an allowed "call" builds a plain data object
 * (a tensor descriptor, a dict, a numpy array's bytes). Globals are handled in three tiers:
 *  - allowed callables and constants (below) are resolved to their inert implementation;
 *  - globals from modules that can run commands or code (os, posix, subprocess, builtins.eval, ...)
 *    are refused as soon as the pickle names them;
 *  - any other global becomes a PyGlobal placeholder. It may serve as the class of an inert object
 *    (NEWOBJ, copyreg._reconstructor: how plain Python classes such as `__main__.RecorderMeter` are
 *    pickled), but calling it (REDUCE) is refused, because that would run its code.
 */
import type {DType} from '../tensor.js'
import {CheckpointError} from './errors.js'
import {ELEMENT_SIZE, STORAGE_DTYPES, TORCH_DTYPES} from './dtypes.js'
import {halfToNumber} from './tensors.js'
import {NumpyArray, NumpyDType, PyConstant, PyDict, PyGlobal, PyObject, StorageRef, TensorRef} from './pyobjects.js'

/** An allowed global that the pickle may call (REDUCE) or instantiate (NEWOBJ). */
export class AllowedCallable {
  constructor(
    readonly qualname: string,
    /** REDUCE: `f(*args)`. */
    readonly call: (args: unknown[]) => unknown,
    /** NEWOBJ: `cls.__new__(cls, *args)`; absent when the global is not a class. */
    readonly construct?: (args: unknown[]) => unknown,
  ) {}
  toString(): string {
    return this.qualname
  }
}

/** `torch.FloatStorage` and friends: only meaningful inside a persistent id. */
export class StorageType {
  constructor(readonly qualname: string, readonly dtype: DType | null /* null: UntypedStorage (bytes) */) {}
  toString(): string {
    return this.qualname
  }
}

// ---------------------------------------------------------------------------------------------------------
// Refusals

/** Modules whose globals are refused on sight: they exist to run commands, code, I/O or attribute tricks. */
const DANGEROUS_MODULES = [
  'os', 'posix', 'nt', 'posixpath', 'ntpath', 'subprocess', 'sys', 'shutil', 'socket', 'importlib', 'imp',
  'runpy', 'pickle', '_pickle', 'cPickle', 'pickletools', 'marshal', 'code', 'codeop', 'pty', 'ctypes',
  'multiprocessing', 'concurrent', 'webbrowser', 'pdb', 'bdb', 'operator', '_operator', 'functools',
  '_functools', 'types', 'io', '_io', 'tempfile', 'pathlib', 'glob', 'urllib', 'urllib2', 'http', 'httplib',
  'requests', 'asyncio', 'threading', '_thread', 'thread', 'signal', 'timeit', 'cProfile', 'profile', 'trace',
  'inspect', 'commands', 'popen2', 'platform', 'zipimport', 'ssl', 'ftplib', 'telnetlib', 'smtplib', 'site',
  'sysconfig', 'gc', 'resource', 'fcntl', 'select', 'mmap', 'codecs', '_codecs', 'builtins', '__builtin__',
  'exceptions', 'copyreg', 'copy_reg', 'ensurepip', 'venv', 'distutils', 'setuptools', 'pip', 'shelve',
  'dbm', 'sqlite3', 'logging', 'atexit', 'weakref', '_weakref', 'linecache', 'tokenize', 'ast', 'dis',
  'torch.hub', 'torch.jit', 'torch._C', 'torch.ops', 'torch.package', 'torch.utils.cpp_extension',
  'torch.serialization', 'torch.distributed', 'numpy.f2py', 'numpy.distutils', 'numpy.testing', 'numpy.lib.npyio',
  'numpy.load', 'numpy.fromfile', 'numpy.loadtxt', 'yaml', 'dill', 'cloudpickle', 'joblib',
]

const WELL_KNOWN_ALIASES: Record<string, string> = {
  'posix.system': 'os.system', 'nt.system': 'os.system', 'posix.popen': 'os.popen', 'nt.popen': 'os.popen',
  '__builtin__.eval': 'builtins.eval', '__builtin__.exec': 'builtins.exec',
  '__builtin__.getattr': 'builtins.getattr', '__builtin__.__import__': 'builtins.__import__',
}

function inModule(module: string, roots: readonly string[]): boolean {
  return roots.some((m) => module === m || module.startsWith(m + '.'))
}

/** The error for a global the reader will not call. */
export function refusal(qualname: string, how = 'calls'): CheckpointError {
  const alias = WELL_KNOWN_ALIASES[qualname]
  const named = alias === undefined ? qualname : `${qualname} (${alias})`
  return new CheckpointError(
    'refused',
    `refusing to load: the pickle ${how} ${named}, which is not an allowed global. ` +
      'A checkpoint only needs tensors and plain data; this file would run code if loaded with torch.load. ' +
      'Nothing was executed.',
  )
}

function corrupt(message: string): CheckpointError {
  return new CheckpointError('corrupt', message)
}

// ---------------------------------------------------------------------------------------------------------
// Work accounting

/**
 * Every element an allowed global iterates, copies or creates is counted here, so that a pickle cannot turn a
 * few bytes into gigabytes (`list(x)` of one big memoised list, a hundred thousand times). The unpickler installs
 * its meter for the duration of a run (unpickling is synchronous, and nothing in it unpickles again).
 */
let meter: (units: number) => void = () => {}

export function withWorkMeter<T>(m: (units: number) => void, fn: () => T): T {
  const previous = meter
  meter = m
  try {
    return fn()
  } finally {
    meter = previous
  }
}

function spend(units: number): void {
  meter(units)
}

/** Shallow size of a value, the work of iterating or copying it once. */
export function shallowSize(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length
  if (v instanceof Uint8Array) return v.length
  if (v instanceof Map || v instanceof Set) return v.size
  return 1
}

// ---------------------------------------------------------------------------------------------------------
// Small argument helpers

function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v)
  if (typeof v === 'boolean') return v ? 1 : 0
  throw corrupt(`bad tensor description: ${what} should be an integer, found ${describe(v)}`)
}

function asIntList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw corrupt(`bad tensor description: ${what} should be a tuple of integers, found ${describe(v)}`)
  spend(v.length)
  return v.map((x, i) => asInt(x, `${what}[${i}]`))
}

export function describe(v: unknown): string {
  if (v === null) return 'None'
  if (v === undefined) return 'nothing'
  if (Array.isArray(v)) return `a tuple/list of ${v.length}`
  if (v instanceof Uint8Array) return `${v.length} bytes`
  if (v instanceof PyDict) return `a ${v.pyClass}`
  if (v instanceof PyObject) return `a ${v.className} object`
  if (v instanceof PyGlobal || v instanceof AllowedCallable || v instanceof StorageType) return v.qualname
  if (v instanceof TensorRef) return 'a tensor'
  if (v instanceof StorageRef) return 'a storage'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`
  return String(v)
}

function iterItems(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return []
  spend(shallowSize(v))
  if (Array.isArray(v)) return v
  if (v instanceof Set) return [...v]
  if (v instanceof Map) return [...v.keys()]
  if (v instanceof Uint8Array) return [...v]
  if (typeof v === 'string') return [...v]
  throw corrupt(`${what}: cannot iterate over ${describe(v)}`)
}

function makeDict(pyClass: string, init?: unknown): PyDict {
  const d = new PyDict(pyClass)
  if (init instanceof Map) {
    spend(init.size)
    for (const [k, v] of init) d.set(k, v)
  } else if (init !== undefined && init !== null) {
    for (const pair of iterItems(init, pyClass)) {
      if (!Array.isArray(pair) || pair.length !== 2) throw corrupt(`${pyClass}: expected (key, value) pairs, found ${describe(pair)}`)
      d.set(pair[0], pair[1])
    }
  }
  return d
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (typeof v === 'string') return latin1(v, what)
  throw corrupt(`${what}: expected bytes, found ${describe(v)}`)
}

function latin1(s: string, what: string): Uint8Array {
  spend(s.length)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 255) throw corrupt(`${what}: character U+${c.toString(16)} cannot be encoded as latin-1`)
    out[i] = c
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// torch

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown): TensorRef {
  if (!(storage instanceof StorageRef)) throw corrupt(`bad tensor description: expected a storage, found ${describe(storage)}`)
  const shape = asIntList(size, 'size')
  const strides = asIntList(stride, 'stride')
  if (shape.length !== strides.length) throw corrupt(`bad tensor description: size has ${shape.length} dimensions but stride has ${strides.length}`)
  if (shape.some((d) => d < 0)) throw corrupt(`bad tensor description: negative size (${shape.join(', ')})`)
  return new TensorRef(storage, asInt(offset, 'storage_offset'), shape, strides, requiresGrad === true)
}

function rebuildV3(args: unknown[]): TensorRef {
  // _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
  // the storage is untyped (bytes); the dtype comes separately.
  const [storage, , , , , , dtype] = args
  if (!(storage instanceof StorageRef)) throw corrupt(`bad tensor description: expected a storage, found ${describe(storage)}`)
  const dt = dtype instanceof PyConstant ? TORCH_DTYPES[dtype.name.replace(/^torch\./, '')] : undefined
  if (dt === undefined) throw new CheckpointError('unsupported', `unsupported tensor dtype ${describe(dtype)}`)
  const typed = storage.dtype === dt ? storage : retype(storage, dt)
  return rebuildTensor(typed, args[1], args[2], args[3], args[4])
}

function retype(storage: StorageRef, dtype: DType): StorageRef {
  const from = ELEMENT_SIZE[storage.dtype]
  const to = ELEMENT_SIZE[dtype]
  const bytes = storage.numel * from
  const offsetBytes = storage.elementOffset * from
  if (bytes % to !== 0 || offsetBytes % to !== 0) throw corrupt(`storage ${storage.key} holds ${bytes} bytes, not a whole number of ${dtype} elements`)
  return new StorageRef(storage.key, dtype, storage.location, bytes / to, offsetBytes / to)
}

function rebuildParameter(args: unknown[]): unknown {
  const data = args[0]
  if (data instanceof TensorRef) data.isParameter = true
  return data
}

function rebuildFromType(args: unknown[]): unknown {
  // torch._tensor._rebuild_from_type_v2(func, new_type, args, state)
  const [func, , fargs] = args
  if (!(func instanceof AllowedCallable)) throw refusal(describe(func))
  if (!Array.isArray(fargs)) throw corrupt(`_rebuild_from_type: expected an argument tuple, found ${describe(fargs)}`)
  return func.call(fargs)
}

const TORCH_REBUILD_UNSUPPORTED = [
  '_rebuild_qtensor', '_rebuild_sparse_tensor', '_rebuild_sparse_csr_tensor', '_rebuild_nested_tensor',
  '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass', '_rebuild_device_tensor_from_numpy',
  '_rebuild_xla_tensor', '_rebuild_mlc_tensor', '_rebuild_mps_tensor', '_rebuild_device_tensor_from_cpu_tensor',
]

// ---------------------------------------------------------------------------------------------------------
// numpy

function numpyReconstruct(): NumpyArray {
  // numpy.core.multiarray._reconstruct(subtype, shape, dtype): an empty array, filled by BUILD.
  return new NumpyArray()
}

function numpyDtype(args: unknown[]): NumpyDType {
  const [descr] = args
  if (typeof descr !== 'string') throw corrupt(`numpy.dtype: expected a type string, found ${describe(descr)}`)
  return new NumpyDType(descr)
}

/** BUILD on a numpy array: state = (version, shape, dtype, is_fortran, rawdata) or without version. */
export function buildNumpyArray(arr: NumpyArray, state: unknown): void {
  if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) throw corrupt(`numpy array state: unexpected ${describe(state)}`)
  const s = state.length === 5 ? state.slice(1) : state
  arr.shape = asIntList(s[0], 'numpy shape')
  arr.dtype = s[1]
  arr.fortranOrder = s[2] === true
  const raw = s[3]
  arr.data = Array.isArray(raw) ? raw : toBytes(raw, 'numpy array data')
}

/** BUILD on a numpy dtype: state = (version, byteorder, subdescr, names, fields, elsize, alignment, flags). */
export function buildNumpyDtype(dt: NumpyDType, state: unknown): void {
  if (Array.isArray(state) && typeof state[1] === 'string') dt.byteorder = state[1]
}

function numpyScalar(args: unknown[]): unknown {
  const [dtype, raw] = args
  if (!(dtype instanceof NumpyDType) || raw === undefined) return new PyObject('numpy.core.multiarray.scalar', args)
  const bytes = toBytes(raw, 'numpy scalar')
  const big = dtype.byteorder === '>'
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const le = !big
  const need = (n: number) => bytes.length >= n
  switch (dtype.descr) {
    case 'f8': if (need(8)) return dv.getFloat64(0, le); break
    case 'f4': if (need(4)) return dv.getFloat32(0, le); break
    case 'f2': if (need(2)) return halfToNumber(dv.getUint16(0, le)); break
    case 'i8': if (need(8)) return intOrBig(dv.getBigInt64(0, le)); break
    case 'u8': if (need(8)) return intOrBig(dv.getBigUint64(0, le)); break
    case 'i4': if (need(4)) return dv.getInt32(0, le); break
    case 'u4': if (need(4)) return dv.getUint32(0, le); break
    case 'i2': if (need(2)) return dv.getInt16(0, le); break
    case 'u2': if (need(2)) return dv.getUint16(0, le); break
    case 'i1': if (need(1)) return dv.getInt8(0); break
    case 'u1': if (need(1)) return dv.getUint8(0); break
    case 'b1': if (need(1)) return dv.getUint8(0) !== 0; break
  }
  return new PyObject('numpy.core.multiarray.scalar', args)
}

function numpyFrombuffer(args: unknown[]): NumpyArray {
  // numpy.core.numeric._frombuffer(buf, dtype, shape, order)
  const [buf, dtype, shape, order] = args
  const arr = new NumpyArray()
  arr.data = toBytes(buf, 'numpy buffer')
  arr.dtype = dtype
  arr.shape = asIntList(shape, 'numpy shape')
  arr.fortranOrder = order === 'F'
  return arr
}

function intOrBig(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
}


// ---------------------------------------------------------------------------------------------------------
// copyreg and builtins

function newObject(cls: unknown, args: unknown[], kwargs?: unknown): unknown {
  if (cls instanceof PyGlobal) {
    const obj = new PyObject(cls.qualname, args)
    if (kwargs instanceof PyDict && kwargs.size > 0) obj.kwargs = kwargs
    return obj
  }
  if (cls instanceof AllowedCallable && cls.construct) return cls.construct(args)
  throw refusal(describe(cls), 'instantiates')
}

function reconstructor(args: unknown[]): unknown {
  // copyreg._reconstructor(cls, base, state): base.__new__(cls, state) (+ base.__init__ for non-object bases).
  const [cls, base, state] = args
  if (cls instanceof PyGlobal) {
    const obj = new PyObject(cls.qualname, state === null || state === undefined ? [] : [state])
    if (base instanceof AllowedCallable && (base.qualname === 'builtins.dict' || base.qualname === 'collections.OrderedDict')) {
      obj.dictItems = makeDict(base.qualname, state)
    }
    return obj
  }
  if (cls instanceof AllowedCallable && cls.construct) return cls.construct(state === null || state === undefined ? [] : [state])
  throw refusal(describe(cls), 'instantiates')
}

const BUILTIN_TYPES: Record<string, (args: unknown[]) => unknown> = {
  object: () => new PyObject('builtins.object'),
  dict: (a) => makeDict('dict', a[0]),
  list: (a) => iterItems(a[0], 'list').slice(),
  tuple: (a) => iterItems(a[0], 'tuple').slice(),
  set: (a) => new Set(iterItems(a[0], 'set')),
  frozenset: (a) => new Set(iterItems(a[0], 'frozenset')),
  bytearray: (a) => bytesFrom(a),
  bytes: (a) => bytesFrom(a),
  slice: (a) => new PyObject('builtins.slice', a),
  range: (a) => new PyObject('builtins.range', a),
  complex: (a) => new PyObject('builtins.complex', a),
}

function bytesFrom(a: unknown[]): Uint8Array {
  const [src, enc] = a
  if (src === undefined) return new Uint8Array(0)
  if (typeof src === 'string') return encodeString(src, enc)
  spend(shallowSize(src))
  if (src instanceof Uint8Array) return src.slice()
  if (Array.isArray(src)) return Uint8Array.from(src.map((x) => asInt(x, 'byte')))
  throw corrupt(`bytes: cannot convert ${describe(src)}`)
}

function encodeString(s: unknown, enc: unknown): Uint8Array {
  if (typeof s !== 'string') throw corrupt(`encode: expected a string, found ${describe(s)}`)
  const e = typeof enc === 'string' ? enc.toLowerCase().replace(/_/g, '-') : 'utf-8'
  if (e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1' || e === 'ascii') return latin1(s, 'encode')
  if (e === 'utf-8' || e === 'utf8') {
    spend(s.length)
    return new TextEncoder().encode(s)
  }
  throw new CheckpointError('unsupported', `unsupported string encoding ${JSON.stringify(enc)} in the pickle`)
}

// ---------------------------------------------------------------------------------------------------------
// The table

const TABLE = new Map<string, unknown>()

function fn(qualname: string, call: (args: unknown[]) => unknown, construct?: (args: unknown[]) => unknown): void {
  TABLE.set(qualname, new AllowedCallable(qualname, call, construct))
}

for (const mod of ['torch._utils']) {
  fn(`${mod}._rebuild_tensor_v2`, (a) => rebuildTensor(a[0], a[1], a[2], a[3], a[4]))
  fn(`${mod}._rebuild_tensor`, (a) => rebuildTensor(a[0], a[1], a[2], a[3], false))
  fn(`${mod}._rebuild_tensor_v3`, rebuildV3)
  fn(`${mod}._rebuild_parameter`, rebuildParameter)
  fn(`${mod}._rebuild_parameter_v2`, rebuildParameter)
  fn(`${mod}._rebuild_parameter_with_state`, rebuildParameter)
}
fn('torch._tensor._rebuild_from_type_v2', rebuildFromType)
fn('torch._tensor._rebuild_from_type', rebuildFromType)
fn('torch.Size', (a) => asIntList(iterItems(a[0], 'torch.Size'), 'torch.Size'))
fn('torch.device', (a) => new PyObject('torch.device', a))
for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
  TABLE.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype))
  TABLE.set(`torch.cuda.${name}`, new StorageType(`torch.cuda.${name}`, dtype))
}
TABLE.set('torch.UntypedStorage', new StorageType('torch.UntypedStorage', null))
TABLE.set('torch.storage.UntypedStorage', new StorageType('torch.storage.UntypedStorage', null))
TABLE.set('torch.storage._UntypedStorage', new StorageType('torch.storage._UntypedStorage', null))
for (const name of Object.keys(TORCH_DTYPES)) TABLE.set(`torch.${name}`, new PyConstant(`torch.${name}`))
for (const name of ['complex64', 'complex128', 'cfloat', 'cdouble', 'uint16', 'uint32', 'uint64', 'strided',
  'sparse_coo', 'contiguous_format', 'channels_last', 'channels_last_3d', 'preserve_format', 'per_tensor_affine']) {
  TABLE.set(`torch.${name}`, new PyConstant(`torch.${name}`))
}

fn('collections.OrderedDict', (a) => makeDict('collections.OrderedDict', a[0]), (a) => makeDict('collections.OrderedDict', a[0]))
fn('collections.defaultdict', (a) => makeDict('collections.defaultdict', a[1]), () => new PyDict('collections.defaultdict'))

for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
  fn(`${mod}._reconstruct`, numpyReconstruct)
  fn(`${mod}.scalar`, numpyScalar)
}
for (const mod of ['numpy.core.numeric', 'numpy._core.numeric']) fn(`${mod}._frombuffer`, numpyFrombuffer)
fn('numpy.ndarray', () => new NumpyArray(), () => new NumpyArray())
fn('numpy.dtype', numpyDtype, numpyDtype)

for (const mod of ['copyreg', 'copy_reg']) {
  fn(`${mod}._reconstructor`, reconstructor)
  fn(`${mod}.__newobj__`, (a) => newObject(a[0], a.slice(1)))
  fn(`${mod}.__newobj_ex__`, (a) => newObject(a[0], iterItems(a[1], '__newobj_ex__'), a[2]))
}
fn('_codecs.encode', (a) => encodeString(a[0], a[1]))
fn('codecs.encode', (a) => encodeString(a[0], a[1]))

for (const mod of ['builtins', '__builtin__']) {
  for (const [name, make] of Object.entries(BUILTIN_TYPES)) fn(`${mod}.${name}`, make, make)
}

/**
 * What GLOBAL / STACK_GLOBAL / INST push for `module.name`: an allowed callable or constant,
 * a PyGlobal placeholder, or a refusal for globals that exist to run code.
 */
export function resolveGlobal(module: string, name: string): unknown {
  const qualname = `${module}.${name}`
  const known = TABLE.get(qualname)
  if (known !== undefined) return known
  if (inModule(module, DANGEROUS_MODULES)) throw refusal(qualname)
  if (module === 'torch._utils' && TORCH_REBUILD_UNSUPPORTED.includes(name)) {
    return new AllowedCallable(qualname, () => {
      throw new CheckpointError('unsupported', `the checkpoint holds a tensor kind this reader does not support (${qualname}); save plain dense tensors`)
    })
  }
  return new PyGlobal(module, name)
}

/** REDUCE: `callable(*args)`, inertly. */
export function callGlobal(callable: unknown, args: unknown): unknown {
  if (!Array.isArray(args)) throw corrupt(`the pickle calls ${describe(callable)} with ${describe(args)} instead of an argument tuple`)
  if (callable instanceof AllowedCallable) return callable.call(args)
  if (callable instanceof PyGlobal || callable instanceof StorageType) throw refusal(callable.qualname)
  throw refusal(describe(callable))
}

/** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`, inertly. */
export function instantiate(cls: unknown, args: unknown, kwargs?: unknown): unknown {
  return newObject(cls, iterItems(args, 'NEWOBJ'), kwargs)
}

/** Turns a zip checkpoint's persistent id `('storage', storage_type, key, location, numel)` into a StorageRef. */
export function storageFromPid(pid: unknown): {storage: StorageRef; viewMetadata: unknown} {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new CheckpointError('unsupported', `unsupported persistent id in the pickle: ${describe(Array.isArray(pid) ? pid[0] : pid)}`)
  }
  const [, type, key, location, numel, viewMetadata] = pid
  let dtype: DType
  if (type instanceof StorageType) {
    dtype = type.dtype ?? 'uint8'
  } else if (type instanceof PyConstant && TORCH_DTYPES[type.name.replace(/^torch\./, '')] !== undefined) {
    dtype = TORCH_DTYPES[type.name.replace(/^torch\./, '')]!
  } else {
    throw new CheckpointError('unsupported', `unsupported storage type ${describe(type)}`)
  }
  if (typeof key !== 'string' && typeof key !== 'number') throw corrupt(`bad storage key ${describe(key)}`)
  return {
    storage: new StorageRef(String(key), dtype, typeof location === 'string' ? location : String(location), asInt(numel, 'storage size')),
    viewMetadata,
  }
}

export {asInt}
