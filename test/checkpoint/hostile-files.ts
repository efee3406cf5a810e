/**
 * Hostile checkpoints, built from the recipes of issue 14 (and a few variants of each): files that once aborted
 * node, hung the reader or took gigabytes. Each builder returns the file's bytes; test/fixtures/torch/hostile/
 * holds the same files (written by `node --import tsx test/checkpoint/hostile-files.ts`), and hostile.test.ts
 * checks that they still match these recipes.
 */
import {readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {constants, deflateRawSync} from 'node:zlib'

import {OP, bytes, dictPickle, global, str, tensorOps} from './helpers.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url))

function le16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16LE(n)
  return b
}
function le32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

export interface Record {
  name: string
  /** Stored bytes. */
  data?: Uint8Array
  /** An already deflated record and the uncompressed size its headers declare. */
  deflated?: {bytes: Uint8Array; size: number}
}

/** A zip archive (no zip64) of the records, in order; sizes as given, so they may lie. Built with Buffers, so records may be large. */
export function zipOf(records: Record[]): Buffer {
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const r of records) {
    const name = Buffer.from(r.name)
    const method = r.deflated ? 8 : 0
    const body = Buffer.from(r.deflated ? r.deflated.bytes : r.data!)
    const size = r.deflated ? r.deflated.size : body.length
    const local = Buffer.concat([le32(0x04034b50), le16(20), le16(0), le16(method), le32(0), le32(0),
      le32(body.length), le32(size), le16(name.length), le16(0), name])
    central.push(Buffer.concat([le32(0x02014b50), le16(20), le16(20), le16(0), le16(method), le32(0), le32(0),
      le32(body.length), le32(size), le16(name.length), le16(0), le16(0), le16(0), le16(0), le32(0), le32(offset), name]))
    parts.push(local, body)
    offset += local.length + body.length
  }
  const cd = Buffer.concat(central)
  const eocd = Buffer.concat([le32(0x06054b50), le16(0), le16(0), le16(records.length), le16(records.length),
    le32(cd.length), le32(offset), le16(0)])
  return Buffer.concat([...parts, cd, eocd])
}

/**
 * A raw deflate stream of `mib` MiB of zeros, about 1 KB per MiB: one flushed (self-contained, non-final) segment
 * of 1 MiB of zeros repeated, then an empty final block. Built without ever holding the zeros.
 */
export function deflatedZeros(mib: number): Buffer {
  const segment = deflateRawSync(Buffer.alloc(1 << 20), {finishFlush: constants.Z_FULL_FLUSH})
  const out = Buffer.alloc(segment.length * mib + 2)
  for (let i = 0; i < mib; i++) segment.copy(out, i * segment.length)
  out[out.length - 2] = 0x03 // BFINAL, fixed Huffman, end of block
  out[out.length - 1] = 0x00
  return out
}

/** A state dict of float32 tensors of `shape`/`stride` over small FloatStorage records `data/<key>`. */
function stateDictPickle(tensors: {name: string; key: string; numel: number; shape: number[]; stride: number[]}[]): Uint8Array {
  return dictPickle(tensors.map((t) => [str(t.name), tensorOps({storageType: 'FloatStorage', key: t.key, storageNumel: t.numel, offset: 0, shape: t.shape, stride: t.stride})]))
}

// --- 1: a stored record whose declared size is 2^31 or more ------------------------------------------------

/** Offset of central-directory entry `index` in a zip without zip64. */
function centralEntry(zip: Uint8Array, index: number): number {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength)
  let eocd = zip.length - 22
  while (eocd >= 0 && dv.getUint32(eocd, true) !== 0x06054b50) eocd--
  let p = dv.getUint32(eocd + 16, true)
  for (let i = 0; i < index; i++) p += 46 + dv.getUint16(p + 28, true) + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true)
  return p
}

/** The fixture checkpoint with the uncompressed size (offset 24) of its second central-directory entry set to `size`. */
export function patchedRecordSize(size = 0x80000000, entry = 1): Buffer {
  const zip = Buffer.from(readFileSync(`${FIXTURES}checkpoint-zip.pth`))
  zip.writeUInt32LE(size >>> 0, centralEntry(zip, entry) + 24)
  return zip
}

/** The same with both sizes (compressed, offset 20, and uncompressed) of the entry set to `size`: a record that claims to run past the end of the file. */
export function patchedBothSizes(size = 0xfffffff0, entry = 1): Buffer {
  const zip = patchedRecordSize(size, entry)
  zip.writeUInt32LE(size >>> 0, centralEntry(zip, entry) + 20)
  return zip
}

// --- 2: a LONG4 integer with a 1 MiB payload -----------------------------------------------------------------

export function long4Pickle(payload = 1 << 20): Buffer {
  return Buffer.concat([Buffer.from([0x80, 0x02, 0x8b]), le32(payload), Buffer.alloc(payload, 0x7f), Buffer.from('.')])
}

export function long4Zip(payload = 1 << 20): Buffer {
  return zipOf([{name: 'a/data.pkl', data: long4Pickle(payload)}])
}

/** A text LONG opcode ('L') of `digits` decimal digits. */
export function textLongZip(digits = 1 << 20): Buffer {
  return zipOf([{name: 'a/data.pkl', data: Buffer.concat([Buffer.from([0x80, 0x02, 0x4c]), Buffer.alloc(digits, '7'), Buffer.from('L\n.')])}])
}

// --- 3: memory amplification through allowed globals -----------------------------------------------------------

/**
 * `[list(x) for _ in range(copies)]` with x a list of `items` Nones, memoised once: about 700 KB of pickle for
 * 10^10 list elements.
 */
export function amplifyingPickle(items = 100_000, copies = 100_000, fn: [string, string] = ['builtins', 'list']): Buffer {
  const head = Buffer.from(bytes(OP.PROTO, 2, ...global(fn[0], fn[1]), OP.BINPUT, 0, OP.EMPTY_LIST, OP.MARK))
  const nones = Buffer.alloc(items, OP.NONE)
  const mid = Buffer.from([OP.APPENDS, OP.BINPUT, 1, OP.EMPTY_LIST, OP.MARK])
  const call = Buffer.from([OP.BINGET, 0, OP.BINGET, 1, OP.TUPLE1, OP.REDUCE])
  const calls = Buffer.alloc(call.length * copies)
  for (let i = 0; i < copies; i++) call.copy(calls, i * call.length)
  return Buffer.concat([head, nones, mid, calls, Buffer.from([OP.APPENDS, OP.STOP])])
}

export function amplifyingZip(items?: number, copies?: number, fn?: [string, string]): Buffer {
  return zipOf([{name: 'a/data.pkl', data: amplifyingPickle(items, copies, fn)}])
}

/** The same growth through BUILD: one object's state (a dict of `items` entries) merged into it `times` times. */
export function amplifyingBuildZip(items = 100_000, times = 100_000): Buffer {
  const head = Buffer.from(bytes(OP.PROTO, 2, ...global('__main__', 'Meter'), OP.EMPTY_TUPLE, OP.NEWOBJ, OP.EMPTY_DICT, OP.MARK))
  const entries: Buffer[] = []
  for (let i = 0; i < items; i++) entries.push(Buffer.from([OP.BININT, ...le32(i), OP.NONE]))
  const mid = Buffer.from([OP.SETITEMS, OP.BINPUT, 0, OP.BUILD])
  const build = Buffer.from([OP.BINGET, 0, OP.BUILD])
  const builds = Buffer.alloc(build.length * times)
  for (let i = 0; i < times; i++) build.copy(builds, i * build.length)
  return zipOf([{name: 'a/data.pkl', data: Buffer.concat([head, ...entries, mid, builds, Buffer.from([OP.STOP])])}])
}

// --- 4: stride-0 views far larger than their storage ------------------------------------------------------------

/** `tensors` tensors of shape [268435455], stride 0, over one 4-element float32 storage: about 1 KB. */
export function strideZeroZip(tensors = 8, numel = 268435455): Buffer {
  const pkl = stateDictPickle(Array.from({length: tensors}, (_, i) => ({name: `w${i}`, key: '0', numel: 4, shape: [numel], stride: [0]})))
  return zipOf([{name: 'a/data.pkl', data: pkl}, {name: 'a/data/0', data: new Uint8Array(16)}])
}

/**
 * Many tensors each within any per-tensor limit, each a stride-0 view of its own 1-element storage: together far
 * more than a POSTER++ state dict holds.
 */
export function manyExpandedZip(tensors = 64, numel = 1 << 24): Buffer {
  const specs = Array.from({length: tensors}, (_, i) => ({name: `w${i}`, key: String(i), numel: 1, shape: [numel / 1024, 1024], stride: [0, 0]}))
  return zipOf([{name: 'a/data.pkl', data: stateDictPickle(specs)}, ...specs.map((s) => ({name: `a/data/${s.key}`, data: new Uint8Array(4)}))])
}

/** One tensor whose storage claims 2^40 elements, over a record of 16 bytes, viewed as [2^33]. */
export function hugeStorageClaimZip(): Buffer {
  const pkl = stateDictPickle([{name: 'w', key: '0', numel: 2 ** 40, shape: [2 ** 33], stride: [1]}])
  return zipOf([{name: 'a/data.pkl', data: pkl}, {name: 'a/data/0', data: new Uint8Array(16)}])
}

// --- 5: zip bombs -------------------------------------------------------------------------------------------------

/**
 * `records` deflated records of `mib` MiB of zeros each, declared honestly, as the storages of small tensors:
 * about 3 MB of file for 3 GiB of zeros.
 */
export function zipBomb(records = 3, mib = 1024): Buffer {
  const zeros = deflatedZeros(mib)
  const numel = (mib * (1 << 20)) / 4
  const specs = Array.from({length: records}, (_, i) => ({name: `w${i}`, key: String(i), numel, shape: [4], stride: [1]}))
  return zipOf([
    {name: 'a/data.pkl', data: stateDictPickle(specs)},
    ...specs.map((s) => ({name: `a/data/${s.key}`, deflated: {bytes: zeros, size: mib * (1 << 20)}})),
  ])
}

/** A data.pkl that inflates to `mib` MiB of zeros while declaring `declared` bytes. */
export function pickleBomb(mib = 1024, declared = mib * (1 << 20)): Buffer {
  return zipOf([{name: 'a/data.pkl', deflated: {bytes: deflatedZeros(mib), size: declared}}])
}

// --- the corpus -----------------------------------------------------------------------------------------------------

/**
 * The hostile corpus: small files (the bombs scaled down so that each still exceeds every limit), each with the
 * error code a reader must end with and a pattern its message must match.
 */
export const CORPUS: {file: string; build: () => Uint8Array; code: string; message: RegExp}[] = [
  {file: 'record-size-2g.pth', build: () => patchedRecordSize(), code: 'corrupt', message: /record 'checkpoint-zip\/data\/0' is stored uncompressed.*2147483648 bytes.*216/},
  {file: 'record-past-eof.pth', build: () => patchedBothSizes(), code: 'truncated', message: /record 'checkpoint-zip\/data\/0'.*4294967280 bytes/},
  {file: 'long4-1mib.pth', build: () => zipOf([{name: 'a/data.pkl', deflated: {bytes: deflateRawSync(long4Pickle()), size: long4Pickle().length}}]), code: 'limit', message: /integer of 1048576 bytes.*at most/},
  {file: 'text-long-1m-digits.pth', build: () => zipOf([{name: 'a/data.pkl', deflated: {bytes: deflateRawSync(textLongZipPickle()), size: textLongZipPickle().length}}]), code: 'limit', message: /integer of 1048576 digits.*at most/},
  {file: 'list-amplification.pth', build: () => deflatedPickleZip(amplifyingPickle()), code: 'limit', message: /the last one builtins\.list\) would iterate or create more than \d+ elements, the budget/},
  {file: 'build-amplification.pth', build: () => deflatedPickleZip(amplifyingBuildPickle()), code: 'limit', message: /the last one BUILD of a __main__\.Meter object\) would iterate or create more than \d+ elements, the budget/},
  {file: 'stride0-views.pth', build: () => strideZeroZip(), code: 'limit', message: /tensor 'w0' has 268435455 elements .*at most 67108864 per tensor/},
  {file: 'many-expanded-views.pth', build: () => manyExpandedZip(), code: 'limit', message: /the state dict's 64 tensors would take 4294967296 bytes, more than their storages hold \(256 bytes\)/},
  {file: 'storage-claims-2e40.pth', build: () => hugeStorageClaimZip(), code: 'corrupt', message: /does not fit its storage 0: the storage should hold 1099511627776 float32 elements but its record has 16 bytes/},
  {file: 'zip-bomb.pth', build: () => zipBomb(1, 80), code: 'limit', message: /record 'a\/data\/0' declares 83886080 bytes decompressed from \d+: more than this reader inflates/},
  {file: 'zip-bomb-lying-size.pth', build: () => pickleBomb(2, 4096), code: 'corrupt', message: /record 'a\/data\.pkl' decompresses to more than the 4096 bytes it declares/},
  {file: 'zip-impossible-ratio.pth', build: () => pickleBomb(1, 0xfffffff0), code: 'corrupt', message: /declares 4294967280 bytes.*deflate/},
]

function textLongZipPickle(): Buffer {
  return Buffer.concat([Buffer.from([0x80, 0x02, 0x4c]), Buffer.alloc(1 << 20, '7'), Buffer.from('L\n.')])
}

function amplifyingBuildPickle(): Buffer {
  const zip = amplifyingBuildZip(10_000, 100_000)
  // The pickle is the only record, stored right after its 30 + 10 byte local header.
  return zip.subarray(30 + 'a/data.pkl'.length, zip.length - (46 + 10) - 22)
}

function deflatedPickleZip(pkl: Buffer): Buffer {
  return zipOf([{name: 'a/data.pkl', deflated: {bytes: deflateRawSync(pkl, {level: 9}), size: pkl.length}}])
}

export const CORPUS_DIR = `${FIXTURES}hostile/`

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(CORPUS_DIR, {recursive: true})
  for (const c of CORPUS) {
    const data = c.build()
    writeFileSync(`${CORPUS_DIR}${c.file}`, data)
    process.stdout.write(`${c.file}: ${data.length} bytes\n`)
  }
}

