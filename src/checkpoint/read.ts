/**
 * Reading PyTorch checkpoints (torch.save, zip and legacy formats) without Python and without executing
 * anything from the file.
 */
import type {FileHandle} from 'node:fs/promises'

import {printable, sha256File} from '../basics.js'
import {NotRegularFileError, openRegularFile} from '../files.js'
import type {HostTensor, TensorMap} from '../tensor.js'
import {CheckpointError} from './errors.js'
import {ELEMENT_SIZE} from './dtypes.js'
import {describe, storageFromPid} from './globals.js'
import {readLegacy} from './legacy.js'
import {PyObject, StorageRef, TensorRef} from './pyobjects.js'
import {sniffFormat} from './sniff.js'
import type {CheckpointFormat} from './sniff.js'
import {MAX_EXPANSION_BYTES, byteSwapInPlace, checkView, materialize, scalarValue} from './tensors.js'
import {unpickle} from './unpickle.js'
import {ZipArchive, readExactly} from './zip.js'

export interface Checkpoint {
  format: CheckpointFormat
  /** The model weights, in the checkpoint's order, keys without a DataParallel `module.` prefix. */
  stateDict: TensorMap
  /** Where the state dict was found: 'state_dict', 'model', 'model_state_dict', or '' for a bare state dict. */
  stateDictKey: string
  /**
   * Scalars stored next to the state dict (epoch, best_acc, ...). One-element tensors become numbers;
   * float32/float16/bfloat16 ones are given as the shortest decimal that rounds to the stored value
   * (a float32 92.21 reads as 92.21).
   */
  meta: {epoch?: number; best_acc?: number; [k: string]: unknown}
  /**
   * The whole unpickled object, inert (see pyobjects.ts): dicts are PyDict (Map), tensors are TensorRef
   * descriptors without data, unknown classes (e.g. `__main__.RecorderMeter`) are PyObject, numpy arrays
   * are NumpyArray holding raw bytes.
   */
  root: unknown
  /** Hex SHA-256 of the file, when `sha256: true` was asked for. */
  sha256?: string
}

export interface ReadCheckpointOptions {
  /** Only materialise state-dict tensors whose (prefix-stripped) key passes; the others are not read at all. */
  keys?: (key: string) => boolean
  /** Also compute the file's SHA-256 (one more sequential pass over the file). */
  sha256?: boolean
  /** Called after each tensor is read, with bytes read so far and in total. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void
}

/** Reads storages (the raw bytes behind tensors) of an opened checkpoint. */
interface StorageSource {
  format: CheckpointFormat
  root: unknown
  /** The bytes of the root storage `key`, in host byte order, in a buffer of their own. */
  read(storage: StorageRef): Promise<Uint8Array>
  byteLength(storage: StorageRef): number
}

async function openZip(fh: FileHandle, fileSize: number): Promise<StorageSource> {
  const zip = await ZipArchive.open(fh, fileSize)
  const names = [...zip.entries.keys()]
  const pkl = names.find((n) => /^[^/]+\/data\.pkl$/.test(n)) ?? names.find((n) => n === 'data.pkl')
  if (pkl === undefined) {
    if (names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n))) {
      throw new CheckpointError('unsupported', 'this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the model\'s state_dict with torch.save instead')
    }
    const shown = names.slice(0, 5).map((n) => `'${n}'`).join(', ')
    throw new CheckpointError('not-a-checkpoint', `not a PyTorch checkpoint: a zip archive without a data.pkl record (it holds ${names.length} records${names.length ? `: ${shown}${names.length > 5 ? ', …' : ''}` : ''})`)
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length)
  const order = zip.entries.get(`${prefix}byteorder`)
  const bigEndian = order !== undefined && new TextDecoder().decode(await zip.read(order)).trim() === 'big'
  const pklBytes = await zip.read(zip.entries.get(pkl)!)
  const {value: root} = unpickle(pklBytes, {
    source: `record '${pkl}'`,
    persistentLoad: (pid) => storageFromPid(pid).storage,
  })
  const entryFor = (s: StorageRef) => {
    const name = `${prefix}data/${s.key}`
    const e = zip.entries.get(name)
    if (e === undefined) throw new CheckpointError('corrupt', `the checkpoint refers to storage ${s.key} but its record '${name}' is missing from the archive`)
    return e
  }
  return {
    format: 'zip',
    root,
    byteLength: (s) => entryFor(s).size,
    async read(s) {
      const bytes = await zip.read(entryFor(s))
      if (bigEndian) byteSwapInPlace(bytes, ELEMENT_SIZE[s.dtype])
      return bytes
    },
  }
}

async function openLegacy(fh: FileHandle, fileSize: number): Promise<StorageSource> {
  const {root, bigEndian, records} = await readLegacy(fh, fileSize)
  const recordFor = (s: StorageRef) => {
    const r = records.get(s.key)
    if (r === undefined) throw new CheckpointError('corrupt', `legacy checkpoint: storage ${s.key} is used but not stored in the file`)
    return r
  }
  return {
    format: 'legacy',
    root,
    byteLength: (s) => recordFor(s).byteLength,
    async read(s) {
      const r = recordFor(s)
      const bytes = await readExactly(fh, r.offset, r.byteLength, () => `storage ${r.key}`)
      if (bigEndian) byteSwapInPlace(bytes, ELEMENT_SIZE[r.dtype])
      return bytes
    },
  }
}

const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model'] as const

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (v instanceof TensorRef) return true
  return false
}

function keyList(m: Map<unknown, unknown>): string {
  const ks = [...m.keys()].slice(0, 12).map((k) => (typeof k === 'string' ? `'${k}'` : describe(k)))
  return ks.join(', ') + (m.size > 12 ? ', …' : '')
}

/** Finds the model state dict: a bare dict of tensors, or one under a known key of a wrapper dict. */
function findStateDict(root: unknown): {dict: Map<unknown, unknown>; key: string} {
  if (!(root instanceof Map)) {
    if (root instanceof PyObject) {
      throw new CheckpointError('no-state-dict', `the checkpoint holds a whole ${root.className} object rather than a state_dict; save model.state_dict() instead`)
    }
    throw new CheckpointError('no-state-dict', `the checkpoint holds ${describe(root)}, not a state_dict or a dict containing one`)
  }
  for (const key of WRAPPER_KEYS) {
    const v = root.get(key)
    if (v instanceof Map && hasTensors(v)) return {dict: v, key}
    if (v instanceof PyObject) {
      throw new CheckpointError('no-state-dict', `the checkpoint's '${key}' is a whole ${v.className} object rather than a state_dict; save model.state_dict() instead`)
    }
  }
  if (hasTensors(root)) return {dict: root, key: ''}
  throw new CheckpointError('no-state-dict', `no state_dict found in the checkpoint: its top-level keys are ${keyList(root)}`)
}

export function stripModulePrefix(key: string): string {
  return key.startsWith('module.') ? key.slice('module.'.length) : key
}

/** The shortest decimal that rounds to the same float32 (92.20999908447266 → 92.21). */
function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p))
    if (Math.fround(y) === x) return y
  }
  return x
}

/**
 * Reads a PyTorch checkpoint: the state dict as host tensors plus scalar metadata.
 * Throws CheckpointError ('not-a-checkpoint', 'truncated', 'refused', 'corrupt', 'unsupported',
 * 'no-state-dict', 'io') with a message that starts with the path.
 */
export async function readCheckpoint(path: string, opts: ReadCheckpointOptions = {}): Promise<Checkpoint> {
  let fh: FileHandle
  try {
    // Regular files only (a FIFO would block the open forever; a device never ends).
    fh = (await openRegularFile(path)).handle
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new CheckpointError('io', `${printable(path)}: not a checkpoint file: it is ${err.kind}`, {path, cause: err})
    throw new CheckpointError('io', `${path}: cannot open the checkpoint: ${(err as Error).message}`, {path, cause: err})
  }
  try {
    const fileSize = (await fh.stat()).size
    const headLen = Math.min(fileSize, 512)
    const head = headLen > 0 ? await readExactly(fh, 0, headLen, () => 'the file header') : new Uint8Array(0)
    const format = sniffFormat(head, fileSize)
    const source = format === 'zip' ? await openZip(fh, fileSize) : await openLegacy(fh, fileSize)
    const {dict, key: stateDictKey} = findStateDict(source.root)

    // Which tensors to read, and how many of them use each storage (so a storage is freed once its last user is done).
    const wanted: {name: string; ref: TensorRef}[] = []
    const users = new Map<string, number>()
    for (const [k, v] of dict) {
      if (!(v instanceof TensorRef)) continue
      const name = stripModulePrefix(String(k))
      if (opts.keys && !opts.keys(name)) continue
      wanted.push({name, ref: v})
      users.set(v.storage.key, (users.get(v.storage.key) ?? 0) + 1)
    }
    const cache = new Map<string, Promise<Uint8Array>>()
    const load = async (ref: TensorRef, label: string): Promise<HostTensor> => {
      const key = ref.storage.key
      let bytes = cache.get(key)
      if (bytes === undefined) {
        bytes = source.read(ref.storage)
        cache.set(key, bytes)
      }
      const t = materialize(ref, await bytes, label)
      const left = (users.get(key) ?? 1) - 1
      users.set(key, left)
      if (left <= 0) cache.delete(key)
      return t
    }

    // Every view checked against its storage before anything is read or allocated, and the views together
    // may not take much more than the records they come from (stride-0 views repeat elements for free).
    let total = 0
    let viewBytes = 0
    const counted = new Set<string>()
    for (const {name, ref} of wanted) {
      const recordBytes = source.byteLength(ref.storage)
      viewBytes += checkView(ref, recordBytes, name) * ELEMENT_SIZE[ref.dtype]
      if (!counted.has(ref.storage.key)) {
        counted.add(ref.storage.key)
        total += recordBytes
      }
    }
    if (viewBytes > total + MAX_EXPANSION_BYTES) {
      throw new CheckpointError(
        'limit',
        `the state dict's ${wanted.length} tensors would take ${viewBytes} bytes, more than their storages hold (${total} bytes) ` +
          `by over ${MAX_EXPANSION_BYTES}: views that repeat elements (stride 0, overlapping strides) that much are refused`,
      )
    }
    const tensors = new Array<HostTensor>(wanted.length)
    let loaded = 0
    let next = 0
    const worker = async () => {
      while (next < wanted.length) {
        const i = next++
        const {ref} = wanted[i]!
        const fresh = !cache.has(ref.storage.key)
        tensors[i] = await load(ref, String(wanted[i]!.name))
        if (fresh) loaded += source.byteLength(ref.storage)
        opts.onProgress?.(loaded, total)
      }
    }
    await Promise.all(Array.from({length: Math.min(4, wanted.length)}, worker))
    const stateDict: TensorMap = new Map()
    wanted.forEach(({name}, i) => stateDict.set(name, tensors[i]!))

    const meta: Checkpoint['meta'] = {}
    if (stateDictKey !== '' && source.root instanceof Map) {
      for (const [k, v] of source.root) {
        if (typeof k !== 'string' || k === stateDictKey) continue
        if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') meta[k] = v
        else if (typeof v === 'bigint') meta[k] = Number.isSafeInteger(Number(v)) ? Number(v) : v
        else if (v instanceof TensorRef && v.shape.reduce((a, b) => a * b, 1) === 1) {
          users.set(v.storage.key, (users.get(v.storage.key) ?? 0) + 1)
          const t = await load(v, k)
          const x = scalarValue(t)
          meta[k] = t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' ? shortestFloat32(x) : x
        }
      }
    }

    const result: Checkpoint = {format, stateDict, stateDictKey, meta, root: source.root}
    if (opts.sha256) result.sha256 = await sha256File(path)
    return result
  } catch (err) {
    if (err instanceof CheckpointError) {
      if (err.path === undefined) {
        err.path = path
        err.message = `${printable(path)}: ${err.message}`
      }
      throw err
    }
    throw new CheckpointError('io', `${path}: cannot read the checkpoint: ${(err as Error).message}`, {path, cause: err})
  } finally {
    await fh.close()
  }
}

