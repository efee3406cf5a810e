/**
 * eval's files beside predictions.csv: metrics.json, confusion.csv, report.md and (unless turned off) the
 * pictures and the HTML report with its gallery of the most confident mistakes. Each file is written atomically.
 */
import {join} from 'node:path'

import type {CalibrationBin, ClassificationMetrics} from '../metrics/index.js'
import {
  calibrationSvg,
  confusionCsv,
  confusionSvg,
  mostConfidentMistakes,
  renderHtmlReport,
  reportMarkdown,
  type MistakeExample,
  type PredictionRow,
  type ReportContext,
} from '../report/index.js'
import {writeFileAtomic} from '../basics.js'
import type {Dataset} from '../datasets/types.js'
import type {MetricsFile} from './eval-metrics.js'

export interface EvalReportInputs {
  runDir: string
  metrics: MetricsFile
  classification: ClassificationMetrics
  bins: CalibrationBin[]
  scored: PredictionRow[]
  dataset: Dataset
  context: ReportContext
  pictures: boolean
}

export async function writeEvalReports(r: EvalReportInputs): Promise<void> {
  await writeFileAtomic(join(r.runDir, 'metrics.json'), JSON.stringify(r.metrics, null, 2) + '\n')
  await writeFileAtomic(join(r.runDir, 'confusion.csv'), confusionCsv(r.dataset.labels, r.classification.confusion.counts))
  await writeFileAtomic(join(r.runDir, 'report.md'), reportMarkdown(r.context, r.classification))
  if (r.pictures) await writePictures(r)
}

async function writePictures(r: EvalReportInputs): Promise<void> {
  const {svgToPng, thumbnailJpegDataUri} = await import('../image/sharp.js')
  const metrics = r.classification
  const names = metrics.per_class.map((c) => c.name)
  const confusion = confusionSvg(names, metrics.confusion.counts, metrics.confusion.normalized)
  const calibration = calibrationSvg(r.bins, metrics.ece)
  await writeFileAtomic(join(r.runDir, 'confusion.svg'), confusion)
  await writeFileAtomic(join(r.runDir, 'confusion.png'), await svgToPng(confusion, {density: 144}))
  await writeFileAtomic(join(r.runDir, 'calibration.svg'), calibration)
  const byRel = new Map(r.dataset.items.map((i) => [i.relPath, i.path]))
  const mistakes: MistakeExample[] = []
  for (const row of mostConfidentMistakes(r.scored, 24)) {
    const abs = byRel.get(row.path)
    let thumbnail: string | undefined
    try {
      if (abs) thumbnail = await thumbnailJpegDataUri(abs, 112)
    } catch {
      // A thumbnail is decoration: an image that scored but will not thumbnail still gets its gallery entry.
    }
    const pred = row.pred!
    mistakes.push({
      path: row.path,
      trueName: names[row.label!],
      predName: names[pred],
      confidence: row.probs![pred],
      trueProb: row.probs![row.label!],
      thumbnail,
    })
  }
  await writeFileAtomic(join(r.runDir, 'report.html'), renderHtmlReport({context: r.context, metrics, calibration: r.bins, mistakes}))
}
