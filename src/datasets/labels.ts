/**
 * Every label set poster knows, in the class order the model was trained with, and the one place where
 * names are matched. Models and datasets are joined by canonical name, never by position, because the
 * FER datasets disagree on order (RAF-DB numbers Surprise first, AffectNet numbers Neutral first, and
 * ImageFolder sorts folder names) and a silent positional match scores near chance.
 */

import {printable} from '../basics.js'

export type Emotion = 'neutral' | 'happy' | 'sad' | 'surprise' | 'fear' | 'disgust' | 'anger' | 'contempt'

export interface LabelSet {
  /** Registry id: rafdb, affectnet7, affectnet8, caers. */
  id: string
  /** Display names in class-index order. */
  names: string[]
}

/** RAF-DB basic: list_patition_label.txt codes 1..7, index = code - 1. */
export const RAFDB: LabelSet = {
  id: 'rafdb',
  names: ['Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger', 'Neutral'],
}

/** AffectNet expression codes 0..6 (7-class protocol). */
export const AFFECTNET7: LabelSet = {
  id: 'affectnet7',
  names: ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger'],
}

/** AffectNet expression codes 0..7 (8-class protocol, adds Contempt). */
export const AFFECTNET8: LabelSet = {
  id: 'affectnet8',
  names: ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger', 'Contempt'],
}

/** CAER-S as the official ImageFolder reads it: folder names sorted alphabetically. */
export const CAERS: LabelSet = {
  id: 'caers',
  names: ['Anger', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad', 'Surprise'],
}

export const LABEL_SETS: Record<string, LabelSet> = {
  rafdb: RAFDB,
  affectnet7: AFFECTNET7,
  affectnet8: AFFECTNET8,
  caers: CAERS,
}

const SYNONYMS: Record<string, Emotion> = {
  neutral: 'neutral', neutrality: 'neutral', ne: 'neutral',
  happy: 'happy', happiness: 'happy', joy: 'happy', ha: 'happy',
  sad: 'sad', sadness: 'sad', sa: 'sad',
  surprise: 'surprise', surprised: 'surprise', su: 'surprise',
  fear: 'fear', fearful: 'fear', afraid: 'fear', fe: 'fear',
  disgust: 'disgust', disgusted: 'disgust', di: 'disgust',
  anger: 'anger', angry: 'anger', an: 'anger',
  contempt: 'contempt', contemptuous: 'contempt', co: 'contempt',
}

/** The canonical emotion a display or folder name stands for, or undefined when it is not an emotion word. */
export function canonicalEmotion(name: string): Emotion | undefined {
  return SYNONYMS[name.trim().toLowerCase()]
}

/** Key used to match two names: the canonical emotion when known, else the lower-cased name itself. */
export function labelKey(name: string): string {
  return canonicalEmotion(name) ?? name.trim().toLowerCase()
}

/**
 * Resolve a `--labels` value: a registry id (rafdb, affectnet7, affectnet8, caers) or a comma-separated list
 * of names in class order.
 */
/** Longest class name accepted (names become CSV column names, report headings and folder names). */
export const MAX_CLASS_NAME = 128

/**
 * Class names must be printable (they are written to terminals, CSV headers, reports and folder names: a control
 * character, a bidirectional override or a lone surrogate would rewrite what the user sees), non-empty, at most
 * MAX_CLASS_NAME characters, and distinct as matched (labelKey). `from` says where they came from, for the error.
 */
export function checkClassNames(names: readonly string[], from: string): void {
  const seen = new Map<string, string>()
  names.forEach((n, i) => {
    // The characters printable() escapes (basics.ts: the one definition of what could drive a terminal).
    const shown = printable(JSON.stringify(n))
    if (printable(n) !== n) throw new Error(`${from}: class ${i} ${shown} holds a control or direction-changing character`)
    if (n.trim().length === 0) throw new Error(`${from}: class ${i} has an empty name`)
    if (n.length > MAX_CLASS_NAME) throw new Error(`${from}: class ${i} is ${n.length} characters long (at most ${MAX_CLASS_NAME})`)
    const k = labelKey(n)
    const before = seen.get(k)
    if (before !== undefined) throw new Error(`${from}: "${before}" and ${shown} name the same class (${k})`)
    seen.set(k, n)
  })
}

export function parseLabels(spec: string): string[] {
  const known = LABEL_SETS[spec.trim().toLowerCase()]
  if (known) return [...known.names]
  const names = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (names.length < 2) {
    throw new Error(
      `--labels expects a label set (${Object.keys(LABEL_SETS).join(', ')}) or at least two comma-separated names; got "${spec}"`,
    )
  }
  const seen = new Set<string>()
  for (const n of names) {
    const k = labelKey(n)
    if (seen.has(k)) throw new Error(`--labels names "${n}" twice (as ${k})`)
    seen.add(k)
  }
  checkClassNames(names, '--labels')
  return names
}

/** The registry label set for a class count when nothing else says which: 7 → RAF-DB, 8 → AffectNet-8. */
export function defaultLabelsFor(numClasses: number): string[] | undefined {
  if (numClasses === 7) return [...RAFDB.names]
  if (numClasses === 8) return [...AFFECTNET8.names]
  return undefined
}

/**
 * Map each dataset class index to the model's class index, by name. Throws with both lists when a dataset
 * class has no counterpart in the model (a class-count or label-set mismatch must never pass silently).
 */
export function mapDatasetToModel(datasetLabels: string[], modelLabels: string[]): number[] {
  const modelIndex = new Map(modelLabels.map((n, i) => [labelKey(n), i]))
  const missing: string[] = []
  const map = datasetLabels.map((n) => {
    const i = modelIndex.get(labelKey(n))
    if (i === undefined) missing.push(n)
    return i ?? -1
  })
  if (missing.length > 0) {
    throw new Error(
      `the dataset's classes [${datasetLabels.join(', ')}] do not match the model's [${modelLabels.join(', ')}]: ` +
        `no model class for ${missing.map((m) => `"${m}"`).join(', ')}. Pass --labels with the model's class order.`,
    )
  }
  return map
}

/**
 * How numeric class labels are read, the same everywhere (manifest cells and ImageFolder class folders): as the
 * codes of a dataset that numbers its classes. RAF-DB's codes are 1..7 (1 Surprise ... 7 Neutral), AffectNet's
 * 0..7 (0 Neutral ... 6 Anger, 7 Contempt; 7 classes without Contempt). `classes` (--classes) narrows the
 * choice: RAF-DB has 7 classes, AffectNet 7 or 8.
 *
 * - A 0 can only be AffectNet's; an 8 or more is neither's (give the label set by name).
 * - Codes within 1..7 fit both, with different meanings (1 is Surprise for RAF-DB, Happy for AffectNet). When
 *   they are exactly 1..7, every RAF-DB class is present and AffectNet would lack its code 0: RAF-DB, noted.
 *   Any other such set is ambiguous: the reading stops and names both, unless the caller said which (`set`).
 * - `set` names the reading: a registry id. rafdb and affectnet7/8 are read as their codes; any other set
 *   (caers, or names given in order) has no codes of its own, and a number is an index into it, 0-based.
 */
export interface NumericReading {
  /** The label set, in class-index order. */
  labels: string[]
  /** Class index of a code, or undefined when the code is not in the set. */
  indexOf: (code: number) => number | undefined
  /** Which reading, in words, for the notes. */
  note: string
  /** rafdb, affectnet7 or affectnet8 when read as a dataset's codes. */
  numbering?: string
}

const RAFDB_CODES: NumericReading = {
  labels: RAFDB.names,
  indexOf: (c) => (c >= 1 && c <= 7 ? c - 1 : undefined),
  note: 'RAF-DB codes (1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral)',
  numbering: 'rafdb',
}

function affectnetCodes(set: LabelSet): NumericReading {
  return {
    labels: set.names,
    indexOf: (c) => (c >= 0 && c < set.names.length ? c : undefined),
    note: `AffectNet-${set.names.length} codes (${set.names.map((n, i) => `${i} ${n}`).join(', ')})`,
    numbering: set.id,
  }
}

/** The error that says a numeric label set could be read two ways, naming both and how to choose. */
export class AmbiguousLabelsError extends Error {}

export function readNumericLabels(codes: readonly number[], opts: {classes?: number; set?: string | string[]; where?: string} = {}): NumericReading {
  const distinct = [...new Set(codes)].sort((a, b) => a - b)
  const shown = distinct.join(', ')
  const where = opts.where ?? 'the labels'
  if (opts.set !== undefined) {
    const id = typeof opts.set === 'string' ? opts.set.trim().toLowerCase() : undefined
    if (id === 'rafdb') return RAFDB_CODES
    if (id === 'affectnet7') return affectnetCodes(AFFECTNET7)
    if (id === 'affectnet8') return affectnetCodes(AFFECTNET8)
    const labels = typeof opts.set === 'string' ? parseLabels(opts.set) : [...opts.set]
    return {labels, indexOf: (c) => (c >= 0 && c < labels.length ? c : undefined), note: `indices into [${labels.join(', ')}] (0-based)`}
  }
  const inRange = (lo: number, hi: number) => distinct.every((c) => c >= lo && c <= hi)
  const rafdb = inRange(1, 7) && (opts.classes === undefined || opts.classes === 7)
  const affectnet8 = inRange(0, 7) && (opts.classes === undefined || opts.classes === 8) && (distinct.includes(7) || opts.classes === 8)
  const affectnet7 = inRange(0, 6) && (opts.classes === undefined || opts.classes === 7)
  const affectnet = affectnet8 ? affectnetCodes(AFFECTNET8) : affectnet7 ? affectnetCodes(AFFECTNET7) : undefined
  if (!rafdb && !affectnet) {
    throw new Error(
      `${where} are numbers (${shown}) that are neither RAF-DB codes (1..7) nor AffectNet codes (0..7)` +
        (opts.classes !== undefined ? ` of a ${opts.classes}-class set` : '') +
        '; name the label set (a header column label_<set>, e.g. label_caers, or class names)',
    )
  }
  if (!rafdb) return affectnet!
  if (!affectnet) return RAFDB_CODES
  const complete = distinct.length === 7 && inRange(1, 7)
  if (complete) {
    return {...RAFDB_CODES, note: `${RAFDB_CODES.note}; every RAF-DB code is present and AffectNet's code 0 is not (for AffectNet codes pass --classes 8)`}
  }
  throw new AmbiguousLabelsError(
    `${where} are numbers (${shown}) that can be read two ways: as ${RAFDB_CODES.note} or as ${affectnet.note}. ` +
      'Say which: name the label column label_rafdb or label_affectnet7/8 (ImageFolder: rename the folders to the emotion names), ' +
      (distinct.includes(7) ? 'or give --classes 7 for RAF-DB or --classes 8 for AffectNet-8.' : 'or give --classes 8 for AffectNet-8.'),
  )
}
