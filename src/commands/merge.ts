import {Args, Flags} from '@oclif/core'

import {EXIT, EXIT_CODES_HELP, PosterCommand} from '../cli/base.js'
import {statusLine} from '../cli/shared.js'
import type {MergeSummary} from '../pipeline/merge.js'

export default class Merge extends PosterCommand {
  static override summary = "Join the CSV files of a sharded poster predict into one, in an unsharded run's order."

  static override description = `Reads the shards' predictions files (their headers must agree: same model classes, same --landmarks; and the runs that wrote them, as each recorded in <csv>.run.json, must be one: same model SHA-256, classes, preprocessing and flags, else the merge is refused naming both files), keeps one row per image and writes --out atomically, rows sorted by path as poster predict orders them, so merging shards 1..N gives the same file as one unsharded run.

A path present more than once (a shard run twice) is kept once, an ok row preferred, and reported. With --inputs (and --recursive), given exactly as to poster predict, the inputs are discovered again and any without a row are reported as missing: exit 1 (the merged file is still written) unless --allow-missing. Without --inputs only duplicates can be reported.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Join four shards', command: '<%= config.bin %> merge part-1-of-4.csv part-2-of-4.csv part-3-of-4.csv part-4-of-4.csv --out predictions.csv'},
    {description: 'Join and check that every input is there', command: '<%= config.bin %> merge results/part-*.csv --out all.csv --inputs /data/photos --recursive'},
  ]

  static override strict = false

  static override args = {
    file: Args.string({description: 'predictions CSV files written by poster predict (any number)', required: true}),
  }

  static override flags = {
    out: Flags.string({char: 'o', description: 'merged CSV to write', required: true}),
    inputs: Flags.string({description: 'the inputs given to poster predict, to report missing images (put after the CSV files)', multiple: true}),
    recursive: Flags.boolean({char: 'r', description: 'with --inputs: search folders recursively, as predict --recursive', default: false}),
    'allow-missing': Flags.boolean({description: 'with --inputs: report missing images without failing', default: false}),
    force: Flags.boolean({description: 'replace --out if it exists', default: false}),
  }

  async run(): Promise<MergeSummary> {
    const {argv, flags} = await this.parse(Merge)
    const {mergePredictions} = await import('../pipeline/merge.js')
    const status = statusLine(this)
    const result = await mergePredictions({
      files: argv.filter((a): a is string => typeof a === 'string'),
      out: flags.out,
      inputs: flags.inputs,
      recursive: flags.recursive,
      force: flags.force,
      allowMissing: flags['allow-missing'],
      onStatus: status,
    })
    for (const w of result.warnings) status(`warning: ${w}`)
    if (!this.jsonEnabled()) {
      const parts = [`${result.ok} ok`, `${result.errors} errors`]
      if (result.duplicates > 0) parts.push(`${result.duplicates} duplicates dropped`)
      if (result.missing !== null) parts.push(`${result.missing} missing`)
      this.log(`Wrote ${result.output}: ${result.rows} rows from ${result.files} files (${parts.join(', ')})`)
    }
    return result
  }

  /** Missing inputs: exit 1, and with --json the full summary (the merged file was written) plus the error. */
  protected override async catch(err: Error & {exitCode?: number; summary?: MergeSummary}): Promise<unknown> {
    if (err.name === 'MissingInputsError' && err.summary) {
      for (const w of err.summary.warnings) statusLine(this)(`warning: ${w}`)
      if (this.jsonEnabled()) {
        process.exitCode = EXIT.error
        this.logJson({...err.summary, error: {message: err.message, exitCode: EXIT.error}})
        return
      }
    }
    return super.catch(err)
  }
}
