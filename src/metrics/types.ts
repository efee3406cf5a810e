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
