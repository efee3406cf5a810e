/**
 * Inert JavaScript stand-ins for the Python objects a checkpoint pickle describes.
 *
 * Mapping: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes/bytearray → Uint8Array, list and tuple → Array, dict/OrderedDict → PyDict (a Map), set/frozenset → Set.
 * Instances of classes the reader does not know become PyObject (class name + constructor arguments + state);
 * nothing of theirs is ever run.
 */
import type {DType} from '../tensor.js'

/** A reference to a Python global (module + qualified name) that was not resolved to anything callable. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`
  }
  toString(): string {
    return this.qualname
  }
}

/** A Python dict, OrderedDict or defaultdict, in insertion order. */
export class PyDict extends Map<unknown, unknown> {
  /** 'dict', 'collections.OrderedDict', ... */
  pyClass: string
  /** Instance attributes restored by BUILD, such as a state_dict's `_metadata`. Never mixed into the items. */
  attrs?: unknown

  constructor(pyClass = 'dict') {
    super()
    this.pyClass = pyClass
  }
}

/** An instance of a class outside the allow-list (e.g. `__main__.RecorderMeter`), kept as plain data. */
export class PyObject {
  /** Arguments the pickle passed to `cls.__new__` (NEWOBJ) or to the copyreg reconstructor. */
  args: unknown[]
  kwargs?: PyDict
  /** What BUILD supplied: usually the instance `__dict__` as a PyDict. */
  state?: unknown
  /** Items appended or set on the object (list and dict subclasses). */
  listItems?: unknown[]
  dictItems?: PyDict

  constructor(readonly className: string, args: unknown[] = []) {
    this.args = args
  }

  /** An attribute from the BUILD state (`obj.__dict__[name]`), if any. */
  attr(name: string): unknown {
    const s = this.state
    if (s instanceof Map) return s.get(name)
    if (Array.isArray(s) && s.length === 2 && s[0] instanceof Map) return s[0].get(name)
    return undefined
  }
}

/** A named constant such as `torch.float32` or `torch.strided`. */
export class PyConstant {
  constructor(readonly name: string) {}
  toString(): string {
    return this.name
  }
}

/** One storage of a checkpoint: a run of `numel` elements of `dtype`, stored under `key`. */
export class StorageRef {
  constructor(
    /** Record key: `<prefix>/data/<key>` in a zip checkpoint, the storage key in a legacy one. */
    readonly key: string,
    readonly dtype: DType,
    /** Device the storage was saved from ('cpu', 'cuda:0', ...); ignored, everything is read to host. */
    readonly location: string,
    /** Element count of this storage (of the view, for legacy storage views). */
    readonly numel: number,
    /** Legacy storage views: element offset of this view into the root storage `key`. */
    readonly elementOffset = 0,
  ) {}
}

/** A tensor as described by the pickle: a strided view of a storage. No data until materialised. */
export class TensorRef {
  /** True for an nn.Parameter (`_rebuild_parameter`). */
  isParameter = false
  constructor(
    readonly storage: StorageRef,
    /** In elements, relative to `storage`. */
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
  get dtype(): DType {
    return this.storage.dtype
  }
}

/** A numpy dtype, e.g. descr 'f4' with byteorder '<'. */
export class NumpyDType {
  byteorder = '|'
  constructor(readonly descr: string) {}
  /** The array-protocol type string, e.g. '<f4'. */
  get str(): string {
    return (this.byteorder === '=' ? '<' : this.byteorder) + this.descr
  }
}

/** A numpy ndarray kept as its raw bytes (or its items for object arrays). */
export class NumpyArray {
  shape: number[] = []
  dtype: unknown = null
  fortranOrder = false
  /** Raw little/big-endian element bytes, or a list for object arrays. */
  data: Uint8Array | unknown[] = new Uint8Array(0)
}
