import {mkdtempSync, mkdirSync, rmSync, writeFileSync, realpathSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach} from 'vitest'

const made: string[] = []

afterEach(() => {
  while (made.length) rmSync(made.pop()!, {recursive: true, force: true})
})

/** A fresh temp folder (real path, so symlink-resolved comparisons are simple), removed after each test. */
export function tmpDir(): string {
  const d = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'poster-ds-')))
  made.push(d)
  return d
}

/** Write `files` (relative path → content; dummy bytes by default) under `root`. */
export function writeTree(root: string, files: Record<string, string | Uint8Array> | string[]): void {
  const entries: Array<[string, string | Uint8Array]> = Array.isArray(files)
    ? files.map((f) => [f, 'x'])
    : Object.entries(files)
  for (const [rel, content] of entries) {
    const p = path.join(root, rel)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, content)
  }
}

/** Bytes of a .npy file, written by hand: version 1.0 (or 2.0/3.0), header padded to 64 bytes. */
export function npyBytes(descr: string, shape: number[], data: Uint8Array, opts: {version?: 1 | 2 | 3; fortran?: boolean} = {}): Uint8Array {
  const version = opts.version ?? 1
  const shapeStr = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeStr}, }`
  const pre = version === 1 ? 10 : 12
  const total = Math.ceil((pre + header.length + 1) / 64) * 64
  header = header.padEnd(total - pre - 1, ' ') + '\n'
  const hb = new TextEncoder().encode(header)
  const out = new Uint8Array(pre + hb.length + data.length)
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0])
  const dv = new DataView(out.buffer)
  if (version === 1) dv.setUint16(8, hb.length, true)
  else dv.setUint32(8, hb.length, true)
  out.set(hb, pre)
  out.set(data, pre + hb.length)
  return out
}

/** A '<U1'-style string element: UTF-32 little-endian, `n` code points, NUL padded. */
export function utf32(s: string, n: number, little = true): Uint8Array {
  const out = new Uint8Array(4 * n)
  const dv = new DataView(out.buffer)
  ;[...s].forEach((ch, i) => dv.setUint32(4 * i, ch.codePointAt(0)!, little))
  return out
}

export function int64s(values: bigint[], little = true): Uint8Array {
  const out = new Uint8Array(8 * values.length)
  const dv = new DataView(out.buffer)
  values.forEach((v, i) => dv.setBigInt64(8 * i, v, little))
  return out
}
