/**
 * A pickle virtual machine (protocols 0–5) that executes nothing.
 *
 * Every opcode is interpreted on plain JavaScript data. Globals are resolved through the allow-list in
 * globals.ts; calls (REDUCE) only reach its inert implementations, anything else is refused with an
 * error naming the global. Persistent ids (how torch.save refers to tensor storages) go to a callback.
 */
import {CheckpointError} from './errors.js'
import {
  buildNumpyArray, buildNumpyDtype, callGlobal, describe, instantiate, resolveGlobal, shallowSize, withWorkMeter, AllowedCallable, refusal,
} from './globals.js'
import {NumpyArray, NumpyDType, PyDict, PyGlobal, PyObject, TensorRef} from './pyobjects.js'

export interface UnpickleOptions {
  /** Byte offset in `data` where the pickle starts (default 0). */
  offset?: number
  /** Resolves a persistent id (BINPERSID / PERSID); without it persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown
  /** Name of the pickle in error messages, e.g. 'archive/data.pkl'. */
  source?: string
  /**
   * Elements the pickle's calls (REDUCE, NEWOBJ, BUILD, ...) may iterate, copy or create, in all; default
   * WORK_FLOOR + WORK_PER_BYTE × the pickle's size. Past it the pickle is refused ('limit').
   */
  workBudget?: number
}

export interface UnpickleResult {
  value: unknown
  /** Offset just past the STOP opcode. */
  end: number
}

/** Thrown when the bytes end before the pickle's STOP opcode. */
export class PickleTruncatedError extends CheckpointError {
  constructor(message: string, readonly at: number) {
    super('truncated', message)
  }
}

const MAX_PROTOCOL = 5

/**
 * The largest integer a checkpoint may hold, in bytes (LONG1/LONG4) and in decimal digits (INT/LONG text
 * opcodes; CPython's own default limit for int/str conversion). Epochs, step counts and seeds need a few bytes;
 * a megabyte integer only costs time.
 */
export const MAX_INT_BYTES = 2048
export const MAX_INT_DIGITS = 4300

/**
 * The work budget: a pickle that describes its data once does a few units of work per byte (a numpy array's
 * bytes are copied once, a dict's items once); one that multiplies its data (`list(x)` of a big memoised list,
 * over and over) is refused long before it takes the memory.
 */
export const WORK_FLOOR = 1 << 20
export const WORK_PER_BYTE = 8

const HEX_BYTE = Array.from({length: 256}, (_, i) => i.toString(16).padStart(2, '0'))
const utf8 = new TextDecoder('utf-8')
const utf8Strict = new TextDecoder('utf-8', {fatal: true})

export function unpickle(data: Uint8Array, options: UnpickleOptions = {}): UnpickleResult {
  return new Machine(data, options).run()
}

class Machine {
  private pos: number
  private readonly dv: DataView
  private stack: unknown[] = []
  private marks: number[] = []
  private memo = new Map<number, unknown>()
  private readonly source: string
  private opStart = 0
  private readonly workBudget: number
  private work = 0
  /** What the current opcode runs, for the budget's message. */
  private doing = ''

  constructor(private readonly data: Uint8Array, private readonly options: UnpickleOptions) {
    this.pos = options.offset ?? 0
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
    this.source = options.source ?? 'pickle'
    this.workBudget = options.workBudget ?? WORK_FLOOR + WORK_PER_BYTE * (data.length - this.pos)
  }

  private spend = (units: number): void => {
    this.work += units
    if (this.work > this.workBudget) {
      throw new CheckpointError(
        'limit',
        `${this.source}: the pickle's calls (the last one ${this.doing}) would iterate or create more than ${this.workBudget} elements, ` +
          `the budget for a pickle of ${this.data.length - (this.options.offset ?? 0)} bytes (${WORK_FLOOR} + ${WORK_PER_BYTE} per byte); ` +
          `a checkpoint's pickle describes its data once, this one multiplies it (opcode at offset ${this.opStart})`,
      )
    }
  }

  // --- reading -------------------------------------------------------------------------------------------

  private need(n: number): number {
    const p = this.pos
    if (n < 0 || p + n > this.data.length) {
      throw new PickleTruncatedError(
        `${this.source} is cut short: the pickle needs ${n} more bytes at offset ${p} but the data ends at ${this.data.length}` +
          ' (the file is truncated or damaged)',
        p,
      )
    }
    this.pos = p + n
    return p
  }

  private bytes(n: number): Uint8Array {
    const p = this.need(n)
    return this.data.subarray(p, p + n)
  }

  private u8(): number {
    return this.data[this.need(1)]!
  }
  private u16(): number {
    return this.dv.getUint16(this.need(2), true)
  }
  private u32(): number {
    return this.dv.getUint32(this.need(4), true)
  }
  private i32(): number {
    return this.dv.getInt32(this.need(4), true)
  }
  private u64(): number {
    const v = this.dv.getBigUint64(this.need(8), true)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`impossible length ${v}`)
    return Number(v)
  }

  private line(): string {
    const start = this.pos
    const nl = this.data.indexOf(0x0a, start)
    if (nl < 0) {
      this.need(this.data.length - start + 1) // throws
    }
    this.pos = nl + 1
    let s = ''
    for (let i = start; i < nl; i++) s += String.fromCharCode(this.data[i]!)
    return s.endsWith('\r') ? s.slice(0, -1) : s
  }

  private corrupt(message: string): CheckpointError {
    return new CheckpointError('corrupt', `${this.source}: ${message} (opcode at offset ${this.opStart})`)
  }

  // --- stack ---------------------------------------------------------------------------------------------

  private push(v: unknown): void {
    this.stack.push(v)
  }

  private pop(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0
    if (this.stack.length <= floor) throw this.corrupt('stack underflow')
    return this.stack.pop()
  }

  private top(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0
    if (this.stack.length <= floor) throw this.corrupt('stack underflow')
    return this.stack[this.stack.length - 1]
  }

  private popMark(): unknown[] {
    const m = this.marks.pop()
    if (m === undefined) throw this.corrupt('MARK expected')
    return this.stack.splice(m)
  }

  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) throw this.corrupt(`memo entry ${i} is missing`)
    return this.memo.get(i)
  }

  private memoPut(i: number): void {
    this.memo.set(i, this.top())
  }

  // --- main loop -----------------------------------------------------------------------------------------

  run(): UnpickleResult {
    return withWorkMeter(this.spend, () => this.loop())
  }

  private loop(): UnpickleResult {
    for (;;) {
      this.opStart = this.pos
      const op = this.u8()
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8()
          if (v > MAX_PROTOCOL) throw new CheckpointError('unsupported', `${this.source}: pickle protocol ${v} is not supported (at most ${MAX_PROTOCOL})`)
          break
        }
        case 0x95: // FRAME: framing is only a read-ahead hint
          this.need(8)
          break
        case 0x2e: // STOP '.'
          return {value: this.pop(), end: this.pos}

        // --- stack manipulation
        case 0x28: this.marks.push(this.stack.length); break // MARK '('
        case 0x30: this.pop(); break // POP '0'
        case 0x31: this.popMark(); break // POP_MARK '1'
        case 0x32: this.push(this.top()); break // DUP '2'

        // --- constants
        case 0x4e: this.push(null); break // NONE
        case 0x88: this.push(true); break // NEWTRUE
        case 0x89: this.push(false); break // NEWFALSE
        case 0x4b: this.push(this.u8()); break // BININT1
        case 0x4d: this.push(this.u16()); break // BININT2
        case 0x4a: this.push(this.i32()); break // BININT
        case 0x8a: this.push(this.long(this.u8())); break // LONG1
        case 0x8b: { // LONG4
          const n = this.i32()
          if (n < 0) throw this.corrupt('negative LONG4 length')
          this.push(this.long(n))
          break
        }
        case 0x47: this.push(this.dv.getFloat64(this.need(8), false)); break // BINFLOAT
        case 0x49: { // INT 'I' (text)
          const s = this.line()
          if (s === '01') this.push(true)
          else if (s === '00') this.push(false)
          else this.push(this.parseInt(s))
          break
        }
        case 0x4c: this.push(this.parseInt(this.line().replace(/L$/, ''))); break // LONG 'L' (text)
        case 0x46: { // FLOAT 'F' (text)
          const s = this.line()
          const v = Number(s)
          if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) throw this.corrupt(`bad float ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`)
          this.push(v)
          break
        }

        // --- strings and bytes
        case 0x58: this.push(utf8.decode(this.bytes(this.u32()))); break // BINUNICODE 'X'
        case 0x8c: this.push(utf8.decode(this.bytes(this.u8()))); break // SHORT_BINUNICODE
        case 0x8d: this.push(utf8.decode(this.bytes(this.u64()))); break // BINUNICODE8
        case 0x56: this.push(rawUnicodeEscape(this.line())); break // UNICODE 'V' (text)
        case 0x42: this.push(this.bytes(this.u32()).slice()); break // BINBYTES 'B'
        case 0x43: this.push(this.bytes(this.u8()).slice()); break // SHORT_BINBYTES 'C'
        case 0x8e: this.push(this.bytes(this.u64()).slice()); break // BINBYTES8
        case 0x96: this.push(this.bytes(this.u64()).slice()); break // BYTEARRAY8
        case 0x54: { // BINSTRING 'T' (Python 2 str)
          const n = this.i32()
          if (n < 0) throw this.corrupt('negative BINSTRING length')
          this.push(py2Str(this.bytes(n)))
          break
        }
        case 0x55: this.push(py2Str(this.bytes(this.u8()))); break // SHORT_BINSTRING 'U'
        case 0x53: this.push(py2Str(this.quotedString(this.line()))); break // STRING 'S' (text)
        case 0x97: // NEXT_BUFFER
          throw new CheckpointError('unsupported', `${this.source}: out-of-band pickle buffers are not supported`)
        case 0x98: break // READONLY_BUFFER: no-op on our data

        // --- containers
        case 0x29: this.push([]); break // EMPTY_TUPLE ')'
        case 0x85: this.push([this.pop()]); break // TUPLE1
        case 0x86: { // TUPLE2
          const b = this.pop()
          const a = this.pop()
          this.push([a, b])
          break
        }
        case 0x87: { // TUPLE3
          const c = this.pop()
          const b = this.pop()
          const a = this.pop()
          this.push([a, b, c])
          break
        }
        case 0x74: this.push(this.popMark()); break // TUPLE 't'
        case 0x5d: this.push([]); break // EMPTY_LIST ']'
        case 0x6c: this.push(this.popMark()); break // LIST 'l'
        case 0x7d: this.push(new PyDict()); break // EMPTY_DICT '}'
        case 0x64: { // DICT 'd'
          const items = this.popMark()
          const d = new PyDict()
          this.setItems(d, items)
          this.push(d)
          break
        }
        case 0x8f: this.push(new Set()); break // EMPTY_SET
        case 0x91: this.push(new Set(this.popMark())); break // FROZENSET
        case 0x61: { // APPEND 'a'
          const v = this.pop()
          this.append(this.top(), [v])
          break
        }
        case 0x65: { // APPENDS 'e'
          const items = this.popMark()
          this.append(this.top(), items)
          break
        }
        case 0x73: { // SETITEM 's'
          const v = this.pop()
          const k = this.pop()
          this.setItems(this.top(), [k, v])
          break
        }
        case 0x75: { // SETITEMS 'u'
          const items = this.popMark()
          this.setItems(this.top(), items)
          break
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark()
          const s = this.top()
          if (!(s instanceof Set)) throw this.corrupt(`ADDITEMS on ${describe(s)}`)
          for (const x of items) s.add(x)
          break
        }

        // --- memo
        case 0x67: this.push(this.memoGet(this.parseIndex(this.line()))); break // GET 'g'
        case 0x68: this.push(this.memoGet(this.u8())); break // BINGET 'h'
        case 0x6a: this.push(this.memoGet(this.u32())); break // LONG_BINGET 'j'
        case 0x70: this.memoPut(this.parseIndex(this.line())); break // PUT 'p'
        case 0x71: this.memoPut(this.u8()); break // BINPUT 'q'
        case 0x72: this.memoPut(this.u32()); break // LONG_BINPUT 'r'
        case 0x94: this.memoPut(this.memo.size); break // MEMOIZE

        // --- globals and objects
        case 0x63: { // GLOBAL 'c'
          const module = this.line()
          const name = this.line()
          this.push(resolveGlobal(module, name))
          break
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop()
          const module = this.pop()
          if (typeof module !== 'string' || typeof name !== 'string') throw this.corrupt('STACK_GLOBAL needs two strings')
          this.push(resolveGlobal(module, name))
          break
        }
        case 0x82: case 0x83: case 0x84: { // EXT1/EXT2/EXT4
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32()
          throw refusal(`copyreg extension code ${code}`, 'asks for')
        }
        case 0x52: { // REDUCE 'R'
          const args = this.pop()
          const f = this.pop()
          this.doing = describe(f)
          this.push(callGlobal(f, args))
          break
        }
        case 0x81: { // NEWOBJ
          const args = this.pop()
          const cls = this.pop()
          this.doing = `NEWOBJ of ${describe(cls)}`
          this.push(instantiate(cls, args))
          break
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop()
          const args = this.pop()
          const cls = this.pop()
          this.doing = `NEWOBJ_EX of ${describe(cls)}`
          this.spend(shallowSize(kwargs))
          this.push(instantiate(cls, args, kwargs))
          break
        }
        case 0x69: { // INST 'i' (protocol 0 class instance)
          const module = this.line()
          const name = this.line()
          const cls = resolveGlobal(module, name)
          this.doing = `INST of ${describe(cls)}`
          this.push(this.oldStyleInstance(cls, this.popMark()))
          break
        }
        case 0x6f: { // OBJ 'o'
          const items = this.popMark()
          if (items.length === 0) throw this.corrupt('OBJ without a class')
          this.doing = `OBJ of ${describe(items[0])}`
          this.push(this.oldStyleInstance(items[0], items.slice(1)))
          break
        }
        case 0x62: { // BUILD 'b'
          const state = this.pop()
          this.doing = `BUILD of ${describe(this.top())}`
          this.build(this.top(), state)
          break
        }
        case 0x51: { // BINPERSID 'Q'
          const pid = this.pop()
          this.push(this.persistent(pid))
          break
        }
        case 0x50: this.push(this.persistent(this.line())); break // PERSID 'P'

        default:
          throw this.corrupt(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`)
      }
    }
  }

  // --- helpers -------------------------------------------------------------------------------------------

  private tooLarge(what: string): CheckpointError {
    return new CheckpointError('limit', `${this.source}: ${what} (opcode at offset ${this.opStart}); a checkpoint's integers are at most ${MAX_INT_BYTES} bytes (${MAX_INT_DIGITS} digits)`)
  }

  /** A little-endian two's complement integer of `n` bytes, in time linear in `n`. */
  private long(n: number): number | bigint {
    if (n === 0) return 0
    if (n > MAX_INT_BYTES) throw this.tooLarge(`the pickle holds an integer of ${n} bytes`)
    const b = this.bytes(n)
    if (n <= 6) {
      let x = 0
      for (let i = n - 1; i >= 0; i--) x = x * 256 + b[i]!
      return b[n - 1]! & 0x80 ? x - 2 ** (8 * n) : x
    }
    let hex = ''
    for (let i = n - 1; i >= 0; i--) hex += HEX_BYTE[b[i]!]
    let v = BigInt(`0x${hex}`)
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n)
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  }

  private parseInt(s: string): number | bigint {
    const t = s.trim()
    if (t.length > MAX_INT_DIGITS + 1) throw this.tooLarge(`the pickle holds an integer of ${t.replace(/^[+-]/, '').length} digits`)
    if (!/^[+-]?\d+$/.test(t)) throw this.corrupt(`bad integer ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`)
    if (t.replace(/^[+-]/, '').length > MAX_INT_DIGITS) throw this.tooLarge(`the pickle holds an integer of ${t.length - 1} digits`)
    const v = BigInt(t)
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  }

  private parseIndex(s: string): number {
    const v = this.parseInt(s)
    if (typeof v !== 'number' || v < 0) throw this.corrupt(`bad memo index ${JSON.stringify(s)}`)
    return v
  }

  private quotedString(s: string): Uint8Array {
    const q = s[0]
    if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) throw this.corrupt('STRING opcode argument must be quoted')
    return pyEscapes(s.slice(1, -1))
  }

  private append(target: unknown, items: unknown[]): void {
    if (Array.isArray(target)) {
      for (const x of items) target.push(x)
    } else if (target instanceof PyObject) {
      const list = (target.listItems ??= [])
      for (const x of items) list.push(x)
    } else if (target instanceof Set) {
      for (const x of items) target.add(x)
    } else {
      throw this.corrupt(`cannot append to ${describe(target)}`)
    }
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2 !== 0) throw this.corrupt('odd number of items for a dict')
    let d: Map<unknown, unknown>
    if (target instanceof Map) d = target
    else if (target instanceof PyObject) d = target.dictItems ??= new PyDict()
    else throw this.corrupt(`cannot set items on ${describe(target)}`)
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1])
  }

  private build(inst: unknown, state: unknown): void {
    if (inst instanceof PyObject) {
      if (inst.state instanceof Map && state instanceof Map) {
        this.spend(state.size)
        for (const [k, v] of state) inst.state.set(k, v)
      } else {
        inst.state = state
      }
    } else if (inst instanceof NumpyArray) {
      buildNumpyArray(inst, state)
    } else if (inst instanceof NumpyDType) {
      buildNumpyDtype(inst, state)
    } else if (inst instanceof PyDict) {
      // e.g. an OrderedDict state_dict's `_metadata`: instance attributes, not items.
      inst.attrs = state
    } else if (inst instanceof TensorRef) {
      // Tensor.__setstate__ for old-style tensors / tensor attributes: nothing we need.
    } else if (inst instanceof AllowedCallable || inst instanceof PyGlobal) {
      throw refusal(inst.qualname, 'sets attributes on')
    } else {
      // BUILD on plain data (lists, sets, ...) has no Python meaning we need; keep the data as it is.
    }
  }

  private oldStyleInstance(cls: unknown, args: unknown[]): unknown {
    if (cls instanceof PyGlobal) return new PyObject(cls.qualname, args)
    return callGlobal(cls, args)
  }

  private persistent(pid: unknown): unknown {
    if (!this.options.persistentLoad) {
      throw new CheckpointError('unsupported', `${this.source}: the pickle refers to external data (persistent id ${describe(pid)}) but none is available`)
    }
    return this.options.persistentLoad(pid)
  }
}

/** A Python 2 `str`: text when it is valid UTF-8, raw bytes otherwise (e.g. numpy buffers). */
function py2Str(b: Uint8Array): string | Uint8Array {
  try {
    return utf8Strict.decode(b)
  } catch {
    return b.slice()
  }
}

const SIMPLE_ESCAPES: Record<string, number> = {n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0}

/** Decodes the body of a Python 2 repr() string literal into bytes. */
function pyEscapes(s: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c !== '\\' || i + 1 >= s.length) {
      out.push(s.charCodeAt(i) & 0xff)
      continue
    }
    const e = s[++i]!
    if (e === 'x') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16) & 0xff)
      i += 2
    } else if (/[0-7]/.test(e)) {
      let j = i
      while (j < i + 3 && j < s.length && /[0-7]/.test(s[j]!)) j++
      out.push(parseInt(s.slice(i, j), 8) & 0xff)
      i = j - 1
    } else if (e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]!)
    } else {
      out.push(92, s.charCodeAt(i) & 0xff)
    }
  }
  return Uint8Array.from(out)
}

/** Python's raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string | undefined, u8: string | undefined) =>
    String.fromCodePoint(parseInt((u4 ?? u8)!, 16)),
  )
}
