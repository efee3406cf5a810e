/** Small deterministic hashes and randomness shared across modules (no I/O, no dependencies). */

/** FNV-1a, 32 bit, over the UTF-8 bytes of `s` (offset 0x811C9DC5, prime 0x01000193). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5
  for (const b of new TextEncoder().encode(s)) {
    h ^= b
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * mulberry32: a small 32-bit PRNG (Tommy Ettinger's), good enough for resampling and synthetic data, and fully
 * deterministic. Returns a function yielding floats in [0, 1). The seed is taken modulo 2^32.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
