/**
 * Every label set poster knows, in the class order the model was trained with, and the one place where
 * names are matched. Models and datasets are joined by canonical name, never by position, because the
 * FER datasets disagree on order (RAF-DB numbers Surprise first, AffectNet numbers Neutral first, and
 * ImageFolder sorts folder names) and a silent positional match scores near chance.
 */

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
