import {Args, Flags} from '@oclif/core'

import {printable} from '../basics.js'
import {EXIT_CODES_HELP, PosterCommand, UsageError} from '../cli/base.js'
import {sharedFlags, statusLine} from '../cli/shared.js'
import type {ConvertResult} from '../convert/convert.js'
import {CALIBRATION_METHODS, DEFAULT_CALIBRATION_IMAGES, describeRangeCandidate, HELDOUT_IMAGES} from '../convert/int8-settings.js'

export default class Convert extends PosterCommand {
  static override summary = 'Convert an official (or self-trained) POSTER++ .pth checkpoint to a batch-dynamic ONNX model.'

  static override description = `Reads the checkpoint without Python and without executing anything in it (CUDA tensors, DataParallel 'module.' keys and the authors' pickled RecorderMeter objects are all fine; any pickle that tries to call code is refused). Builds the POSTER++ graph in TypeScript (IR-50 + MobileFaceNet, window cross-attention, ViT head; BatchNorm folded into the convolutions) with a symbolic batch size, and writes:
  input      float32 [N, 3, 224, 224]  (the official eval preprocessing: poster eval/predict do it for you)
  logits     float32 [N, C]
  landmarks  float32 [N, 68, 2]       (MobileFaceNet's own head, normalised to the face crop)
The model's metadata carries the class names in order, the preprocessing, and the checkpoint's SHA-256, epoch and best_acc.

--dtype int8 writes a QDQ graph that onnxruntime computes in int8 on the CPU (QLinearConv, QLinearMatMul, QGemm, QLinearAdd; PRelu in uint8): weights int8 per output channel, activations uint8 with ranges measured on --calibrate images (a dataset, its train split when it has one, or a folder of face images of the kind you will score). ${DEFAULT_CALIBRATION_IMAGES} images by default, plus up to ${HELDOUT_IMAGES} more held out to choose the range method (min/max or a percentile) by its logit error against float32. The metadata says it is int8, what it was calibrated on and how it agreed with float32 on the held-out images. Accept it by measuring it: the command prints the eval and check commands that compare it with float32 on your test set.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'The released RAF-DB checkpoint', command: '<%= config.bin %> convert raf-db-model_best.pth --out poster-rafdb.onnx'},
    {description: 'AffectNet-8: class count checked against the head, names in AffectNet order', command: '<%= config.bin %> convert affectnet-8-model_best.pth --classes 8 --labels affectnet8'},
    {description: 'Half-size model file (weights stored as float16, computed in float32)', command: '<%= config.bin %> convert model.pth --dtype fp16'},
    {description: 'int8 for CPUs, calibrated on RAF-DB training images', command: '<%= config.bin %> convert raf-db-model_best.pth --dtype int8 --calibrate ~/data/RAF-DB/basic --out poster-rafdb-int8.onnx'},
    {description: 'int8 calibrated on 128 images of a folder, 7-bit weights for CPUs without VNNI', command: '<%= config.bin %> convert model.pth --dtype int8 --calibrate ./faces --calibration-images 128 --weight-bits 7'},
  ]

  static override args = {
    checkpoint: Args.string({description: 'a POSTER++ .pth checkpoint (zip or legacy torch.save format)', required: true}),
  }

  static override flags = {
    out: Flags.string({char: 'o', description: 'output .onnx path (default: the checkpoint path with .onnx)'}),
    classes: Flags.custom<number | 'auto'>({
      description: 'expected class count: auto (from the head), or a count such as 7 or 8',
      default: 'auto',
      parse: async (input) => {
        if (input.trim().toLowerCase() === 'auto') return 'auto'
        const n = Number(input)
        if (!Number.isInteger(n) || n < 2) throw new Error(`--classes expects auto or a class count such as 7 or 8, got "${input}"`)
        return n
      },
    })(),
    labels: sharedFlags.labels('class names in output order: rafdb, affectnet7, affectnet8, caers, or comma-separated names (default: RAF-DB for 7 classes, AffectNet for 8)'),
    dtype: Flags.option({
      description: 'fp32; fp16 for a half-size file (computed in float32); int8 for a calibrated graph computed in int8 (needs --calibrate)',
      options: ['fp32', 'fp16', 'int8'] as const,
      default: 'fp32' as const,
    })(),
    calibrate: Flags.string({description: 'with --dtype int8: a dataset (its train split when it has one) or a folder of face images to measure activation ranges on'}),
    'calibration-images': Flags.integer({description: `with --dtype int8: images to calibrate on (default ${DEFAULT_CALIBRATION_IMAGES}), spread evenly over the source`, min: 1}),
    'calibration-method': Flags.option({
      description: `with --dtype int8: activation ranges by min/max, by percentile, or auto: each tried on up to ${HELDOUT_IMAGES} held-out images, the smallest logit error kept`,
      options: CALIBRATION_METHODS,
      default: 'auto' as const,
    })(),
    'weight-bits': Flags.option({
      description: 'with --dtype int8: 8, or 7 for x86 CPUs without VNNI (AVX2 only), whose u8×s8 instruction can saturate with full-range weights',
      options: ['8', '7'] as const,
      default: '8' as const,
    })(),
    'landmark-branch': Flags.option({
      description: 'with --dtype int8: the MobileFaceNet landmark branch in float32 (landmarks close to float32) or int8 (about 1.2× faster; landmarks several times further off)',
      options: ['float', 'int8'] as const,
      default: 'float' as const,
    })(),
    threads: sharedFlags.threads(),
  }

  async run(): Promise<ConvertResult> {
    const {args, flags} = await this.parse(Convert)
    const classes = flags.classes === 'auto' ? undefined : flags.classes
    const {parseLabels} = await import('../datasets/labels.js')
    const labels = flags.labels === undefined ? undefined : parseLabels(flags.labels)
    if (labels && classes !== undefined && labels.length !== classes) {
      // The same mistake as a --labels count that does not match a model in eval or predict: exit 1.
      throw new Error(`--labels names ${labels.length} classes (${labels.join(', ')}) but --classes is ${classes}`)
    }
    const int8 = flags.dtype === 'int8'
    if (int8 && !flags.calibrate) throw new UsageError('--dtype int8 needs --calibrate DATASET_OR_FOLDER: images of the kind the model will score')
    if (!int8) {
      for (const f of ['calibrate', 'calibration-images'] as const) {
        if (flags[f] !== undefined) throw new UsageError(`--${f} is only for --dtype int8`)
      }
    }
    const {convertCheckpoint} = await import('../convert/convert.js')
    const result = await convertCheckpoint({
      checkpoint: args.checkpoint,
      out: flags.out,
      classes,
      labels,
      dtype: int8 ? 'int8' : flags.dtype === 'fp16' ? 'float16' : 'float32',
      ...(int8
        ? {
            int8: {
              calibrate: flags.calibrate!,
              calibrationImages: flags['calibration-images'],
              method: flags['calibration-method'],
              weightMax: flags['weight-bits'] === '7' ? 63 : 127,
              landmarkBranch: flags['landmark-branch'],
              threads: flags.threads,
            },
          }
        : {}),
      onStatus: statusLine(this),
    })
    if (!this.jsonEnabled()) {
      const mb = (result.bytes / 1e6).toFixed(1)
      this.log(`Wrote ${result.out} (${mb} MB, ${result.numClasses} classes: ${result.labels.join(', ')})`)
      this.log(
        `  checkpoint ${result.checkpoint.format}, ${result.checkpoint.tensors} tensors, sha256 ${result.checkpoint.sha256.slice(0, 16)}…` +
          // Both come from the file: escaped, so that an epoch string cannot drive the terminal.
          (result.checkpoint.epoch !== undefined ? `, epoch ${printable(String(result.checkpoint.epoch))}` : '') +
          (result.checkpoint.best_acc !== undefined ? `, best_acc ${printable(String(result.checkpoint.best_acc))}` : ''),
      )
      this.log(`  graph: ${result.graph.nodes} nodes, ${(result.graph.parameters / 1e6).toFixed(2)}M parameters, opset ${result.graph.opset}, batch-dynamic`)
      if (result.int8) for (const line of int8Lines(result)) this.log(line)
      this.log(
        `  took ${result.seconds.total.toFixed(1)} s (read ${result.seconds.read} s, build ${result.seconds.build} s` +
          (result.seconds.quantize !== undefined ? `, calibrate and check int8 ${result.seconds.quantize} s` : '') +
          `, write ${result.seconds.write} s)`,
      )
      if (result.int8) for (const line of acceptLines(result, args.checkpoint)) this.log(line)
    }
    return result
  }
}

const KERNELS = ['QLinearConv', 'QLinearMatMul', 'MatMulIntegerToFloat', 'QGemm', 'QLinearAdd', 'QLinearMul', 'QLinearLeakyRelu'] as const

/** What calibration found and which int8 kernels onnxruntime runs. */
function int8Lines(result: ConvertResult): string[] {
  const r = result.int8!
  const c = r.calibration
  const lines = [
    `  int8: calibrated on ${c.images} images of ${c.source} (${c.layout}${c.split ? `, ${c.split} split` : ''})` +
      (c.skipped ? `, ${c.skipped} unreadable skipped` : '') +
      `; ranges by ${describeRangeCandidate(r)} (${r.chosenBy})`,
  ]
  for (const cand of r.candidates) {
    if (!cand.heldout) continue
    const h = cand.heldout
    const name = describeRangeCandidate(cand)
    lines.push(
      `    ${name.padEnd(18)} on ${h.images} held-out images: top-1 agreement ${(100 * h.top1).toFixed(1)}%, mean |Δlogit| ${h.logitMeanAbs.toFixed(4)}, max ${h.logitMaxAbs.toFixed(3)}` +
        (h.landmarkMeanPx !== null ? `, landmarks ${h.landmarkMeanPx.toFixed(2)} px` : ''),
    )
  }
  const ops = KERNELS.filter((k) => r.optimizedOps[k]).map((k) => `${r.optimizedOps[k]} ${k}`)
  lines.push(`  onnxruntime runs: ${ops.join(', ')}; float32: ${r.floatParts.join(', ')}`)
  for (const w of r.warnings) lines.push(`  warning: ${w}`)
  return lines
}

/** The documented way to accept an int8 model: the same test set through both, then a paired check. */
function acceptLines(result: ConvertResult, checkpoint: string): string[] {
  const r = result.int8!
  const test = r.calibration.layout === 'folder' ? '<your test set>' : r.calibration.source
  const q = (p: string) => (/^[\w./~:@%+=,-]+$/.test(p) ? p : `'${p.replace(/'/g, "'\\''")}'`)
  return [
    'Accept it by measuring it on your test set (both runs score the same images; check pairs them, McNemar):',
    `  poster eval ${q(test)} --model ${q(checkpoint)} --out runs/fp32`,
    `  poster eval ${q(test)} --model ${q(result.out)} --out runs/int8`,
    '  poster check runs/int8 --baseline runs/fp32',
  ]
}
