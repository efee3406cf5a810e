import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, FindingsError, PosterCommand} from '../../cli/base.js'
import {progressBar, sharedFlags, statusLine} from '../../cli/shared.js'
import type {CheckResult} from '../../dataset-tools/check.js'

export default class DatasetCheck extends PosterCommand {
  static override summary = 'Find every problem in a dataset: broken, missing, unlisted, mislabelled, duplicated and leaked images.'

  static override description = `Reads every split (or --split) with the loaders eval uses and reports, with the files named:
  labels outside the label set, rows that cannot be used, images listed more than once (with the same or another label)
  listed files that are missing, files in the image folders that nothing lists
  images that are unreadable or truncated, decoded exactly as eval decodes them
  exact duplicates (same bytes) and near duplicates (re-encoded as JPEG, resized, e.g. to 100×100, or cropped by up to 10% of a side), within a split and across splits
  train/held-out leakage: every copy shared by a training and a test/validation split, as pairs, counted per class

Exit 0 when the dataset is clean and 1 when anything was found, so a dataset can be gated in CI. With --out DIR it writes check.json (everything) and report.html (the pairs side by side with thumbnails). Lists in --json stop at 2,000 entries per kind; the counts are complete.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Check RAF-DB basic: both splits, train/test leakage', command: '<%= config.bin %> dataset check ~/data/RAF-DB/basic --out raf-check'},
    {description: "Gate a re-packaged AffectNet in CI (exit 1 on any problem)", command: '<%= config.bin %> dataset check ./affectnet-mirror --classes 8 --json > check.json'},
    {description: 'Only the listing and the images, no near-duplicate search', command: '<%= config.bin %> dataset check ./raf-imagefolder --no-near'},
  ]

  static override args = {
    dataset: Args.string({description: 'dataset root folder (or a CSV manifest file)', required: true}),
  }

  static override flags = {
    ...sharedFlags.dataset(),
    out: Flags.string({char: 'o', description: 'folder for check.json and report.html'}),
    'no-near': Flags.boolean({description: 'skip the near-duplicate search (exact duplicates are still found)', default: false}),
  }

  async run(): Promise<CheckResult> {
    const {args, flags} = await this.parse(DatasetCheck)
    const [{checkDataset, checkText}, {writeCheckFiles}] = await Promise.all([import('../../dataset-tools/check.js'), import('../../report/dataset-files.js')])
    const status = statusLine(this)
    const bar = progressBar(this, 'images')
    let run
    try {
      run = await checkDataset(args.dataset, {
        format: flags.format,
        split: flags.split,
        classes: flags.classes,
        labels: flags.labels,
        near: !flags['no-near'],
        onProgress: bar.update,
        onStatus: status,
      })
    } finally {
      bar.stop()
    }
    const files = flags.out ? await writeCheckFiles(run, flags.out) : undefined
    const result = run.result
    if (!this.jsonEnabled()) {
      this.log(checkText(result))
      if (files) this.log(`\nWrote ${files.json}, ${files.html}`)
    }
    if (!result.clean) {
      const total = Object.values(result.counts).reduce((a, b) => a + b, 0)
      throw new FindingsError(`${total} problem${total === 1 ? '' : 's'} found in ${result.root}`, result)
    }
    return result
  }
}
