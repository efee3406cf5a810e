/**
 * A small reader for NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html),
 * enough for AffectNet's per-image annotation files (`N_exp.npy` holds a 0-d '<U1' string such as '3';
 * `N_val.npy`/`N_aro.npy` a float) and other small arrays.
 *
 * Supported: format versions 1.0, 2.0 and 3.0; byte orders '<', '>', '|' and '=' (taken as little-endian);
 * dtypes b1, i1/u1, i2/u2, i4/u4, i8/u8, f2/f4/f8, U<n> (UTF-32 strings) and S<n> (byte strings); any shape, in C or
 * Fortran order (Fortran data is returned in C order). Not supported: object arrays (they are pickles, and reading
 * them would mean running a pickle) and structured dtypes.
 */

import {readRegularFile} from '../files.js'

export type NpyValue = number | bigint | string | boolean

export interface NpyArray {
  /** The descr as written, e.g. '<U1', '<i8'. */
  dtype: string
  /** [] for a 0-d array. */
  shape: number[]
  fortranOrder: boolean
  /**
   * Elements in C (row-major) order. Integers are numbers; 64-bit integers outside the safe range are bigints.
   * Strings have their trailing NULs removed.
   */
  data: NpyValue[]
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

export function parseNpy(bytes: Uint8Array, name = 'array'): NpyArray {
  const fail = (why: string): never => {
    throw new Error(`${name}: not a readable .npy file: ${why}`)
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('missing the \\x93NUMPY magic string')
  const major = bytes[6]!
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let headerLen: number
  let headerStart: number
  if (major === 1) {
    headerLen = view.getUint16(8, true)
    headerStart = 10
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header')
    headerLen = view.getUint32(8, true)
    headerStart = 12
  } else {
    return fail(`format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`)
  }
  const dataStart = headerStart + headerLen
  if (dataStart > bytes.length) fail('truncated header')
  const headerBytes = bytes.subarray(headerStart, dataStart)
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes)

  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(header)?.[2]
  if (descr === undefined) {
    if (/['"]descr['"]\s*:\s*[[(]/.test(header)) fail('structured dtypes are not supported')
    fail(`no 'descr' in header ${JSON.stringify(header.trim())}`)
  }
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)
  if (!fortranMatch) fail(`no 'fortran_order' in header ${JSON.stringify(header.trim())}`)
  const fortranOrder = fortranMatch![1] === 'True'
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)
  if (!shapeMatch) fail(`no 'shape' in header ${JSON.stringify(header.trim())}`)
  const shape = shapeMatch![1]!
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^[0-9]+$/.test(s)) fail(`bad shape entry "${s}"`)
      return Number(s)
    })
  const count = shape.reduce((a, b) => a * b, 1)

  const dm = /^([<>|=]?)([a-zA-Z])([0-9]*)$/.exec(descr!)
  if (!dm) return fail(`dtype '${descr}' is not supported`)
  const order = dm[1]
  const kind = dm[2]!
  const size = dm[3] === '' ? 1 : Number(dm[3])
  const little = order !== '>'
  if (kind === 'O') fail(`dtype 'O' (Python objects, stored as a pickle) is not supported`)

  let itemSize: number
  let read: (off: number) => NpyValue
  switch (kind) {
    case 'b':
      if (size !== 1) fail(`dtype '${descr}' is not supported`)
      itemSize = 1
      read = (o) => view.getUint8(o) !== 0
      break
    case 'i':
    case 'u': {
      itemSize = size
      const signed = kind === 'i'
      if (size === 1) read = (o) => (signed ? view.getInt8(o) : view.getUint8(o))
      else if (size === 2) read = (o) => (signed ? view.getInt16(o, little) : view.getUint16(o, little))
      else if (size === 4) read = (o) => (signed ? view.getInt32(o, little) : view.getUint32(o, little))
      else if (size === 8) {
        read = (o) => {
          const v = signed ? view.getBigInt64(o, little) : view.getBigUint64(o, little)
          const n = Number(v)
          return Number.isSafeInteger(n) ? n : v
        }
      } else return fail(`dtype '${descr}' is not supported`)
      break
    }
    case 'f':
      itemSize = size
      if (size === 2) read = (o) => halfToFloat(view.getUint16(o, little))
      else if (size === 4) read = (o) => view.getFloat32(o, little)
      else if (size === 8) read = (o) => view.getFloat64(o, little)
      else return fail(`dtype '${descr}' is not supported`)
      break
    case 'U':
      // UTF-32, `size` code points per element, padded with NULs.
      itemSize = 4 * size
      read = (o) => {
        let s = ''
        for (let i = 0; i < size; i++) {
          const cp = view.getUint32(o + 4 * i, little)
          if (cp === 0) break
          if (cp > 0x10ffff) fail(`invalid code point ${cp} in a '${descr}' string`)
          s += String.fromCodePoint(cp)
        }
        return s
      }
      break
    case 'S':
    case 'a':
      itemSize = size
      read = (o) => {
        let end = o + size
        while (end > o && bytes[end - 1] === 0) end--
        return new TextDecoder('latin1').decode(bytes.subarray(o, end))
      }
      break
    default:
      return fail(`dtype '${descr}' is not supported`)
  }

  const need = dataStart + count * itemSize
  if (bytes.length < need) fail(`truncated data: ${count} elements of ${itemSize} bytes need ${need} bytes, file has ${bytes.length}`)

  const raw: NpyValue[] = new Array(count)
  for (let i = 0; i < count; i++) raw[i] = read(dataStart + i * itemSize)
  const data = fortranOrder && shape.length > 1 ? fortranToC(raw, shape) : raw
  return {dtype: descr!, shape, fortranOrder, data}
}

/** Reorder column-major data into row-major order. */
function fortranToC<T>(raw: T[], shape: number[]): T[] {
  const n = raw.length
  const out = new Array<T>(n)
  const idx = new Array<number>(shape.length).fill(0)
  // Walk C order; compute the Fortran offset of each multi-index.
  for (let c = 0; c < n; c++) {
    let f = 0
    let stride = 1
    for (let d = 0; d < shape.length; d++) {
      f += idx[d]! * stride
      stride *= shape[d]!
    }
    out[c] = raw[f]!
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]!++
      if (idx[d]! < shape[d]!) break
      idx[d] = 0
    }
  }
  return out
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * 2 ** -14 * (f / 1024)
  if (e === 0x1f) return f ? NaN : s * Infinity
  return s * 2 ** (e - 15) * (1 + f / 1024)
}

export async function readNpy(file: string): Promise<NpyArray> {
  return parseNpy(await readRegularFile(file), file)
}

/** The single value of a 0-d or one-element array. */
export function npyScalar(arr: NpyArray, name = 'array'): NpyValue {
  if (arr.data.length !== 1) {
    throw new Error(`${name}: expected a single value, found shape (${arr.shape.join(', ')})`)
  }
  return arr.data[0]!
}
