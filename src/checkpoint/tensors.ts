/** Turning tensor descriptors plus storage bytes into contiguous host tensors, and dtype conversions. */
import type {DType, HostTensor, TensorData} from '../tensor.js'
import {numel} from '../tensor.js'
import {CheckpointError} from './errors.js'
import {ELEMENT_SIZE, allocTyped, typedView} from './dtypes.js'
import type {TensorRef} from './pyobjects.js'

interface IndexedArray {
  [i: number]: unknown
  readonly length: number
  set(a: ArrayLike<unknown>, offset?: number): void
  subarray(begin: number, end: number): IndexedArray
}

/**
 * The most elements one tensor may have. POSTER++'s largest tensor has 12.8 million and its whole state dict
 * 59 million; a stride-0 view of a 4-element storage can claim 268 million (a gigabyte each) from a few bytes.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 26

/**
 * How many bytes the materialised tensors may take beyond the storage records they come from (views that repeat
 * elements: stride 0, overlapping strides). Views of real checkpoints repeat nothing, or very little.
 */
export const MAX_EXPANSION_BYTES = 2 ** 26

/**
 * Checks that `ref` describes a view `recordBytes` can back, before anything is read or allocated: the storage
 * within its record, at most MAX_TENSOR_ELEMENTS elements, offsets and strides that stay inside the storage.
 * Returns the view's element count.
 */
export function checkView(ref: TensorRef, recordBytes: number, name: string): number {
  const {dtype, shape, stride} = ref
  const es = ELEMENT_SIZE[dtype]
  const storage = ref.storage
  const n = numel(shape)
  const bad = (why: string) =>
    new CheckpointError('corrupt', `tensor '${name}' does not fit its storage ${storage.key}: ${why}`)
  if (storage.elementOffset < 0 || storage.numel < 0) throw bad(`the storage has a negative offset or size (${storage.elementOffset}, ${storage.numel})`)
  if (storage.elementOffset + storage.numel > Math.floor(recordBytes / es)) {
    throw bad(`the storage should hold ${storage.elementOffset + storage.numel} ${dtype} elements but its record has ${recordBytes} bytes`)
  }
  if (n === 0) return 0
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new CheckpointError(
      'limit',
      `tensor '${name}' has ${n} elements (shape [${shape.join(', ')}], stride [${stride.join(', ')}], over a storage of ${storage.numel}); ` +
        `this reader takes at most ${MAX_TENSOR_ELEMENTS} per tensor (a POSTER++ state dict holds 59 million in all, 12.8 million in its largest tensor)`,
    )
  }
  if (ref.storageOffset < 0 || stride.some((s) => s < 0)) throw bad('negative offset or stride')
  let last = ref.storageOffset
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!
  if (last >= storage.numel) {
    throw bad(`the view (offset ${ref.storageOffset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${last} of ${storage.numel}`)
  }
  return n
}

function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false
    expected *= shape[d]!
  }
  return true
}

/**
 * Builds the row-major tensor that `ref` describes over `record`, the bytes of its (root) storage.
 * When the tensor covers the whole record in row-major order its data is a view of `record` (no copy);
 * otherwise the elements are gathered into a new array.
 */
export function materialize(ref: TensorRef, record: Uint8Array, name: string): HostTensor {
  const {dtype, shape, stride} = ref
  const es = ELEMENT_SIZE[dtype]
  const storage = ref.storage
  const recordElems = Math.floor(record.byteLength / es)
  const n = checkView(ref, record.byteLength, name)
  if (n === 0) return {dtype, shape: [...shape], data: allocTyped(dtype, 0)}
  const start = storage.elementOffset + ref.storageOffset
  const contiguous = isRowMajor(shape, stride)
  if (contiguous && start === 0 && n === recordElems && record.byteOffset % es === 0) {
    return {dtype, shape: [...shape], data: typedView(dtype, record.buffer, record.byteOffset, n)}
  }
  const src = sourceArray(dtype, record)
  const dst = allocTyped(dtype, n)
  if (contiguous) {
    ;(dst as unknown as IndexedArray).set((src as unknown as IndexedArray).subarray(start, start + n))
  } else {
    gather(src as unknown as IndexedArray, start, shape, stride, dst as unknown as IndexedArray)
  }
  return {dtype, shape: [...shape], data: dst}
}

function sourceArray(dtype: DType, record: Uint8Array): TensorData {
  const es = ELEMENT_SIZE[dtype]
  const len = Math.floor(record.byteLength / es)
  if (record.byteOffset % es === 0) return typedView(dtype, record.buffer, record.byteOffset, len)
  const copy = new Uint8Array(len * es)
  copy.set(record.subarray(0, len * es))
  return typedView(dtype, copy.buffer, 0, len)
}

/** Copies a strided view (element offset, shape, strides) of `src` into `dst` in row-major order. */
function gather(src: IndexedArray, offset: number, shape: readonly number[], stride: readonly number[], dst: IndexedArray): void {
  const nd = shape.length
  if (nd === 0) {
    dst[0] = src[offset]
    return
  }
  const inner = shape[nd - 1]!
  const innerStride = stride[nd - 1]!
  const idx = new Array<number>(nd).fill(0)
  let base = offset
  let o = 0
  for (;;) {
    if (innerStride === 1) {
      dst.set(src.subarray(base, base + inner), o)
      o += inner
    } else {
      for (let i = 0, s = base; i < inner; i++, s += innerStride) dst[o++] = src[s]
    }
    let d = nd - 2
    for (; d >= 0; d--) {
      idx[d]!++
      base += stride[d]!
      if (idx[d]! < shape[d]!) break
      base -= stride[d]! * shape[d]!
      idx[d] = 0
    }
    if (d < 0) return
  }
}

/** Reverses the byte order of every element of `bytes` in place (big-endian files). */
export function byteSwapInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return
  for (let i = 0; i + elementSize <= bytes.length; i += elementSize) {
    for (let a = i, b = i + elementSize - 1; a < b; a++, b--) {
      const t = bytes[a]!
      bytes[a] = bytes[b]!
      bytes[b] = t
    }
  }
}

const f32Scratch = new Float32Array(1)
const u32Scratch = new Uint32Array(f32Scratch.buffer)

/** One IEEE half-precision bit pattern as a number (exact). */
export function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  const sign = h & 0x8000 ? -1 : 1
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** One bfloat16 bit pattern as a number (exact). */
export function bfloat16ToNumber(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16
  return f32Scratch[0]!
}

/**
 * The tensor's values as float32, row-major. A float32 tensor's own array is returned (no copy);
 * float16/bfloat16 bit patterns are decoded exactly; float64 and integers are rounded to float32.
 */
export function toFloat32(t: HostTensor): Float32Array {
  const d = t.data
  switch (t.dtype) {
    case 'float32':
      return d as Float32Array
    case 'float16': {
      const src = d as Uint16Array
      const out = new Float32Array(src.length)
      for (let i = 0; i < src.length; i++) out[i] = halfToNumber(src[i]!)
      return out
    }
    case 'bfloat16': {
      const src = d as Uint16Array
      const bits = new Uint32Array(src.length)
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16
      return new Float32Array(bits.buffer)
    }
    case 'int64': {
      const src = d as BigInt64Array
      const out = new Float32Array(src.length)
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!)
      return out
    }
    default:
      return Float32Array.from(d as Exclude<TensorData, BigInt64Array>)
  }
}

/** A 0-d or one-element tensor as a JavaScript number. */
export function scalarValue(t: HostTensor): number {
  if (t.data.length !== 1) throw new RangeError(`expected a one-element tensor, found shape [${t.shape.join(', ')}]`)
  switch (t.dtype) {
    case 'float16': return halfToNumber((t.data as Uint16Array)[0]!)
    case 'bfloat16': return bfloat16ToNumber((t.data as Uint16Array)[0]!)
    case 'int64': return Number((t.data as BigInt64Array)[0]!)
    default: return Number((t.data as Exclude<TensorData, BigInt64Array>)[0]!)
  }
}
