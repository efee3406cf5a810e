import type {DType, TensorData} from '../tensor.js'

export const ELEMENT_SIZE: Readonly<Record<DType, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8,
  int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
}

/** torch.<Name>Storage (and torch.cuda.<Name>Storage) → element dtype. */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool',
}

/** torch.<dtype> attribute names → dtype (aliases included). */
export const TORCH_DTYPES: Readonly<Record<string, DType>> = {
  float32: 'float32', float: 'float32', float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
  float64: 'float64', double: 'float64', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32',
  int16: 'int16', short: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
}

/** A typed array of the right kind over `buffer` (no copy); `byteOffset` must be aligned to the element size. */
export function typedView(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length)
    case 'float64': return new Float64Array(buffer, byteOffset, length)
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, length)
    case 'int64': return new BigInt64Array(buffer, byteOffset, length)
    case 'int32': return new Int32Array(buffer, byteOffset, length)
    case 'int16': return new Int16Array(buffer, byteOffset, length)
    case 'int8': return new Int8Array(buffer, byteOffset, length)
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, length)
  }
}

export function allocTyped(dtype: DType, length: number): TensorData {
  return typedView(dtype, new ArrayBuffer(length * ELEMENT_SIZE[dtype]), 0, length)
}
