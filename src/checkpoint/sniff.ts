/** Recognising a checkpoint from its first bytes, and describing what a non-checkpoint looks like. */
import {CheckpointError} from './errors.js'

export type CheckpointFormat = 'zip' | 'legacy'

const EXPECTED = 'expected a zip archive (torch.save, PyTorch ≥ 1.6) or a legacy pickle (PyTorch < 1.6)'

/** The format of a file whose first bytes are `head` (up to 512 of them), or a 'not-a-checkpoint' error. */
export function sniffFormat(head: Uint8Array, fileSize: number): CheckpointFormat {
  if (fileSize === 0) throw notCheckpoint('the file is empty')
  if (head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return 'zip'
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return 'legacy'
  if (looksLikeOnnx(head)) {
    throw new CheckpointError(
      'not-a-checkpoint',
      'this is already an ONNX model (poster convert turns PyTorch checkpoints into ONNX); use it as it is: poster eval DATASET --model <this file>',
    )
  }
  if (head.length >= 262 && ascii(head.subarray(257, 262)) === 'ustar') {
    throw new CheckpointError('unsupported', 'this is a tar archive: the tar-based checkpoint format of PyTorch before 0.4 is not supported; re-save it with a newer torch')
  }
  throw notCheckpoint(describeBytes(head, fileSize))
}

/**
 * An ONNX ModelProto as every exporter writes it: field 1 (ir_version, a small varint) first, then another
 * ModelProto field (producer_name 2, producer_version 3, domain 4, model_version 5, doc_string 6, graph 7,
 * opset_import 8, metadata_props 14).
 */
export function looksLikeOnnx(head: Uint8Array): boolean {
  const NEXT_FIELD_TAGS = [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72]
  return head.length >= 3 && head[0] === 0x08 && head[1]! >= 1 && head[1]! <= 30 && NEXT_FIELD_TAGS.includes(head[2]!)
}

function notCheckpoint(found: string): CheckpointError {
  return new CheckpointError('not-a-checkpoint', `not a PyTorch checkpoint: ${EXPECTED}, found ${found}`)
}

function ascii(b: Uint8Array): string {
  return String.fromCharCode(...b)
}

function isText(b: Uint8Array): boolean {
  if (b.length === 0) return false
  let printable = 0
  for (const c of b) if ((c >= 0x20 && c < 0x7f) || c === 9 || c === 10 || c === 13 || c >= 0x80) printable++
  return printable === b.length
}

/** A short, human description of what the file looks like. */
export function describeBytes(head: Uint8Array, fileSize: number): string {
  if (fileSize === 0) return 'an empty file'
  const first = head.subarray(0, Math.min(head.length, 64))
  const text = new TextDecoder('utf-8').decode(first)
  const lower = text.trimStart().toLowerCase()
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip-compressed data (decompress it first)'
  if (lower.startsWith('version https://git-lfs')) return 'a Git LFS pointer file instead of the real file (fetch it with `git lfs pull`)'
  if (lower.startsWith('<!doctype html') || lower.startsWith('<html') || lower.startsWith('<?xml')) {
    return `an HTML/XML page (${fileSize} bytes), perhaps an error page saved by a failed download`
  }
  if (head.length >= 10) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true)
    if (n > 1n && n < BigInt(fileSize) && head[8] === 0x7b /* { */) return 'a safetensors file (this reader takes torch.save checkpoints)'
  }
  if (head[0] === 0x80 && head[1]! < 2) return `a Python pickle of protocol ${head[1]}, not a torch.save file`
  if (isText(first)) {
    const shown = text.length > 60 ? text.slice(0, 60) + '…' : text
    return `text: ${JSON.stringify(shown)}${fileSize > first.length ? ` (${fileSize} bytes)` : ''}`
  }
  const hex = [...head.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')
  return `binary data starting with ${hex} (${fileSize} bytes)`
}
