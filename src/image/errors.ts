/**
 * Errors raised while reading or decoding an image.
 *
 * `reason` is a short, stable, human-readable sentence that ends up in CSV
 * output (one row per image), so keep it free of paths and stack traces.
 */

export type ImageErrorKind =
  | 'unreadable' // the file could not be read (ENOENT, EACCES, EISDIR, ...)
  | 'empty' // zero bytes
  | 'truncated' // the data stops before the image does
  | 'unsupported' // not an image, or a format the official loader cannot read
  | 'too-large' // more pixels than the configured limit (decompression bomb guard)
  | 'corrupt' // recognised format, but the decoder failed

export class ImageError extends Error {
  override readonly name = 'ImageError'
  readonly kind: ImageErrorKind
  /** Short text for reports and CSV cells, e.g. `truncated image`. */
  readonly reason: string
  /** The file the error is about, when known. */
  readonly path?: string

  constructor(kind: ImageErrorKind, reason: string, opts: {path?: string; cause?: unknown} = {}) {
    super(opts.path === undefined ? reason : `${opts.path}: ${reason}`, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.kind = kind
    this.reason = reason
    if (opts.path !== undefined) this.path = opts.path
  }
}

export const REASON_EMPTY = 'empty file'
export const REASON_TRUNCATED = 'truncated image'
export const REASON_NOT_IMAGE = 'not an image (unsupported or unrecognised format)'

export function reasonTooLarge(width: number, height: number, limit: number): string {
  return `image too large: ${width}×${height} exceeds the ${limit}-pixel limit`
}

export function reasonUnreadable(code: string): string {
  return `cannot read file: ${code}`
}

export function reasonUnsupportedFormat(format: string): string {
  return `unsupported image format: ${format}`
}

export function isImageError(e: unknown): e is ImageError {
  return e instanceof ImageError
}
