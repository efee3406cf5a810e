import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {EXIT_CODES_HELP, PosterCommand} from '../cli/base.js'
import {progressBar, sharedFlags, statusLine} from '../cli/shared.js'
import type {MetricsFile} from '../pipeline/evaluate.js'

export default class Demo extends PosterCommand {
  static override summary = 'Run the whole eval pipeline on a built-in synthetic RAF-DB set with an UNTRAINED POSTER++.'

  static override description = `Needs nothing downloaded: builds the real POSTER++ graph (43.7M parameters) from deterministic pseudo-random weights, writes a small synthetic dataset in the RAF-DB layout, and runs poster eval over it with landmarks, writing every output (predictions.csv, metrics.json, confusion.csv/.svg/.png, calibration.svg, report.md, report.html).

The weights are UNTRAINED: accuracy is chance level (about 1 in 7). The demo shows the pipeline and its outputs, not the model. For real numbers: poster eval <RAF-DB> --model rafdb.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'The README\'s first command', command: '<%= config.bin %> demo'},
    {description: 'A bigger synthetic set, results as JSON', command: '<%= config.bin %> demo --per-class 20 --json'},
  ]

  static override flags = {
    'per-class': Flags.integer({description: 'synthetic test images per class', default: 4, min: 1}),
    'batch-size': sharedFlags.batchSize(8),
    threads: sharedFlags.threads(),
    'runs-root': Flags.string({description: 'folder for the synthetic data and the run folder', default: 'runs'}),
  }

  async run(): Promise<MetricsFile> {
    const {flags} = await this.parse(Demo)
    const {runDemo} = await import('../pipeline/demo.js')
    const bar = progressBar(this, 'images')
    let result
    try {
      result = await runDemo({
        runsRoot: flags['runs-root'],
        perClass: flags['per-class'],
        batchSize: flags['batch-size'],
        threads: flags.threads,
        onStatus: statusLine(this),
        onProgress: bar.update,
      })
    } finally {
      bar.stop()
    }
    if (!this.jsonEnabled()) {
      const {terminalSummary} = await import('../report/index.js')
      const warn = chalk.bold.yellow
      this.log(warn('\nDEMO: POSTER++ with deterministic UNTRAINED weights on synthetic faces — accuracy is chance level (~14%).'))
      this.log(warn('It shows the pipeline and every output, not the model. Real numbers: poster eval <RAF-DB> --model rafdb\n'))
      this.log(terminalSummary(result.context, result.metrics, {}))
      this.log(`\nmodel    ${result.modelPath}${result.modelBuilt ? ' (built now)' : ' (cached)'}`)
      this.log(`dataset  ${result.datasetPath}`)
      this.log(`outputs  ${result.runDir}/`)
      for (const f of ['predictions.csv (with 68 landmarks per image)', 'metrics.json', 'confusion.csv', 'confusion.svg', 'confusion.png', 'calibration.svg', 'report.md', 'report.html']) {
        this.log(`         ${f}`)
      }
      this.log(`throughput ${result.metrics.timings.images_per_s} images/s (inference ${result.metrics.timings.inference_s} s, waiting for decoding ${result.metrics.timings.preprocess_wait_s} s)`)
    }
    return result.metrics
  }
}
