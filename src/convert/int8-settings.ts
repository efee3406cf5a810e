/**
 * The settings of an int8 conversion that commands and reports need without loading the converter: defaults,
 * the range methods tried, and how a method is named.
 */
import type {RangeMethod} from './ranges.js'

export const DEFAULT_CALIBRATION_IMAGES = 64
/** Images of the calibration source kept apart to choose the range method (never used for ranges). */
export const HELDOUT_IMAGES = 32
export const CALIBRATION_METHODS = ['auto', 'minmax', 'percentile'] as const
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number]

/** A range method tried: min/max, or the p-quantile at each tail. */
export interface RangeCandidate {
  method: RangeMethod
  percentile?: number
}
export const RANGE_CANDIDATES: readonly RangeCandidate[] = [
  {method: 'minmax'},
  {method: 'percentile', percentile: 0.9999},
  {method: 'percentile', percentile: 0.99999},
]
export const DEFAULT_PERCENTILE = 0.9999

/** A range method as users read it: min/max, or percentile 99.99%. */
export function describeRangeCandidate(c: {method: RangeMethod; percentile?: number}): string {
  return c.method === 'minmax' ? 'min/max' : `percentile ${Number(((c.percentile ?? DEFAULT_PERCENTILE) * 100).toFixed(3))}%`
}
