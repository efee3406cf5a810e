/** The figures `poster eval` computes, as written to metrics.json (snake_case keys are part of the file format). */

export interface PerClassMetrics {
  name: string
  precision: number
  recall: number
  f1: number
  support: number
}

export interface ConfusionMatrix {
  /** counts[true][pred] */
  counts: number[][]
  /** Each row divided by its sum (0 for an empty row). */
  normalized: number[][]
}

export interface ClassificationMetrics {
  /** Top-1 accuracy in [0, 1]: the paper's number. */
  accuracy: number
  mean_class_accuracy: number
  macro_f1: number
  per_class: PerClassMetrics[]
  confusion: ConfusionMatrix
  /** Mean negative log-likelihood of the true class (natural log). */
  nll: number
  /** Expected calibration error, 15 equal-width confidence bins. */
  ece: number
  /** 95% percentile-bootstrap interval for accuracy, fixed seed. */
  accuracy_ci95: [number, number]
  n_images: number
}

export interface CalibrationBin {
  lower: number
  upper: number
  count: number
  confidence: number
  accuracy: number
}

/** What `poster check` compares: a metrics.json's classification figures plus what was evaluated. */
export interface ComparableMetrics {
  /** Fractions in [0, 1], as in ClassificationMetrics. */
  accuracy: number
  mean_class_accuracy: number
  macro_f1: number
  /** One entry per class, in the order of `labels`. */
  per_class: PerClassMetrics[]
  n_images?: number
  /** Class names in the dataset's index order. */
  labels: string[]
  /** Which dataset was evaluated (compared as an exact string). */
  dataset: string
  split: string
}

export type CheckVerdict = 'pass' | 'fail' | 'noise' | 'absent'

/** One line of `poster check`. All figures are percentages / percentage points. */
export interface CheckResult {
  /** 'accuracy', 'mean_class_accuracy', 'macro_f1', 'recall:<class name>' or 'min_accuracy'. */
  name: string
  /** 'drop': fails when current falls more than `threshold` pp below baseline; 'floor': when current < threshold. */
  kind: 'drop' | 'floor'
  /** Baseline value in percent. */
  baseline: number
  /** Current value in percent. */
  current: number
  /** current − baseline, percentage points (negative = worse). */
  delta: number
  /** Allowed drop in pp ('drop') or the floor in percent ('floor'). */
  threshold: number
  /**
   * pass; fail (a regression); noise (beyond the threshold but not significant on the paired images); absent (a
   * class with no scored images on one side: reported, not compared).
   */
  verdict: CheckVerdict
  /** One human-readable sentence explaining the verdict. */
  detail: string
  /** Exact McNemar test on the paired images this check concerns (all of them, or one class's), when paired. */
  test?: {
    /** Paired images the test ran on. */
    pairs: number
    /** right → wrong. */
    b: number
    /** wrong → right. */
    c: number
    pValue: number
  }
}

/** Per-image pairing between the baseline's and the current run's predictions, summarised. */
export interface PairingSummary {
  pairs: number
  unpairedBaseline: number
  unpairedCurrent: number
  /** Same path, different true label: left out of the pairs. */
  labelMismatches: number
  bothRight: number
  bothWrong: number
  /** Baseline right, current wrong. */
  rightToWrong: number
  /** Baseline wrong, current right. */
  wrongToRight: number
  /** Exact McNemar p-value over all pairs. */
  pValue: number
}

export interface ComparisonThresholds {
  /** Largest allowed drop, in percentage points, of accuracy, mean class accuracy and macro-F1 (default 0.5). */
  maxDrop: number
  /** Largest allowed drop, in percentage points, of any class's recall (default 2.0). */
  maxClassDrop: number
  /** Absolute floor on current accuracy, in percent (default: none). */
  minAccuracy?: number
  /** A drop beyond its threshold is a regression only if the paired McNemar p < this (default 0.05). */
  significance: number
}

export interface ComparisonResult {
  /** 'fail' when any check failed. */
  verdict: 'pass' | 'fail'
  checks: CheckResult[]
  /** Null when no per-image pairing was given (thresholds alone decide). */
  pairing: PairingSummary | null
  thresholds: ComparisonThresholds
  /**
   * What was compared: the images both runs scored (paired: the figures were recomputed on them, so a --limit run
   * is held against the same images of a full baseline), or each run's metrics as written (no per-image rows).
   */
  compared: {basis: 'paired' | 'metrics'; images: number; baselineImages?: number; currentImages?: number}
  /** Things worth a look that do not decide the verdict (unpaired images, absent classes, ...). */
  warnings: string[]
}
