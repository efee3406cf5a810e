/**
 * Images listed more than once in a dataset's own list (RAF-DB's label file, AffectNet's CSVs, a manifest).
 *
 * Each image is scored once, under its first listing. A later listing with the same label (and the same face box,
 * where the list has boxes) is an exact repeat: dropped, counted in `excluded` and named in the notes. A listing
 * with another label or box is a conflict: which one is right cannot be told, so loading stops naming every such
 * image and its lines, unless the caller collects problems (`LoadOptions.collect`, as `poster dataset check`
 * does), which keeps the first listing and reports the conflict in `Dataset.duplicates`.
 */
import {plural} from './fsutil.js'
import type {DuplicateGroup, DuplicateReport} from './types.js'

/** One listing of an image, as a list states it. */
export interface Listing {
  /** The image's identity: its absolute path. */
  key: string
  /** The image as the user knows it (shown in messages). */
  relPath: string
  /** 1-based line in the list. */
  line: number
  /** What the label is compared by (a class index, or an AffectNet code before exclusion). */
  label: number | string
  /** The label as shown in messages, e.g. `7 (Neutral)`. */
  shown: string
  /** The face box as text, where the list has boxes (compared as written). */
  box?: string
}

/** Reason counted in Dataset.excluded for exact repeats. */
export const REPEAT_REASON = 'listed again with the same label (an exact repeat; the image is scored once)'

/**
 * Which listings to keep (the first of each image) and what was repeated or conflicting. Listings are in list
 * order; the returned `keep[i]` says whether listing i is kept.
 */
export function findDuplicates(listings: readonly Listing[], file: string): {keep: boolean[]; report?: DuplicateReport} {
  const first = new Map<string, number>()
  const groups = new Map<number, number[]>()
  const keep = new Array<boolean>(listings.length).fill(true)
  listings.forEach((l, i) => {
    const at = first.get(l.key)
    if (at === undefined) {
      first.set(l.key, i)
      return
    }
    keep[i] = false
    let g = groups.get(at)
    if (!g) groups.set(at, (g = [at]))
    g.push(i)
  })
  if (groups.size === 0) return {keep}
  const conflicts: DuplicateGroup[] = []
  const repeats: DuplicateGroup[] = []
  let repeatedListings = 0
  for (const idx of [...groups.values()].sort((a, b) => a[0]! - b[0]!)) {
    const ls = idx.map((i) => listings[i]!)
    const labelsDiffer = ls.some((l) => l.label !== ls[0]!.label)
    const boxesDiffer = ls.some((l) => (l.box ?? '') !== (ls[0]!.box ?? ''))
    const group: DuplicateGroup = {
      relPath: ls[0]!.relPath,
      lines: ls.map((l) => l.line),
      labels: ls.map((l) => l.shown),
      conflict: labelsDiffer || boxesDiffer,
      ...(ls[0]!.box !== undefined || boxesDiffer ? {boxes: ls.map((l) => l.box ?? '')} : {}),
    }
    if (group.conflict) conflicts.push(group)
    else {
      repeats.push(group)
      repeatedListings += ls.length - 1
    }
  }
  return {keep, report: {file, repeatedListings, repeats, conflicts}}
}

/** One group in words: `test_0001.jpg (line 3: 7 Neutral; line 9: 4 Happiness)`. */
export function describeGroup(g: DuplicateGroup): string {
  const parts = g.lines.map((line, i) => `line ${line}: ${g.labels[i]}${g.boxes && g.boxes[i] ? `, box ${g.boxes[i]}` : ''}`)
  return `${g.relPath} (${parts.join('; ')})`
}

/** The error for conflicting listings: every image named (the first 20 in the message). */
export function conflictError(r: DuplicateReport): Error {
  const shown = r.conflicts.slice(0, 20).map(describeGroup)
  const more = r.conflicts.length > shown.length ? `; and ${r.conflicts.length - shown.length} more` : ''
  return new Error(
    `${r.file}: ${plural(r.conflicts.length, 'image is', 'images are')} listed more than once with different labels or face boxes, ` +
      `so which is right cannot be told: ${shown.join('; ')}${more}. Fix the list (poster dataset check lists them all).`,
  )
}

/** The note for exact repeats: how many, and the first few. */
export function repeatNote(r: DuplicateReport): string {
  const images = r.repeats.length
  const shown = r.repeats.slice(0, 3).map(describeGroup).join('; ')
  return (
    `${r.file}: ${plural(images, 'image is', 'images are')} listed more than once with the same label ` +
    `(${plural(r.repeatedListings, 'repeated listing')} dropped; first: ${shown}${images > 3 ? '; ...' : ''}); each is scored once`
  )
}

/**
 * Apply a duplicate finding to a loader's result: the note and excluded count for repeats, and for conflicts
 * either the error (default) or the report kept on the dataset (collect).
 */
export function settleDuplicates(
  report: DuplicateReport | undefined,
  out: {notes: string[]; excluded: Array<{reason: string; count: number}>},
  collect: boolean | undefined,
): DuplicateReport | undefined {
  if (!report) return undefined
  if (report.conflicts.length > 0 && !collect) throw conflictError(report)
  if (report.repeatedListings > 0) {
    out.notes.push(repeatNote(report))
    out.excluded.push({reason: REPEAT_REASON, count: report.repeatedListings})
  }
  if (report.conflicts.length > 0) {
    const extra = report.conflicts.reduce((a, g) => a + g.lines.length - 1, 0)
    out.notes.push(
      `${report.file}: ${plural(report.conflicts.length, 'image is', 'images are')} listed more than once with different labels or boxes ` +
        `(first: ${describeGroup(report.conflicts[0]!)}); the first listing is kept`,
    )
    out.excluded.push({reason: 'listed again with a different label or box (a conflict; the first listing is kept)', count: extra})
  }
  return report
}
