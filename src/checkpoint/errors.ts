/** Errors raised while reading a checkpoint; `code` says what kind of problem it is. */
import {printable} from '../basics.js'

export type CheckpointErrorCode =
  /** The file is not a PyTorch checkpoint at all (text, HTML, some other format). */
  | 'not-a-checkpoint'
  /** The file ends before a record, storage or pickle that it announces. */
  | 'truncated'
  /** The pickle asks for a global outside the allow-list (it would execute code). Nothing was run. */
  | 'refused'
  /** The file is structurally damaged (bad zip records, impossible tensor views, ...). */
  | 'corrupt'
  /** A valid checkpoint that uses a feature this reader does not implement. */
  | 'unsupported'
  /** A valid checkpoint without anything that looks like a model state_dict. */
  | 'no-state-dict'
  /**
   * The file asks for more than any checkpoint needs (a zip bomb, a megabyte integer, a pickle that multiplies
   * its data, views far larger than their storage). Reading stopped at the limit, before the memory was taken.
   */
  | 'limit'
  /** The file could not be opened or read. */
  | 'io'

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError'
  readonly code: CheckpointErrorCode
  /** The file being read, when known. */
  path?: string

  /** `message` quotes what the file holds (key and class names, record names): control characters are escaped. */
  constructor(code: CheckpointErrorCode, message: string, options?: {path?: string; cause?: unknown}) {
    super(printable(message), options?.cause === undefined ? undefined : {cause: options.cause})
    this.code = code
    if (options?.path !== undefined) this.path = options.path
  }
}
