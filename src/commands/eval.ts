import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand, RegressionError, UsageError} from '../cli/base.js'
import {checkDtype, downloadBar, progressBar, sharedFlags, statusLine, thresholdsFrom} from '../cli/shared.js'
import {DATASET_FORMATS} from '../datasets/types.js'
import type {MetricsFile} from '../pipeline/evaluate.js'

export default class Eval extends PosterCommand {
  static override summary = 'Evaluate a model on RAF-DB, AffectNet, an ImageFolder tree or a CSV manifest, as the paper does.'

  static override description = `Runs every image of the chosen split through the official POSTER++ evaluation preprocessing (Pillow convert('RGB'), bit-exact antialiased bilinear resize to 224×224, ImageNet normalisation) and the model, then writes to --out:
  predictions.csv  one row per image in dataset order (status ok/error, p_<class> columns)
  metrics.json     accuracy (the paper's top-1), mean class accuracy, macro-F1, per-class P/R/F1, confusion, NLL, ECE, 95% CI
  confusion.csv, confusion.svg/.png, calibration.svg, report.md, report.html

The model's classes are matched to the dataset's by name (from the model's metadata, the registry, or --labels), never by position. Unreadable images become error rows and the run goes on (--strict stops instead). With --resume and --out, an interrupted run continues where it stopped.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'RAF-DB test split with the official checkpoint (downloaded and converted once)', command: '<%= config.bin %> eval ~/data/RAF-DB/basic --model rafdb'},
    {description: 'AffectNet validation, 8-class protocol, on a GPU', command: '<%= config.bin %> eval ~/data/AffectNet --model affectnet8 --classes 8 --device cuda'},
    {description: "AffectNet's CSV release scored on its annotated face boxes (the default there); or on detected, aligned faces", command: '<%= config.bin %> eval ~/data/AffectNet --model affectnet7 --classes 7 --faces box'},
    {description: 'Unaligned photos in an ImageFolder tree: detect and align each face as RAF-DB did, score the largest', command: '<%= config.bin %> eval ./wild-photos --model rafdb --faces detect'},
    {description: 'On any Vulkan GPU, batches sized to its memory, computed in float16', command: '<%= config.bin %> eval ~/data/RAF-DB/basic --model rafdb --device webgpu --batch-size auto --dtype fp16'},
    {description: 'Your own ONNX model on an ImageFolder tree whose folders are 1..7', command: '<%= config.bin %> eval ./raf-imagefolder --format imagefolder --model ./my-poster.onnx --batch-size 16'},
    {description: 'Gate CI on a baseline run', command: '<%= config.bin %> eval ./subset --model rafdb --baseline runs/baseline --max-drop 0.5'},
    {description: 'Metrics as JSON only', command: '<%= config.bin %> eval ./raf --model model.onnx --json > metrics.json'},
  ]

  static override args = {
    dataset: Args.string({description: 'dataset root folder (or a CSV manifest file)', required: true}),
  }

  static override flags = {
    model: sharedFlags.model(),
    format: Flags.option({description: 'dataset layout', options: ['auto', ...DATASET_FORMATS] as const, default: 'auto' as const})(),
    split: Flags.string({description: 'which split to evaluate (train, test; AffectNet test = its validation set)', default: 'test'}),
    classes: Flags.integer({description: 'AffectNet protocol: 7 or 8 classes (other layouts: checked against the folders)', min: 2}),
    labels: sharedFlags.labels(),
    'batch-size': sharedFlags.batchSize(),
    device: sharedFlags.device(),
    dtype: sharedFlags.dtype(),
    threads: sharedFlags.threads(),
    out: Flags.string({char: 'o', description: 'run folder (default runs/<dataset>-<timestamp>)'}),
    resume: Flags.boolean({description: 'continue an interrupted run in --out: images already in predictions.csv are skipped', default: false}),
    limit: Flags.integer({description: 'evaluate only the first N images of the split (smoke tests, CI subsets)', min: 1}),
    strict: Flags.boolean({description: 'stop at the first unreadable image instead of reporting it', default: false}),
    landmarks: Flags.boolean({description: 'add 68 landmark columns (lm<i>_x, lm<i>_y, pixels of the original image) to predictions.csv', default: false}),
    faces: sharedFlags.faces("whole: the image is the face (RAF-DB aligned, ImageFolder); box: the dataset's annotated boxes (default for AffectNet's CSV release and manifests with x,y,w,h); detect: find and align faces, score the largest"),
    'face-size': sharedFlags.faceSize(),
    'no-pictures': Flags.boolean({description: 'skip confusion.png/svg, calibration.svg and report.html', default: false}),
    baseline: Flags.string({description: 'compare with this run folder or metrics.json (as poster check) and exit 3 on a regression'}),
    ...sharedFlags.thresholds('with --baseline: '),
  }

  async run(): Promise<MetricsFile> {
    const {args, flags} = await this.parse(Eval)
    if (flags.resume && !flags.out) throw new UsageError('--resume needs --out: the run folder to continue')
    checkDtype(flags.dtype, flags.device)
    const {evaluate} = await import('../pipeline/evaluate.js')
    const status = statusLine(this)
    const download = downloadBar(this)
    const bar = progressBar(this, 'images')
    let result
    try {
      result = await evaluate({
        dataset: args.dataset,
        format: flags.format,
        split: flags.split,
        classes: flags.classes,
        labels: flags.labels,
        limit: flags.limit,
        model: flags.model,
        batchSize: flags['batch-size'],
        device: flags.device,
        dtype: flags.dtype,
        threads: flags.threads,
        out: flags.out,
        resume: flags.resume,
        strict: flags.strict,
        landmarks: flags.landmarks,
        faces: flags.faces,
        faceSize: flags['face-size'],
        pictures: !flags['no-pictures'],
        baseline: flags.baseline,
        thresholds: thresholdsFrom(flags),
        onStatus: status,
        onProgress: bar.update,
        onDownloadProgress: (received, total) => download.update(received, total),
      })
    } finally {
      download.stop()
      bar.stop()
    }
    if (!this.jsonEnabled()) {
      const {terminalSummary, checkTableMarkdown} = await import('../report/index.js')
      this.log(terminalSummary(result.context, result.metrics, {color: undefined}))
      if (result.check) this.log('\n' + checkTableMarkdown(result.check.rows, {title: `Check against ${result.check.baseline}`}))
      this.log(`\nWrote ${result.runDir}/ (predictions.csv, metrics.json, confusion.csv, report.md${flags['no-pictures'] ? '' : ', confusion.png, report.html'})`)
    }
    if (result.check?.result.verdict === 'fail') {
      const failed = result.check.result.checks.filter((c) => c.verdict === 'fail').map((c) => c.name)
      throw new RegressionError(`regression against ${result.check.baseline}: ${failed.join(', ')}`, result.metrics)
    }
    return result.metrics
  }
}
