import {describe, expect, it} from 'vitest'

import {npyScalar, parseNpy} from '../../src/datasets/npy.js'
import {int64s, npyBytes, utf32} from './helpers.js'

describe('parseNpy', () => {
  it("reads a 0-d '<U1' string, as AffectNet's N_exp.npy holds", () => {
    const a = parseNpy(npyBytes('<U1', [], utf32('3', 1)))
    expect(a).toEqual({dtype: '<U1', shape: [], fortranOrder: false, data: ['3']})
    expect(npyScalar(a)).toBe('3')
  })

  it('reads wider and big-endian unicode strings, trailing NULs removed', () => {
    const data = new Uint8Array([...utf32('ab', 3, false), ...utf32('é😀', 3, false)])
    const a = parseNpy(npyBytes('>U3', [2], data))
    expect(a.data).toEqual(['ab', 'é😀'])
  })

  it('reads int64, little and big endian, with big values as bigint', () => {
    expect(parseNpy(npyBytes('<i8', [3], int64s([0n, -5n, 7n]))).data).toEqual([0, -5, 7])
    expect(parseNpy(npyBytes('>i8', [1], int64s([42n], false))).data).toEqual([42])
    expect(parseNpy(npyBytes('<i8', [1], int64s([2n ** 62n]))).data).toEqual([2n ** 62n])
    expect(npyScalar(parseNpy(npyBytes('<i8', [], int64s([6n]))))).toBe(6)
  })

  it('reads other ints, floats, bools and byte strings', () => {
    const f = new Uint8Array(8)
    new DataView(f.buffer).setFloat64(0, -0.25, true)
    expect(parseNpy(npyBytes('<f8', [], f)).data).toEqual([-0.25])
    const f4 = new Uint8Array(4)
    new DataView(f4.buffer).setFloat32(0, 1.5, false)
    expect(parseNpy(npyBytes('>f4', [1], f4)).data).toEqual([1.5])
    expect(parseNpy(npyBytes('<f2', [1], new Uint8Array([0x00, 0x3c]))).data).toEqual([1])
    expect(parseNpy(npyBytes('|u1', [3], new Uint8Array([1, 2, 255]))).data).toEqual([1, 2, 255])
    expect(parseNpy(npyBytes('|i1', [1], new Uint8Array([255]))).data).toEqual([-1])
    expect(parseNpy(npyBytes('<i4', [1], new Uint8Array([1, 0, 0, 0]))).data).toEqual([1])
    expect(parseNpy(npyBytes('<u2', [1], new Uint8Array([0, 1]))).data).toEqual([256])
    expect(parseNpy(npyBytes('|b1', [2], new Uint8Array([0, 1]))).data).toEqual([false, true])
    expect(parseNpy(npyBytes('|S3', [2], new TextEncoder().encode('7\0\0abc'))).data).toEqual(['7', 'abc'])
  })

  it('reads version 2.0 and 3.0 headers', () => {
    expect(parseNpy(npyBytes('<U1', [], utf32('5', 1), {version: 2})).data).toEqual(['5'])
    expect(parseNpy(npyBytes('<U1', [], utf32('6', 1), {version: 3})).data).toEqual(['6'])
  })

  it('returns Fortran-ordered 2-d data in C order', () => {
    // [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6
    const a = parseNpy(npyBytes('|u1', [2, 3], new Uint8Array([1, 4, 2, 5, 3, 6]), {fortran: true}))
    expect(a.shape).toEqual([2, 3])
    expect(a.data).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('refuses bad input with a clear message', () => {
    expect(() => parseNpy(new TextEncoder().encode('not numpy at all'), 'x.npy')).toThrow(/x\.npy.*magic/)
    expect(() => parseNpy(npyBytes('|O', [], new Uint8Array(8)))).toThrow(/pickle/)
    expect(() => parseNpy(npyBytes('<i8', [2], int64s([1n])))).toThrow(/truncated data/)
    const full = npyBytes('<U1', [], utf32('3', 1))
    expect(() => parseNpy(full.subarray(0, 20))).toThrow(/truncated header/)
    expect(() => npyScalar(parseNpy(npyBytes('|u1', [2], new Uint8Array([1, 2]))))).toThrow(/single value/)
  })
})
