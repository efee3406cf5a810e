/**
 * The official releases' image counts, where they are published: RAF-DB basic's train and test splits per class
 * (in RAF-DB's class order, codes 1..7) and AffectNet's validation set (500 per class, 7 or 8 classes). A copy
 * whose counts differ has been re-packaged, re-split or damaged.
 */
import {AFFECTNET7, AFFECTNET8, RAFDB} from '../datasets/labels.js'
import {isHeldOut, knownLabelSet} from './splits.js'

/** RAF-DB basic, list_patition_label.txt: Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral. */
export const RAFDB_OFFICIAL_COUNTS = {
  train: [1290, 281, 717, 4772, 1982, 705, 2524],
  test: [329, 74, 160, 1185, 478, 162, 680],
} as const

/** AffectNet's validation set: 500 images per class. */
export const AFFECTNET_VALIDATION_PER_CLASS = 500

export interface OfficialCounts {
  /** Which release, in words. */
  source: string
  /** Per class, in the dataset's class order. */
  perClass: number[]
}

/**
 * The official counts for a split of a dataset whose classes are a known label set, read in a layout that holds a
 * whole release (RAF-DB, AffectNet, or an ImageFolder export of one); undefined for manifests (a manifest is
 * often a subset) and for splits no release publishes.
 */
export function officialCounts(format: string, labels: readonly string[], split: string): OfficialCounts | undefined {
  if (format === 'csv') return undefined
  const set = knownLabelSet(labels)
  if (!set) return undefined
  if (set === RAFDB) {
    const which = isHeldOut(split) ? 'test' : 'train'
    return {source: `RAF-DB basic ${which} split`, perClass: [...RAFDB_OFFICIAL_COUNTS[which]]}
  }
  if ((set === AFFECTNET7 || set === AFFECTNET8) && isHeldOut(split)) {
    return {source: `AffectNet validation set (${AFFECTNET_VALIDATION_PER_CLASS} per class)`, perClass: set.names.map(() => AFFECTNET_VALIDATION_PER_CLASS)}
  }
  return undefined
}
