/**
 * Read an ONNX file's metadata_props without parsing its graph. A converted POSTER++ model is ~175 MB;
 * the metadata (label names, preprocessing, source checkpoint) sits in a few top-level ModelProto fields,
 * so we walk the top level with small reads and skip the graph by its length prefix.
 */
import {open} from 'node:fs/promises'

const MODEL_METADATA_PROPS = 14
const MODEL_PRODUCER_NAME = 2
const WIRE_VARINT = 0
const WIRE_I64 = 1
const WIRE_LEN = 2
const WIRE_I32 = 5

function readVarint(buf: Buffer, pos: number): {value: number; next: number} {
  let value = 0
  let shift = 1
  let p = pos
  for (;;) {
    if (p >= buf.length) throw new RangeError('varint past end')
    const b = buf[p++]
    value += (b & 0x7f) * shift
    if ((b & 0x80) === 0) break
    shift *= 128
    if (shift > 2 ** 63) throw new RangeError('varint too long')
  }
  return {value, next: p}
}

function parseEntry(buf: Buffer): [string, string] {
  let key = ''
  let value = ''
  let p = 0
  while (p < buf.length) {
    const tag = readVarint(buf, p)
    p = tag.next
    const field = Math.floor(tag.value / 8)
    const wire = tag.value & 7
    if (wire !== WIRE_LEN) throw new RangeError('unexpected wire type in metadata entry')
    const len = readVarint(buf, p)
    const s = buf.subarray(len.next, len.next + len.value).toString('utf8')
    p = len.next + len.value
    if (field === 1) key = s
    else if (field === 2) value = s
  }
  return [key, value]
}

export interface OnnxFileInfo {
  metadata: Record<string, string>
  producerName?: string
}

export async function readOnnxMetadata(path: string): Promise<OnnxFileInfo> {
  const fh = await open(path, 'r')
  try {
    const {size} = await fh.stat()
    const head = Buffer.alloc(16)
    const metadata: Record<string, string> = {}
    let producerName: string | undefined
    let pos = 0
    while (pos < size) {
      const {bytesRead} = await fh.read(head, 0, 16, pos)
      const chunk = head.subarray(0, bytesRead)
      const tag = readVarint(chunk, 0)
      const field = Math.floor(tag.value / 8)
      const wire = tag.value & 7
      if (wire === WIRE_VARINT) {
        pos += readVarint(chunk, tag.next).next
      } else if (wire === WIRE_I64) {
        pos += tag.next + 8
      } else if (wire === WIRE_I32) {
        pos += tag.next + 4
      } else if (wire === WIRE_LEN) {
        const len = readVarint(chunk, tag.next)
        const start = pos + len.next
        if (field === MODEL_METADATA_PROPS || field === MODEL_PRODUCER_NAME) {
          const body = Buffer.alloc(len.value)
          await fh.read(body, 0, len.value, start)
          if (field === MODEL_METADATA_PROPS) {
            const [k, v] = parseEntry(body)
            metadata[k] = v
          } else {
            producerName = body.toString('utf8')
          }
        }
        pos = start + len.value
      } else {
        throw new RangeError(`unsupported protobuf wire type ${wire} at byte ${pos}`)
      }
    }
    if (pos !== size) throw new RangeError('ONNX file ends inside a field')
    return {metadata, producerName}
  } catch (error) {
    if (error instanceof RangeError) {
      throw new Error(`${path} is not a valid ONNX model (${error.message})`)
    }
    throw error
  } finally {
    await fh.close()
  }
}
