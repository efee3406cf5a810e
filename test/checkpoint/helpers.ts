/** Test helpers: a tiny pickle assembler and zip writer for hand-made checkpoints. */
import {deflateRawSync} from 'node:zlib'

import {CheckpointError} from '../../src/checkpoint/index.js'

type Part = number | number[] | Uint8Array | string

/** Concatenates opcodes and operands; strings are written as latin-1 bytes. */
export function bytes(...parts: Part[]): Uint8Array {
  const out: number[] = []
  for (const p of parts) {
    if (typeof p === 'number') out.push(p)
    else if (typeof p === 'string') for (let i = 0; i < p.length; i++) out.push(p.charCodeAt(i) & 0xff)
    else out.push(...p)
  }
  return Uint8Array.from(out)
}

export function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]
}
export function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff]
}
export function le64(n: number): number[] {
  return [...le32(n % 0x1_0000_0000), ...le32(Math.floor(n / 0x1_0000_0000))]
}

/** Pickle opcodes, by their Python names. */
export const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a,
  BININT1: 0x4b, LONG: 0x4c, BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52,
  STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67, BINGET: 0x68, INST: 0x69,
  LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71, LONG_BINPUT: 0x72,
  SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47, PROTO: 0x80, NEWOBJ: 0x81,
  EXT1: 0x82, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b,
  BINBYTES: 0x42, SHORT_BINBYTES: 0x43, SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f, ADDITEMS: 0x90, FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94,
  FRAME: 0x95, BYTEARRAY8: 0x96, NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const

/** BINUNICODE of a string (UTF-8). */
export function str(s: string): number[] {
  const b = new TextEncoder().encode(s)
  return [OP.BINUNICODE, ...le32(b.length), ...b]
}

/** An integer with the smallest binary opcode. */
export function int(n: number): number[] {
  if (n >= 0 && n < 256) return [OP.BININT1, n]
  if (n >= 0 && n < 65536) return [OP.BININT2, ...le16(n)]
  if (n >= -(2 ** 31) && n < 2 ** 31) return [OP.BININT, ...le32(n)]
  // LONG1: little-endian two's complement, as few bytes as the sign allows.
  const out: number[] = []
  let v = BigInt(n)
  for (;;) {
    const byte = Number(v & 0xffn)
    out.push(byte)
    v >>= 8n
    if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break
  }
  return [OP.LONG1, out.length, ...out]
}

export function global(module: string, name: string): number[] {
  return [...bytes(OP.GLOBAL, module, 10, name, 10)]
}

export function tuple(...items: number[][]): number[] {
  return [OP.MARK, ...items.flat(), OP.TUPLE]
}

export interface TensorSpec {
  storageType: string
  key: string
  storageNumel: number
  offset: number
  shape: number[]
  stride: number[]
  location?: string
}

/** `torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())` as pickle ops. */
export function tensorOps(t: TensorSpec): number[] {
  const pid = tuple(str('storage'), global('torch', t.storageType), str(t.key), str(t.location ?? 'cpu'), int(t.storageNumel))
  return [
    ...global('torch._utils', '_rebuild_tensor_v2'),
    ...tuple(
      [...pid, OP.BINPERSID],
      int(t.offset),
      tuple(...t.shape.map(int)),
      tuple(...t.stride.map(int)),
      [OP.NEWFALSE],
      [...global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE],
    ),
    OP.REDUCE,
  ]
}

/** A pickle (protocol 2) of a dict whose entries are given as already-assembled key and value ops. */
export function dictPickle(entries: [number[], number[]][]): Uint8Array {
  return bytes(OP.PROTO, 2, OP.EMPTY_DICT, OP.MARK, ...entries.flatMap(([k, v]) => [...k, ...v]), OP.SETITEMS, OP.STOP)
}

export interface ZipInput {
  name: string
  data: Uint8Array
  deflate?: boolean
}

/**
 * Writes a zip archive like torch.save does (data 64-byte aligned through a padding extra field,
 * sizes in the central directory) with optional zip64 end records and zip64 extra fields.
 */
export function makeZip(files: ZipInput[], opts: {zip64?: boolean} = {}): Uint8Array {
  const out: number[] = []
  const central: number[] = []
  for (const f of files) {
    const name = new TextEncoder().encode(f.name)
    const stored = f.deflate ? new Uint8Array(deflateRawSync(f.data)) : f.data
    const offset = out.length
    const headerEnd = offset + 30 + name.length + 4
    const pad = (64 - (headerEnd % 64)) % 64
    const extra = [...le16(0x4246), ...le16(pad), ...new Array<number>(pad).fill(0x5a)]
    out.push(...le32(0x04034b50), ...le16(20), ...le16(0), ...le16(f.deflate ? 8 : 0), 0, 0, 0, 0,
      ...le32(0), ...le32(stored.length), ...le32(f.data.length), ...le16(name.length), ...le16(extra.length), ...name, ...extra)
    out.push(...stored)
    const z64 = opts.zip64 === true
    const cextra = z64 ? [...le16(1), ...le16(24), ...le64(f.data.length), ...le64(stored.length), ...le64(offset)] : []
    central.push(...le32(0x02014b50), ...le16(45), ...le16(45), ...le16(0), ...le16(f.deflate ? 8 : 0), 0, 0, 0, 0,
      ...le32(0), ...le32(z64 ? 0xffffffff : stored.length), ...le32(z64 ? 0xffffffff : f.data.length),
      ...le16(name.length), ...le16(cextra.length), ...le16(0), ...le16(0), ...le16(0), ...le32(0),
      ...le32(z64 ? 0xffffffff : offset), ...name, ...cextra)
  }
  const cdOffset = out.length
  out.push(...central)
  const cdSize = central.length
  if (opts.zip64) {
    const z64At = out.length
    out.push(...le32(0x06064b50), ...le64(44), ...le16(45), ...le16(45), ...le32(0), ...le32(0),
      ...le64(files.length), ...le64(files.length), ...le64(cdSize), ...le64(cdOffset))
    out.push(...le32(0x07064b50), ...le32(0), ...le64(z64At), ...le32(1))
    out.push(...le32(0x06054b50), ...le16(0xffff), ...le16(0xffff), ...le16(0xffff), ...le16(0xffff),
      ...le32(0xffffffff), ...le32(0xffffffff), ...le16(0))
  } else {
    out.push(...le32(0x06054b50), ...le16(0), ...le16(0), ...le16(files.length), ...le16(files.length),
      ...le32(cdSize), ...le32(cdOffset), ...le16(0))
  }
  return Uint8Array.from(out)
}

/** The CheckpointError a read fails with (the test fails if it does not fail, or fails otherwise). */
export async function rejection(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p
  } catch (err) {
    // No vitest import here, so that scripts (hostile-files.ts) can use these helpers outside a test run.
    if (!(err instanceof CheckpointError)) throw new Error(`expected a CheckpointError, got ${String((err as Error)?.stack ?? err)}`)
    return err
  }
  throw new Error('expected readCheckpoint to fail')
}
