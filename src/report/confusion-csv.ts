/** confusion.csv: header `true\pred,<names>`, then one row per true class with the counts per predicted class. */

import {csvLines} from './predictions-csv.js'
import {writeFileAtomic} from '../basics.js'

function checkSquare(names: readonly string[], counts: readonly (readonly number[])[]): void {
  if (counts.length !== names.length || counts.some((r) => r.length !== names.length)) {
    throw new Error(`confusion matrix is not ${names.length}×${names.length} like its class names`)
  }
}

/** The CSV text (RFC 4180, CRLF). Counts are written as integers. */
export function confusionCsv(names: readonly string[], counts: readonly (readonly number[])[]): string {
  checkSquare(names, counts)
  return csvLines([
    ['true\\pred', ...names],
    ...names.map((n, i) => [n, ...counts[i]!.map((c) => String(Math.round(c)))]),
  ])
}

/** Write confusion.csv atomically. */
export async function writeConfusionCsv(
  path: string,
  names: readonly string[],
  counts: readonly (readonly number[])[],
): Promise<void> {
  await writeFileAtomic(path, confusionCsv(names, counts))
}
