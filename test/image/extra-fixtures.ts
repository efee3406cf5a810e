/**
 * BMP / netpbm fixtures in test/fixtures/image-extra: small files written by make_fixtures.py there, with the
 * pixels Pillow 9.4 gives for `Image.open(f).convert('RGB')` (expected.json), so the tests need no Python.
 */

import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const EXTRA_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'image-extra')

export interface ExtraExpected {
  width: number
  height: number
  /** Pillow's mode after Image.open (before convert). */
  mode: string
  /** Row-major RGB bytes, hex. */
  rgb: string
}

export function extraExpected(): Record<string, ExtraExpected> {
  return JSON.parse(readFileSync(join(EXTRA_FIXTURES, 'expected.json'), 'utf8')) as Record<string, ExtraExpected>
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')
}
