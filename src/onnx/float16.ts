/** IEEE 754 half precision and bfloat16 conversions (bit patterns held in Uint16Array). */

const scratchF32 = new Float32Array(1)
const scratchU32 = new Uint32Array(scratchF32.buffer)

/** Largest finite float16 value. */
export const FLOAT16_MAX = 65504

/** float32 (or any JS number, first rounded to float32) to float16 bits, round to nearest even. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value
  return float32BitsToFloat16Bits(scratchU32[0]!)
}

function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  const mant = bits & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  const e = exp - 112 // exponent re-biased for float16 (127 - 15)
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    // float16 subnormal (or zero): value in units of 2^-24 is (mant | 1<<23) >> (126 - exp)
    const shift = 126 - exp
    if (shift > 24) return sign
    const m = mant | 0x800000
    let half = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++ // a carry may roll into the exponent: still correct
  return sign | half
}

/** float16 bits to a JS number (exact). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

/** Convert a whole Float32Array to float16 bits. */
export function float32ArrayToFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length)
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length)
  for (let i = 0; i < src.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]!)
  return out
}

/** Decode float16 bits to float32. */
export function float16ArrayToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length)
  // A 64K lookup table would be faster for huge arrays; this is used for checkpoint weights only once.
  for (let i = 0; i < src.length; i++) out[i] = float16BitsToNumber(src[i]!)
  return out
}

/** Decode bfloat16 bits (the upper half of a float32) to float32. */
export function bfloat16ArrayToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16
  return out
}

/** Whether every value fits float16 without overflowing to infinity (NaN passes; an infinity does not). */
export function fitsFloat16(src: Float32Array): boolean {
  for (let i = 0; i < src.length; i++) {
    if (Math.abs(src[i]!) >= 65520) return false // |x| >= 65520 rounds to infinity
  }
  return true
}
