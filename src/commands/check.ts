import {appendFile} from 'node:fs/promises'

import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand, RegressionError} from '../cli/base.js'
import {sharedFlags, thresholdsFrom} from '../cli/shared.js'
import type {ComparisonResult} from '../metrics/index.js'

export interface CheckJson extends ComparisonResult {
  run: string
  baseline: string
  paired: boolean
}

export default class Check extends PosterCommand {
  static override summary = 'Compare an eval run with a baseline and fail (exit 3) on a real accuracy regression.'

  static override description = `Compares overall accuracy, mean class accuracy, macro-F1 and every class's recall with the baseline. When both runs have predictions.csv, they are paired by path and compared only on the images both scored (every figure recomputed on those, and their number said), and McNemar's exact test decides whether a drop beyond its threshold is real (significant) or noise; the right→wrong and wrong→right counts are reported. A class with no scored images on one side is reported, not failed. Different datasets, splits or label sets, runs with no image in common, and (without predictions.csv) runs over different numbers of images are an error (exit 1), never a verdict.

With GITHUB_STEP_SUMMARY set, the table is appended to the job summary as Markdown; --junit writes one JUnit test case per check.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Gate a new run on last release\'s run', command: '<%= config.bin %> check runs/rafdb-20261128-101500 --baseline baselines/rafdb'},
    {description: 'Stricter thresholds, an absolute floor, JUnit for the CI UI', command: '<%= config.bin %> check runs/new --baseline baseline/metrics.json --max-drop 0.3 --max-class-drop 1 --min-accuracy 91.5 --junit check.xml'},
  ]

  static override args = {
    run: Args.string({description: 'run folder written by poster eval (or its metrics.json)', required: true}),
  }

  static override flags = {
    baseline: Flags.string({description: 'baseline run folder or metrics.json', required: true}),
    ...sharedFlags.thresholds(),
    junit: Flags.string({description: 'write JUnit XML here (one test case per check)'}),
  }

  async run(): Promise<CheckJson> {
    const {args, flags} = await this.parse(Check)
    const thresholds = thresholdsFrom(flags)
    const {loadRun, compareRuns} = await import('../pipeline/check.js')
    const [{checkTableMarkdown, junitXml}, {writeFileAtomic}] = await Promise.all([import('../report/index.js'), import('../basics.js')])
    const [baseline, current] = await Promise.all([loadRun(flags.baseline), loadRun(args.run)])
    const outcome = compareRuns(baseline, current, thresholds)
    const title = `poster check: ${args.run} vs ${flags.baseline}`
    const markdown = checkTableMarkdown(outcome.rows, {title})
    if (flags.junit) await writeFileAtomic(flags.junit, junitXml(outcome.rows, {suiteName: 'poster check'}))
    if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, markdown + '\n')
    const result: CheckJson = {...outcome.result, run: current.source, baseline: baseline.source, paired: outcome.paired}
    if (!this.jsonEnabled()) {
      this.log(markdown)
      const p = outcome.result.pairing
      const c = outcome.result.compared
      if (p) {
        if (c.basis === 'paired') {
          this.log(`\nCompared on the ${c.images} images both runs scored (baseline ${c.baselineImages}, current ${c.currentImages}).`)
        }
        this.log(
          `${c.basis === 'paired' ? '' : '\n'}Paired ${p.pairs} images: ${p.rightToWrong} right→wrong, ${p.wrongToRight} wrong→right, McNemar p = ${p.pValue.toPrecision(3)}`,
        )
      } else {
        this.log('\nNo per-image pairing (predictions.csv missing on one side): thresholds alone decide.')
      }
      for (const w of outcome.result.warnings) this.logToStderr(`warning: ${w}`)
      this.log(outcome.result.verdict === 'pass' ? '\nverdict: pass' : '\nverdict: REGRESSION')
    }
    if (outcome.result.verdict === 'fail') {
      const failed = outcome.result.checks.filter((c) => c.verdict === 'fail').map((c) => c.name)
      throw new RegressionError(`regression: ${failed.join(', ')}`, result)
    }
    return result
  }
}
