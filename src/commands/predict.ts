import {Args, Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand, UsageError} from '../cli/base.js'
import {checkDtype, downloadBar, messageOf, progressBar, sharedFlags, statusLine} from '../cli/shared.js'
import type {Shard} from '../datasets/shard.js'
import type {PredictSummary} from '../pipeline/predict.js'

/** A positive decimal (frames per second, seconds); anything else is a usage error naming the flag. */
const positiveNumber = (name: string, description: string) =>
  Flags.custom<number>({
    description,
    parse: async (input) => {
      const n = Number(input)
      if (input.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got "${input}"`)
      return n
    },
  })()

export default class Predict extends PosterCommand {
  static override summary = 'Predict the expression of every image in files and folders, one CSV row per image.'

  static override description = `Runs each image through the same preprocessing as poster eval (Pillow-exact decode and resize, ImageNet normalisation) and the model, and writes one RFC 4180 row per input to --out:
  path,status,error,pred,pred_name,confidence,p_<class>...   (+ lm<i>_x,lm<i>_y for i = 0..67 with --landmarks)
status is ok or error; error says why an image could not be used (unreadable, empty, truncated, not an image, unsupported format, over --max-pixels). Such rows never stop the run. Class names come from the model (its 'labels' metadata, the registry, or --labels); a model without names gets class_0, class_1, ... Landmarks are in pixels of the original image.

Inputs: image files and folders (sub-folders with --recursive). JPEG, PNG, WebP, TIFF, GIF (first frame), AVIF, BMP, PPM/PGM/PBM; extensions in any case; hidden files in folders skipped; symlinks followed once. Inputs are sorted by path, so reruns and shards agree; paths are written as given (names that are not valid UTF-8 show each bad byte as \\xHH).

Output: --out defaults to predictions.csv in the current folder (predictions-K-of-N.csv when sharded); "{shard}" in --out becomes K-of-N. Rows are appended and synced batch by batch. An existing output is never replaced: pass --resume to continue it (inputs already in it are skipped; an interrupted run loses nothing) or remove it. --resume on a missing file just starts it, so a restarted job can always pass --resume.

Sharding: --shard K/N runs a stable 1/N of the inputs (by a hash of the path). Without it, a Kubernetes Indexed Job sets the shard from JOB_COMPLETION_INDEX when --shards N is given, and a Slurm job array from SLURM_ARRAY_TASK_ID, _COUNT, _MIN and _MAX (any evenly spaced --array: 0-15, 1-8, 0-14:2, 0,2,4; an uneven one is refused rather than guessed). Join the shards' files with poster merge.

Videos (mp4 m4v mov mkv webm avi, mixed freely with images): frames are decoded by ffmpeg (the one bundled with poster; POSTER_FFMPEG=/path/to/ffmpeg for another), every frame or those picked by --fps / --every, each with its real timestamp. The CSV then has frame,time_s,track after path (empty for images), one row per frame and face (status no_face when there is none), --smooth adds smooth_pred,smooth_pred_name,smooth_<class>... after the probabilities, and each video gets <name>.timeline.svg/png (every face track's probabilities over time) in --timeline and a per-track summary (seconds per dominant expression). --resume continues a video at its next unprocessed frame.

${EXIT_CODES_HELP} Error rows do not change the exit code.`

  static override examples = [
    {description: 'A folder tree with the RAF-DB model', command: '<%= config.bin %> predict ./photos --recursive --model rafdb --out photos.csv'},
    {description: 'Photos with people in them: find, align and score every face (one row per face), keep the crops', command: '<%= config.bin %> predict ./party-photos --model rafdb --faces detect --overlay overlays/ --save-crops crops/ --out faces.csv'},
    {description: 'A few files, with landmarks and overlays', command: '<%= config.bin %> predict face1.jpg face2.png --model ./poster.onnx --landmarks --overlay overlays/'},
    {description: 'On an NVIDIA GPU (CUDA provider installed), batches sized to its memory', command: '<%= config.bin %> predict ./photos -r --model rafdb --device cuda --batch-size auto --out photos.csv'},
    {description: 'Continue an interrupted run', command: '<%= config.bin %> predict ./photos -r --model rafdb --out photos.csv --resume'},
    {description: 'Shard 2 of 4 by hand, then join the four files', command: '<%= config.bin %> predict ./photos -r --model rafdb --shard 2/4 --out part-{shard}.csv && <%= config.bin %> merge part-*-of-4.csv --out all.csv'},
    {description: 'Kubernetes Indexed Job (completions: 8, completionMode: Indexed): the container command', command: '<%= config.bin %> predict /data/photos -r --model rafdb --shards 8 --out /results/part-{shard}.csv --resume'},
    {description: 'Slurm job array of 8 tasks', command: 'sbatch --array=0-7 --wrap "<%= config.bin %> predict /data/photos -r --model rafdb --out results/part-{shard}.csv --resume"'},
    {description: 'A video, 5 frames per second, smoothed over half a second', command: '<%= config.bin %> predict interview.mp4 --model rafdb --fps 5 --smooth 0.5 --out interview.csv'},
    {description: 'Summary as JSON', command: '<%= config.bin %> predict ./photos --model rafdb --json'},
  ]

  static override strict = false

  static override args = {
    input: Args.string({description: 'image files and folders (any number)', required: true}),
  }

  static override flags = {
    model: sharedFlags.model(),
    out: Flags.string({char: 'o', description: 'output CSV (default predictions.csv, or predictions-K-of-N.csv when sharded; {shard} becomes K-of-N)'}),
    landmarks: Flags.boolean({description: 'add 68 landmark columns (lm<i>_x, lm<i>_y, pixels of the original image)', default: false}),
    overlay: Flags.string({description: 'write <name>.png per image into this folder, with its landmarks and predicted label drawn'}),
    recursive: Flags.boolean({char: 'r', description: 'search folders recursively', default: false}),
    'batch-size': sharedFlags.batchSize(),
    device: sharedFlags.device(),
    dtype: sharedFlags.dtype(),
    threads: sharedFlags.threads(),
    labels: sharedFlags.labels(),
    resume: Flags.boolean({description: 'continue an existing --out: inputs already in it are skipped', default: false}),
    shard: Flags.string({description: 'run only shard K of N (1-based, e.g. 2/4)'}),
    shards: Flags.integer({description: 'number of shards, with JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or a Slurm array', min: 1}),
    fps: positiveNumber('fps', 'videos: sample this many frames per second (the first frame of every 1/N s; default every frame)'),
    every: Flags.integer({description: 'videos: sample every K-th frame', min: 1, exclusive: ['fps']}),
    smooth: positiveNumber('smooth', 'videos: also write probabilities smoothed over S seconds per face track (exponential moving average)'),
    timeline: Flags.string({description: 'videos: folder for <name>.timeline.svg/png (default <out without .csv>.timelines)'}),
    faces: sharedFlags.faces('whole: each image is one face (aligned crops); detect: find, align and score every face, one row each (the default for videos)'),
    'face-size': sharedFlags.faceSize(),
    'save-crops': Flags.string({description: 'with --faces detect: write each aligned face crop as <name>-face<k>.png into this folder'}),
    'max-pixels': Flags.integer({description: 'images with more pixels are error rows (decompression-bomb guard; default 178956970, as Pillow)', min: 1}),
  }

  async run(): Promise<PredictSummary> {
    const {argv, flags} = await this.parse(Predict)
    const inputs = argv.filter((a): a is string => typeof a === 'string')
    if (inputs.length === 0) throw new UsageError('give at least one image file or folder')
    if (flags.faces === 'box') throw new UsageError("--faces box needs a dataset's annotated face boxes: use poster eval on AffectNet's CSV release or a manifest with x,y,w,h columns; predict takes whole or detect")
    if (flags['save-crops'] && flags.faces !== 'detect') throw new UsageError('--save-crops writes aligned face crops: it needs --faces detect')
    checkDtype(flags.dtype, flags.device)
    const {resolveShard} = await import('../datasets/shard.js')
    let shard: Shard | undefined
    try {
      shard = resolveShard({shard: flags.shard, shards: flags.shards})
    } catch (e) {
      throw new UsageError(messageOf(e))
    }
    const videoOptions = {fps: flags.fps, every: flags.every, smooth: flags.smooth, timelines: flags.timeline}
    const {predict} = await import('../pipeline/predict.js')
    const status = statusLine(this)
    const download = downloadBar(this)
    const bar = progressBar(this, 'images')
    let result: PredictSummary
    try {
      result = await predict({
        inputs,
        model: flags.model,
        out: flags.out,
        landmarks: flags.landmarks,
        overlay: flags.overlay,
        recursive: flags.recursive,
        batchSize: flags['batch-size'],
        device: flags.device,
        dtype: flags.dtype,
        threads: flags.threads,
        labels: flags.labels,
        resume: flags.resume,
        shard,
        maxPixels: flags['max-pixels'],
        video: videoOptions,
        faces: flags.faces,
        faceSize: flags['face-size'],
        saveCrops: flags['save-crops'],
        onStatus: status,
        onProgress: bar.update,
        onDownloadProgress: (received, total) => download.update(received, total),
      })
    } finally {
      download.stop()
      bar.stop()
    }
    for (const w of result.warnings) status(`warning: ${w}`)
    if (!this.jsonEnabled()) {
      const video = 'videos' in result ? (result as import('../pipeline/video.js').VideoRunSummary) : undefined
      const parts = [`${result.ok} ok`, `${result.errors} errors`]
      if (video) parts.splice(1, 0, `${video.frames} frames`)
      if (video && video.no_face > 0) parts.push(`${video.no_face} without a face`)
      if (!video && result.faces.mode === 'detect') parts.push(`${result.faces.found} faces`, `${result.faces.images_without_face} without a face`)
      if (result.skipped_resumed > 0) parts.push(`${result.skipped_resumed} already done`)
      const what = video ? `${result.images} inputs, ${video.videos.length} of them videos` : `${result.images} images`
      this.log(`Wrote ${result.output}: ${what} (${parts.join(', ')})${result.images_per_s > 0 ? `, ${result.images_per_s} ${video ? 'frames and images' : 'images'}/s` : ''}`)
      if (result.overlay) this.log(`Overlays in ${result.overlay}`)
      if (result.faces.crops_saved > 0) this.log(`${result.faces.crops_saved} aligned face crops in ${flags['save-crops']}`)
      if (video) {
        const {videoSummaryLines} = await import('../pipeline/video.js')
        for (const v of video.videos) for (const line of videoSummaryLines(v)) this.log(line)
      }
    }
    return result
  }
}
