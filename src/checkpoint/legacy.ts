/**
 * The pre-1.6 torch.save format: consecutive pickles (magic number, protocol version, sys_info, the
 * object, the storage key list) followed by each storage's raw bytes, preceded by its 8-byte element count.
 */
import type {FileHandle} from 'node:fs/promises'
import {CheckpointError} from './errors.js'
import {ELEMENT_SIZE} from './dtypes.js'
import {describe, storageFromPid} from './globals.js'
import {PyDict, PyObject, StorageRef} from './pyobjects.js'
import {PickleTruncatedError, unpickle} from './unpickle.js'
import type {UnpickleOptions} from './unpickle.js'
import {readExactly} from './zip.js'

const MAGIC = 0x1950a86a20f9469cfc6cn
const PROTOCOL_VERSION = 1001

export interface LegacyRecord {
  key: string
  dtype: StorageRef['dtype']
  /** Offset of the raw data (after the 8-byte count). */
  offset: number
  numel: number
  byteLength: number
}

export interface LegacyContents {
  root: unknown
  bigEndian: boolean
  records: Map<string, LegacyRecord>
}

/** Reads one pickle starting at `pos`, growing the window read from the file until its STOP opcode is inside. */
async function pickleAt(
  fh: FileHandle,
  fileSize: number,
  pos: number,
  what: string,
  options: Omit<UnpickleOptions, 'offset' | 'source'> = {},
  onRetry?: () => void,
): Promise<{value: unknown; next: number}> {
  let window = Math.min(fileSize - pos, 1 << 20)
  for (;;) {
    if (window <= 0) throw new CheckpointError('truncated', `the file is truncated: it ends (at ${fileSize} bytes) before the ${what}`)
    const bytes = await readExactly(fh, pos, window, () => `the ${what}`)
    try {
      const {value, end} = unpickle(bytes, {...options, source: `the ${what} (at offset ${pos})`})
      return {value, next: pos + end}
    } catch (err) {
      if (!(err instanceof PickleTruncatedError)) throw err
      if (pos + window >= fileSize) {
        throw new CheckpointError('truncated', `the file is truncated: the ${what}, starting at offset ${pos}, is cut short at the end of the file (${fileSize} bytes)`)
      }
      window = Math.min(fileSize - pos, window * 4)
      onRetry?.()
    }
  }
}

export async function readLegacy(fh: FileHandle, fileSize: number): Promise<LegacyContents> {
  let magic: {value: unknown; next: number}
  try {
    magic = await pickleAt(fh, fileSize, 0, 'magic number pickle')
  } catch (err) {
    if (err instanceof CheckpointError && (err.code === 'refused' || err.code === 'limit')) throw err
    throw new CheckpointError('not-a-checkpoint', `not a PyTorch checkpoint: the file starts like a Python pickle but does not begin with torch.save's magic number (${(err as Error).message})`)
  }
  if (magic.value !== MAGIC) {
    throw new CheckpointError(
      'not-a-checkpoint',
      `not a PyTorch checkpoint: the file is a Python pickle of ${describe(magic.value)}, not a torch.save file (no torch magic number). ` +
        'Only torch.save files are read; plain pickles may run code and are not supported.',
    )
  }
  const proto = await pickleAt(fh, fileSize, magic.next, 'protocol version pickle')
  if (proto.value !== PROTOCOL_VERSION) {
    throw new CheckpointError('unsupported', `unsupported legacy checkpoint protocol version ${describe(proto.value)} (expected ${PROTOCOL_VERSION})`)
  }
  const sys = await pickleAt(fh, fileSize, proto.next, 'sys_info pickle')
  const bigEndian = sys.value instanceof PyDict && sys.value.get('little_endian') === false

  // The object itself. Storages are identified by their root key; views (pre-1.0) carry an offset.
  let roots = new Map<string, StorageRef>()
  const persistentLoad = (pid: unknown): unknown => {
    if (Array.isArray(pid) && pid[0] === 'module') return new PyObject('torch.nn.Module (pickled source)', pid.slice(1))
    const {storage, viewMetadata} = storageFromPid(pid)
    let root = roots.get(storage.key)
    if (root === undefined) {
      root = storage
      roots.set(storage.key, root)
    }
    if (Array.isArray(viewMetadata) && viewMetadata.length === 3) {
      const [, offset, size] = viewMetadata
      if (typeof offset !== 'number' || typeof size !== 'number') throw new CheckpointError('corrupt', `bad storage view of ${storage.key}`)
      return new StorageRef(root.key, root.dtype, root.location, size, offset)
    }
    return root
  }
  const main = await pickleAt(fh, fileSize, sys.next, 'checkpoint pickle', {persistentLoad}, () => {
    roots = new Map()
  })
  const keysPickle = await pickleAt(fh, fileSize, main.next, 'storage key list')
  if (!Array.isArray(keysPickle.value)) throw new CheckpointError('corrupt', `legacy checkpoint: the storage key list is ${describe(keysPickle.value)}`)
  const keys = keysPickle.value.map(String)

  const records = new Map<string, LegacyRecord>()
  let pos = keysPickle.next
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const ref = roots.get(key)
    if (ref === undefined) throw new CheckpointError('corrupt', `legacy checkpoint: storage ${key} is listed but never used by the pickle`)
    const label = () => `storage ${key} (${i + 1} of ${keys.length}, header at offset ${pos})`
    if (pos + 8 > fileSize) {
      throw new CheckpointError('truncated', `the file is truncated: it ends (at ${fileSize} bytes) before ${label()}; ${i} of ${keys.length} storages are complete`)
    }
    const head = await readExactly(fh, pos, 8, label)
    const dv = new DataView(head.buffer)
    const count = Number(dv.getBigInt64(0, !bigEndian))
    if (count !== ref.numel) {
      throw new CheckpointError('corrupt', `legacy checkpoint: ${label()} holds ${count} elements but the pickle says ${ref.numel}`)
    }
    const byteLength = count * ELEMENT_SIZE[ref.dtype]
    const offset = pos + 8
    if (offset + byteLength > fileSize) {
      throw new CheckpointError('truncated', `the file is truncated: ${label()} needs ${byteLength} bytes from offset ${offset} but the file ends at ${fileSize}; ${i} of ${keys.length} storages are complete`)
    }
    records.set(key, {key, dtype: ref.dtype, offset, numel: count, byteLength})
    pos = offset + byteLength
  }
  return {root: main.value, bigEndian, records}
}
