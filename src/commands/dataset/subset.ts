import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import {sharedFlags, statusLine} from '../../cli/shared.js'
import type {SubsetResult} from '../../dataset-tools/subset.js'

export default class DatasetSubset extends PosterCommand {
  static override summary = 'Write a stratified, reproducible subset of a split as a CSV manifest that eval reads.'

  static override description = `Takes --per-class images of every class from one split (default test, as eval), the same ones for the same --seed on every machine: per class, the images whose SHA-256 of "<seed>:<path>" is smallest. A class with fewer images gives all of them (noted); missing files are left out. Unlike eval --limit, which takes the first N images, the subset keeps every class and does not shift when images are added elsewhere.

The manifest has path (relative to the CSV's folder unless --absolute), the label column (label_rafdb, label_affectnet7, ... when the label set is a known one, so its class order is kept) and x,y,w,h when the dataset has face boxes (AffectNet's CSV release), so eval --faces box works on it. It is written atomically and read back before the command succeeds.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: '72 RAF-DB test images per class (504 in all) for a CI gate', command: '<%= config.bin %> dataset subset ~/data/RAF-DB/basic --per-class 72 --seed 0 --out ci/raf-subset.csv'},
    {description: 'Then evaluate on it like any manifest', command: '<%= config.bin %> eval ci/raf-subset.csv --model rafdb'},
    {description: 'AffectNet validation, 8 classes, 50 per class, as JSON', command: '<%= config.bin %> dataset subset ~/data/AffectNet --classes 8 --per-class 50 --seed 7 --out aff50.csv --json'},
  ]

  static override args = {
    dataset: Args.string({description: 'dataset root folder (or a CSV manifest file)', required: true}),
  }

  static override flags = {
    ...sharedFlags.dataset('which split to draw from (default test; AffectNet test = its validation set)'),
    'per-class': Flags.integer({description: 'images per class', required: true, min: 1}),
    seed: Flags.integer({description: 'which subset: the same seed gives the same images', default: 0}),
    out: Flags.string({char: 'o', description: 'CSV manifest to write', required: true}),
    absolute: Flags.boolean({description: 'write absolute paths (default: relative to the CSV\'s folder)', default: false}),
    force: Flags.boolean({description: 'replace --out if it exists', default: false}),
  }

  async run(): Promise<SubsetResult> {
    const {args, flags} = await this.parse(DatasetSubset)
    const [{loadDataset}, {writeSubset}] = await Promise.all([import('../../datasets/index.js'), import('../../dataset-tools/subset.js')])
    const status = statusLine(this)
    const ds = await loadDataset(args.dataset, {
      format: flags.format,
      split: flags.split ?? 'test',
      classes: flags.classes,
      ...(flags.labels !== undefined ? {labels: flags.labels} : {}),
    })
    for (const n of ds.notes) status(n)
    const result = await writeSubset(ds, {perClass: flags['per-class'], seed: flags.seed, out: flags.out, absolute: flags.absolute, force: flags.force})
    for (const n of result.notes) status(n)
    if (!this.jsonEnabled()) {
      const per = result.classes.map((c) => `${c.name} ${c.taken}/${c.available}`).join(', ')
      this.log(`Wrote ${result.out}: ${result.images} images of the ${result.dataset.split} split, seed ${result.seed} (${per})`)
    }
    return result
  }
}
