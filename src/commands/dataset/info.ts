import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import {progressBar, sharedFlags, statusLine} from '../../cli/shared.js'
import type {DatasetInfo} from '../../dataset-tools/info.js'

export default class DatasetInfoCommand extends PosterCommand {
  static override summary = 'What a dataset holds: layout, splits, images per class beside the official counts, sizes, formats.'

  static override description = `Reads the dataset with the loaders eval uses (every layout, --format auto) and prints, for every split (or --split): images per class beside the official release's counts where they are published (RAF-DB basic train 12,271 and test 3,068 per class; AffectNet validation 500 per class), listed images that are missing, rows left out and why (AffectNet codes 8-10, repeated listings), and every image's format and pixel size read from its header (--no-sizes skips that).

With --out DIR it also writes info.json and the class-balance chart (class-balance.svg and .png: a bar per class and split, the official count as a tick).

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'RAF-DB basic, both splits, with the chart', command: '<%= config.bin %> dataset info ~/data/RAF-DB/basic --out raf-info'},
    {description: "AffectNet's validation set under the 8-class protocol, as JSON", command: '<%= config.bin %> dataset info ~/data/AffectNet --split validation --classes 8 --json'},
    {description: 'Class counts only (no image headers read)', command: '<%= config.bin %> dataset info ./raf-imagefolder --no-sizes'},
  ]

  static override args = {
    dataset: Args.string({description: 'dataset root folder (or a CSV manifest file)', required: true}),
  }

  static override flags = {
    ...sharedFlags.dataset(),
    out: Flags.string({char: 'o', description: 'folder for info.json, class-balance.svg and class-balance.png'}),
    'no-sizes': Flags.boolean({description: 'do not read image headers (formats and sizes)', default: false}),
  }

  async run(): Promise<DatasetInfo & {files?: {json: string; svg: string; png: string}}> {
    const {args, flags} = await this.parse(DatasetInfoCommand)
    const [{datasetInfo, infoText}, {writeInfoFiles}] = await Promise.all([import('../../dataset-tools/info.js'), import('../../report/dataset-files.js')])
    const status = statusLine(this)
    const bar = progressBar(this, 'images')
    let info: DatasetInfo
    try {
      info = await datasetInfo(args.dataset, {
        format: flags.format,
        split: flags.split,
        classes: flags.classes,
        labels: flags.labels,
        sizes: !flags['no-sizes'],
        onProgress: bar.update,
      })
    } finally {
      bar.stop()
    }
    for (const s of info.splits) for (const n of s.notes) status(`${s.split}: ${n}`)
    const files = flags.out ? await writeInfoFiles(info, flags.out) : undefined
    if (!this.jsonEnabled()) {
      this.log(infoText(info))
      if (files) this.log(`\nWrote ${files.json}, ${files.svg}, ${files.png}`)
    }
    return files ? {...info, files} : info
  }
}
