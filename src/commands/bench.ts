import {Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand, UsageError} from '../cli/base.js'
import {checkDtype, sharedFlags, statusLine} from '../cli/shared.js'
import {BENCH_PARTS, type BenchPart, type BenchResult} from '../bench/types.js'

export default class Bench extends PosterCommand {
  static override summary = 'Measure POSTER++ speed and memory on this machine: model-only, preprocessing, whole eval, predict, conversion.'

  static override description = `Runs each measurement in a fresh process (so its peak RSS is its own) and reports medians over --runs:
  model-only    images/s at batch 1, 8, 32 on CPU (random input, warm-up excluded); session creation separately
  preprocess    decode + Pillow-exact resize + normalisation alone, on 100×100 and 640×480 JPEGs
  eval          poster eval end to end (listing, session, decode, inference, metrics, report files) at batch 1, 8, 32
                on generated RAF-DB-like sets of 100×100 and 640×480 JPEGs, and its ratio to model-only
  predict       poster predict --landmarks over a folder of 1000 generated 100×100 JPEGs (100 with --quick), once
  video         poster predict --fps 5 on a generated 640×480 30 fps H.264 clip (20 s, 6 s with --quick): frames/s,
                and ffmpeg's share of the CPU time (decoding) against poster's (inference)
  faces         --faces detect (BlazeFace looks + alignment) on a 640×480 one-face photo against POSTER++ at batch 1,
                alternated in one process: the share detection adds to inference
  dataset       poster dataset check on 20,000 generated distinct 100×100 JPEGs (1,000 with --quick, --dataset-images N):
                images/s and peak RSS of reading, decoding, hashing and the duplicate search, once
  convert       checkpoint → ONNX when POSTER_BENCH_CHECKPOINT names a .pth, else the graph build + write from
                deterministic weights (labelled so); fp16 file size and max |Δlogit| against fp32
  int8          the deterministic POSTER++ converted to int8 once (time, size, calibration, the int8 kernels
                onnxruntime runs), then float32 and int8 open side by side in one process, calls alternating, at
                batch 1, 8, 32: both images/s and their ratio; and the CPU's SIMD flags (VNNI or not)

On a GPU (--device cuda or webgpu): model-only and eval at batch 1, 8, 32, 64 and 128 (256 images per model-only measurement, 280-image eval sets), and decode+preprocess, the CPU side that has to keep up; the header names the GPU (nvidia-smi, vulkaninfo). --dtype fp16 runs the model's float16-compute copy. The provider is probed first: if it does not load, the message says what to install (see poster doctor). On software Vulkan (lavapipe, ~0.2 images/s) use --quick --batch-sizes 1,2.

Without --model the real POSTER++ graph with deterministic UNTRAINED weights is built once into the cache (same speed as the trained model, chance-level accuracy). Generated datasets are cached too.

Optional PyTorch baseline: with POSTER_BENCH_PYTHON (a python with torch + numpy) and POSTER_BENCH_OFFICIAL (a checkout of Talented-Q/POSTER_V2), the official model runs in PyTorch eager with the same weights at the same batch sizes, and a torch.onnx.export graph (fixed batch 8) is timed under onnxruntime-node.

The table goes to stdout, progress to stderr, the full results as JSON to --out. Figures are only meaningful on an otherwise idle machine: the load average is reported.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Full benchmark (a few minutes)', command: '<%= config.bin %> bench'},
    {description: 'Smoke run', command: '<%= config.bin %> bench --quick'},
    {description: 'Only what the face detector adds, and the video path', command: '<%= config.bin %> bench --parts faces,video'},
    {description: 'int8 beside float32 on this CPU', command: '<%= config.bin %> bench --parts int8'},
    {description: 'Your converted model, 5 runs each', command: '<%= config.bin %> bench --model rafdb.onnx --runs 5'},
    {description: 'On an NVIDIA GPU: model-only and eval at batch 1 to 128, float32 then float16', command: '<%= config.bin %> bench --device cuda && <%= config.bin %> bench --device cuda --dtype fp16'},
    {description: 'WebGPU on software Vulkan (a correctness smoke run, not a speed figure)', command: '<%= config.bin %> bench --device webgpu --quick --batch-sizes 1,2 --parts model'},
    {description: 'The released RAF-DB checkpoint (downloaded and converted once, as eval does)', command: '<%= config.bin %> bench --model rafdb --quick'},
    {
      description: 'With the PyTorch baseline',
      command: 'POSTER_BENCH_PYTHON=/usr/bin/python3 POSTER_BENCH_OFFICIAL=~/POSTER_V2 <%= config.bin %> bench',
    },
  ]

  static override flags = {
    model: sharedFlags.model({required: false, description: 'an .onnx file, a .pth checkpoint or a registry name, as for eval (default: the deterministic untrained POSTER++, built once)'}),
    runs: Flags.integer({description: 'runs per measurement; the median is reported (default 3, --quick 1)', min: 1}),
    quick: Flags.boolean({description: 'fast smoke run: fewer images, one run, no torch.onnx.export', default: false}),
    threads: sharedFlags.threads(),
    device: sharedFlags.device(),
    dtype: sharedFlags.dtype(),
    'batch-sizes': Flags.custom<number[]>({
      description: 'comma-separated batch sizes of model-only and eval (default 1,8,32 on the CPU; 1,8,32,64,128 on a GPU)',
      parse: async (input) => {
        const sizes = input.split(',').map((s) => s.trim())
        if (sizes.length === 0 || sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) throw new Error(`--batch-sizes takes positive integers separated by commas, got "${input}"`)
        return [...new Set(sizes.map(Number))]
      },
    })(),
    out: Flags.string({char: 'o', description: 'JSON results file (default bench-results/bench-<timestamp>.json)'}),
    'dataset-images': Flags.integer({description: 'images in the set the dataset part checks (default 20000, --quick 1000)', min: 1}),
    parts: Flags.string({
      description: `comma-separated measurements to run (default all): ${BENCH_PARTS.join(', ')}`,
      parse: async (input) => {
        const parts = input.split(',').map((p) => p.trim()).filter(Boolean)
        const bad = parts.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p))
        if (bad.length > 0 || parts.length === 0) throw new Error(`--parts takes ${BENCH_PARTS.join(', ')}; got "${input}"`)
        return parts.join(',')
      },
    }),
  }

  async run(): Promise<BenchResult> {
    const {flags} = await this.parse(Bench)
    const {runBench, writeBenchResult, defaultResultPath, checkBenchOutput} = await import('../bench/run.js')
    const status = statusLine(this)
    const parts = flags.parts ? (flags.parts.split(',') as BenchPart[]) : undefined
    const out = flags.out ?? defaultResultPath()
    await checkBenchOutput(out)
    checkDtype(flags.dtype, flags.device)
    if (flags.device !== 'cpu' && parts) {
      const {GPU_BENCH_PARTS} = await import('../bench/types.js')
      const cpuOnly = parts.filter((p) => !GPU_BENCH_PARTS.includes(p))
      if (cpuOnly.length > 0) throw new UsageError(`--device ${flags.device} measures ${GPU_BENCH_PARTS.join(', ')}; --parts ${cpuOnly.join(',')} run on the CPU (drop --device for them)`)
    }
    const result = await runBench({
      model: flags.model,
      runs: flags.runs,
      quick: flags.quick,
      threads: flags.threads,
      parts,
      device: flags.device,
      dtype: flags.dtype,
      batchSizes: flags['batch-sizes'],
      onStatus: status,
      ...(flags['dataset-images'] !== undefined ? {plan: {datasetImages: flags['dataset-images']}} : {}),
    })
    const path = await writeBenchResult(result, out)
    if (!this.jsonEnabled()) {
      const {benchReport} = await import('../bench/report.js')
      this.log(benchReport(result))
      this.log(`\nresults  ${path}`)
    } else {
      status(`results  ${path}`)
    }
    return result
  }
}
