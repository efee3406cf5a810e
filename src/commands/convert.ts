import {Args, Flags} from '@oclif/core'

import {printable} from '../basics.js'
import {EXIT_CODES_HELP, PosterCommand} from '../cli/base.js'
import {sharedFlags, statusLine} from '../cli/shared.js'
import type {ConvertResult} from '../convert/convert.js'

export default class Convert extends PosterCommand {
  static override summary = 'Convert an official (or self-trained) POSTER++ .pth checkpoint to a batch-dynamic ONNX model.'

  static override description = `Reads the checkpoint without Python and without executing anything in it (CUDA tensors, DataParallel 'module.' keys and the authors' pickled RecorderMeter objects are all fine; any pickle that tries to call code is refused). Builds the POSTER++ graph in TypeScript (IR-50 + MobileFaceNet, window cross-attention, ViT head; BatchNorm folded into the convolutions) with a symbolic batch size, and writes:
  input      float32 [N, 3, 224, 224]  (the official eval preprocessing: poster eval/predict do it for you)
  logits     float32 [N, C]
  landmarks  float32 [N, 68, 2]       (MobileFaceNet's own head, normalised to the face crop)
The model's metadata carries the class names in order, the preprocessing, and the checkpoint's SHA-256, epoch and best_acc.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'The released RAF-DB checkpoint', command: '<%= config.bin %> convert raf-db-model_best.pth --out poster-rafdb.onnx'},
    {description: 'AffectNet-8: class count checked against the head, names in AffectNet order', command: '<%= config.bin %> convert affectnet-8-model_best.pth --classes 8 --labels affectnet8'},
    {description: 'Half-size model file (weights stored as float16, computed in float32)', command: '<%= config.bin %> convert model.pth --dtype fp16'},
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
    dtype: Flags.option({description: 'weight storage: fp32, or fp16 for a half-size file (computed in float32)', options: ['fp32', 'fp16'] as const, default: 'fp32' as const})(),
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
    const {convertCheckpoint} = await import('../convert/convert.js')
    const result = await convertCheckpoint({
      checkpoint: args.checkpoint,
      out: flags.out,
      classes,
      labels,
      dtype: flags.dtype === 'fp16' ? 'float16' : 'float32',
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
      this.log(`  took ${result.seconds.total.toFixed(1)} s (read ${result.seconds.read} s, build ${result.seconds.build} s, write ${result.seconds.write} s)`)
    }
    return result
  }
}
