/** Inputs shared by the report writers (markdown, HTML, terminal, JUnit). */

/** What a run was: everything a report says besides the metrics themselves. */
export interface ReportContext {
  /** The model as the user named it (file path or registry name). */
  model: string
  /** SHA-256 of the model file, hex. */
  modelSha256?: string
  /** Dataset name (e.g. "RAF-DB", "affectnet7") or its root folder. */
  dataset: string
  split: string
  /** Images attempted (scored + failed). */
  nImages: number
  /** Images that could not be read or scored (they are not in the metrics). */
  nFailed: number
  /** The published top-1 accuracy for this model and benchmark, as a fraction in [0, 1]. */
  paperAccuracy?: number
  /** Where the paper figure comes from, e.g. "POSTER++ (Mao et al. 2023), Table 4". */
  paperSource?: string
  /** Class names in the model's order (as in the metrics' per_class and confusion). */
  classNames?: string[]
  /** Label-order and other warnings to show prominently. */
  warnings?: string[]
  /** ISO date-time of the run. */
  createdAt?: string
  /** Execution provider / device, e.g. "cpu", "cuda". */
  provider?: string
  /** Wall-clock seconds the evaluation took. */
  durationSeconds?: number
  /** poster version. */
  toolVersion?: string
  /** Free-form extra rows for the summary table (label → value). */
  extra?: Array<[string, string]>
}

export type CheckVerdict = 'pass' | 'fail' | 'skip'

/** One figure compared against its baseline by `poster check`. */
export interface CheckResult {
  /** The figure compared, e.g. "accuracy" or "rafdb/accuracy" or "per_class.Fear.recall". */
  name: string
  baseline?: number
  now?: number
  /** now − baseline; computed when omitted and both are given. */
  delta?: number
  verdict: CheckVerdict
  /** Why it failed or was skipped, or the rule applied ("tolerance 0.50 pp"). */
  message?: string
  /**
   * How to print the values: 'percent' (fractions in [0, 1] shown as %, deltas in pp; the default) or
   * 'number' (plain decimals, e.g. NLL).
   */
  unit?: 'percent' | 'number'
  /** Grouping for JUnit's classname (e.g. the dataset); defaults to the suite name. */
  group?: string
  /** Seconds the check took (JUnit time attribute). */
  time?: number
}

/** One wrongly classified image for the HTML gallery. */
export interface MistakeExample {
  path: string
  trueName: string
  predName: string
  /** Probability of the predicted class, in [0, 1]. */
  confidence: number
  /** Probability the model gave the true class, when known. */
  trueProb?: number
  /** A `data:image/...` URI (anything else is ignored: the page loads nothing from outside). */
  thumbnail?: string
}
