/** A tensor held in host memory, as read from a checkpoint or handed to the graph builder. */

export type DType =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'

export type TensorData =
  | Float32Array | Float64Array | Uint16Array /* float16 and bfloat16 bit patterns */
  | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array

export interface HostTensor {
  dtype: DType
  shape: number[]
  /** Row-major (contiguous) values; float16/bfloat16 as their raw 16-bit patterns. */
  data: TensorData
}

/** Named tensors in a state_dict's order. */
export type TensorMap = Map<string, HostTensor>

export function numel(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}
