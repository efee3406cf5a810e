import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import {progressBar, sharedFlags, statusLine} from '../../cli/shared.js'
import type {ExportResult} from '../../dataset-tools/export.js'

export default class DatasetExport extends PosterCommand {
  static override summary = 'Write a dataset as the ImageFolder tree the official POSTER++ main.py reads (or as CSV manifests).'

  static override description = `Reads any layout poster reads and writes OUT/train/<class>/… and OUT/valid/<class>/… (main.py trains on train/ and evaluates on valid/). Class folders are named so that torchvision ImageFolder's sorted order is the official class order: RAF-DB codes 1..7, AffectNet codes 0..6 or 0..7, other label sets by name. --to csv writes the same tree with OUT/<split>.csv manifests.

Unchanged images are hard links to the originals (copies across file systems); with --faces box (AffectNet's CSV release: its annotated boxes) or --faces detect (the largest detected face, aligned) each image is cropped by poster's face stage and written as PNG. OUT/manifest.csv lists every image: source, split, label, exported path, how, and why one could not be exported. The export is written under a temporary name, renamed when complete, and read back with poster's loaders, which must give the same images and labels.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'RAF-DB basic as main.py reads it (hard links: no extra space)', command: '<%= config.bin %> dataset export ~/data/RAF-DB/basic --to imagefolder ~/data/raf-imagefolder'},
    {description: "AffectNet's CSV release as cropped faces, 8 classes", command: '<%= config.bin %> dataset export ~/data/AffectNet --classes 8 --faces box --to imagefolder ~/data/affectnet8-faces'},
    {description: 'An ImageFolder tree as CSV manifests', command: '<%= config.bin %> dataset export ./raf-imagefolder --to csv ./raf-csv --json'},
  ]

  static override args = {
    dataset: Args.string({description: 'dataset root folder (or a CSV manifest file)', required: true}),
    out: Args.string({description: 'folder to write (must not exist, or be empty)', required: true}),
  }

  static override flags = {
    ...sharedFlags.dataset(),
    to: Flags.option({description: 'layout to write', options: ['imagefolder', 'csv'] as const, required: true})(),
    faces: sharedFlags.faces('whole (default): the images as they are; box: crop at the dataset\'s annotated boxes; detect: the largest detected face, aligned'),
    'face-size': sharedFlags.faceSize(),
  }

  async run(): Promise<ExportResult> {
    const {args, flags} = await this.parse(DatasetExport)
    const {exportDataset} = await import('../../dataset-tools/export.js')
    const status = statusLine(this)
    const bar = progressBar(this, 'images')
    let result: ExportResult
    try {
      result = await exportDataset(args.dataset, {
        to: flags.to,
        out: args.out,
        format: flags.format,
        split: flags.split,
        classes: flags.classes,
        labels: flags.labels,
        faces: flags.faces,
        faceSize: flags['face-size'],
        onProgress: bar.update,
        onStatus: status,
      })
    } finally {
      bar.stop()
    }
    for (const n of result.notes) status(n)
    if (!this.jsonEnabled()) {
      const splits = result.splits.map((s) => `${s.folder}/ ${s.images}${s.failed ? ` (${s.failed} failed)` : ''}`).join(', ')
      const h = result.how
      this.log(`Wrote ${result.out}: ${splits}; ${h.linked} hard links, ${h.copied} copies, ${h.written} PNG written${h.failed ? `, ${h.failed} failed` : ''}`)
      this.log(`class folders ${result.class_folders.map((f, i) => `${f}=${result.labels[i]}`).join(', ')}; read back: ${result.read_back.images} images, same labels`)
    }
    return result
  }
}
