/**
 * poster's help: oclif's, plus what a new user needs on `poster --help` before reading any command's page: a few
 * typical command lines and the exit codes.
 */
import {Help} from '@oclif/core'

import {EXIT_CODES_HELP} from './base.js'

/** The root page's examples: one line per common task, in the order a new user meets them. */
export const ROOT_EXAMPLES: ReadonlyArray<{description: string; command: string}> = [
  {description: 'See every output on built-in synthetic data (nothing downloaded)', command: 'demo'},
  {description: 'Evaluate the released RAF-DB checkpoint as the paper does', command: 'eval ~/data/RAF-DB/basic --model rafdb'},
  {description: 'Predict expressions and landmarks for a folder tree', command: 'predict ./photos --recursive --model rafdb --landmarks --out photos.csv'},
  {description: 'Convert a checkpoint to ONNX', command: 'convert raf-db-model_best.pth --out poster-rafdb.onnx'},
  {description: 'Gate CI on a baseline run (exit 3 on a real regression)', command: 'check runs/new --baseline baselines/rafdb'},
  {description: 'Speed and memory on this machine', command: 'bench --quick'},
  {description: 'Which GPU providers work here (CUDA, WebGPU), and what to install', command: 'doctor'},
  {description: 'One command in detail', command: 'help eval'},
]

export default class PosterHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp()
    const bin = this.config.bin
    const body = ROOT_EXAMPLES.map((e) => `${e.description}\n  $ ${bin} ${e.command}`).join('\n\n')
    this.log(this.section('EXAMPLES', body))
    this.log('')
    this.log(EXIT_CODES_HELP)
  }
}
