/**
 * What the commands share, defined once: the flags several commands take (so the same flag means the same thing,
 * parses the same way and fails with the same exit code everywhere), and the stderr helpers (status lines, a
 * progress bar on a terminal, plain progress lines every few seconds otherwise).
 *
 * A flag's value is checked when it is parsed: a malformed value (an unknown --device, a --labels that names one
 * class, a threshold that is not a number) is a usage error, exit 2, before anything is read. Whether a
 * well-formed value fits the files (a --labels count against the model) is decided later and is an error, exit 1.
 *
 * To add a shared flag: add a factory to `sharedFlags` (a `Flags.option` for a fixed set of values, so the parsed
 * type is the union and no cast is needed; a `Flags.custom` with `parse` for anything validated), then use it in
 * each command's `flags` as `name: sharedFlags.name()`.
 */
import {Flags} from '@oclif/core'

import {parseLabels} from '../datasets/labels.js'
import {DATASET_FORMATS} from '../datasets/types.js'
import type {BatchSizeSetting} from '../runtime/batch-size.js'
import {DEVICES, type Device} from '../runtime/provider-help.js'
import {type PosterCommand, UsageError} from './base.js'

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** A flag parser's failure: oclif reports it as a usage error (exit 2) naming the flag. */
function refuse(message: string): never {
  throw new Error(message)
}

/** A non-negative decimal number of points or a probability, as the comparison thresholds take them. */
const nonNegative = (name: string) =>
  Flags.custom<number>({
    parse: async (input) => {
      const n = Number(input)
      if (input.trim() === '' || !Number.isFinite(n) || n < 0) refuse(`--${name} expects a non-negative number, got "${input}"`)
      return n
    },
  })

export const sharedFlags = {
  /** --model: an .onnx file, a .pth checkpoint or a registry name; models/resolve.ts decides which. */
  model: (opts: {required?: boolean; description?: string} = {}) =>
    opts.required === false
      ? Flags.string({char: 'm', description: opts.description ?? MODEL_DESCRIPTION})
      : Flags.string({char: 'm', description: opts.description ?? MODEL_DESCRIPTION, required: true}),

  /**
   * --labels: the model's class order, a registry label set or comma-separated names. The value stays the text
   * the user typed (callers resolve it with parseLabels); parsing here only refuses what can never be a label set.
   */
  labels: (description = "the model's class order: rafdb, affectnet7, affectnet8, caers, or comma-separated names (overrides the model's metadata)") =>
    Flags.custom<string>({
      description,
      parse: async (input) => {
        try {
          parseLabels(input)
        } catch (error) {
          refuse(messageOf(error))
        }
        return input
      },
    })(),

  /**
   * The flags that choose what a dataset command reads, as eval reads it: --format, --split, --classes, and
   * --labels for manifests. `split` describes the default (all splits for the dataset commands).
   */
  dataset: (split = 'which split (train, test, valid, validation; default: every split the dataset has)') => ({
    format: Flags.option({description: 'dataset layout (auto: detect it and say what was found)', options: ['auto', ...DATASET_FORMATS] as const, default: 'auto' as const})(),
    split: Flags.string({description: split}),
    classes: Flags.integer({description: 'AffectNet protocol: 7 or 8 classes (other layouts: checked against the folders)', min: 2}),
    labels: sharedFlags.labels('CSV manifests: the label set of the label column (rafdb, affectnet7, affectnet8, caers, or names in class order)'),
  }),

  /** --faces: which crops the model sees (faces/stage.ts); the default depends on the command and the data. */
  faces: (description: string) => Flags.option({description, options: ['whole', 'box', 'detect'] as const})(),

  /** --face-size: side of the aligned crop under --faces detect. */
  faceSize: () =>
    Flags.integer({description: 'with --faces detect: side in pixels of the aligned crop before the 224×224 resize (default 100, as RAF-DB\'s aligned images)', min: 16, max: 1024}),

  /** --batch-size N or auto (runtime/batch-size.ts: the CPU keeps `defaultSize`, GPUs are filled by their memory). */
  batchSize: (defaultSize = 32) =>
    Flags.custom<BatchSizeSetting>({
      char: 'b',
      description: `images per batch, or auto: by device (cpu ${defaultSize}; software Vulkan 8; a GPU by its memory, 256 MiB per image, 8 to 128)`,
      default: defaultSize,
      parse: async (input) => {
        if (input.trim() === 'auto') return 'auto'
        const n = Number(input)
        if (!/^\s*\d+\s*$/.test(input) || !Number.isSafeInteger(n) || n < 1) refuse(`--batch-size expects a positive integer or auto, got "${input}"`)
        return n
      },
    })(),

  /** --dtype for a run: what the model computes in (fp16 runs a float16-compute copy, for GPU providers). */
  dtype: () =>
    Flags.option({
      description: 'what the model computes in: fp32, or fp16 on a GPU (--device cuda or webgpu): a float16 copy of the model, made once into the cache',
      options: ['fp32', 'fp16'] as const,
      default: 'fp32' as const,
    })(),

  device: () =>
    Flags.option({
      description: 'execution provider: cpu (bundled), cuda (needs ONNXRUNTIME_NODE_INSTALL=cuda12 at install), webgpu',
      options: DEVICES,
      default: 'cpu' as const,
    })(),

  threads: () =>
    Flags.integer({
      description: 'CPU threads for inference (default: the CPUs this process may use: the smallest of SLURM_CPUS_PER_TASK, the cgroup CPU quota and os.availableParallelism())',
      min: 1,
    }),

  /**
   * The accuracy gate's thresholds (poster check, and eval --baseline with `context` 'with --baseline: '). Read
   * them back with `thresholdsFrom(flags)`.
   */
  thresholds: (context = '') => ({
    'max-drop': nonNegative('max-drop')({description: `${context}largest allowed drop of accuracy, mean class accuracy and macro-F1, in points`, default: 0.5}),
    'max-class-drop': nonNegative('max-class-drop')({description: `${context}largest allowed drop of any class's recall, in points`, default: 2}),
    'min-accuracy': nonNegative('min-accuracy')({description: `${context}absolute floor on accuracy, in percent`}),
    significance: nonNegative('significance')({description: `${context}McNemar p-value below which a paired drop counts as real`, default: 0.05}),
  }),
}

const MODEL_DESCRIPTION = 'an .onnx file, a .pth checkpoint, or a registry name (rafdb, affectnet7, affectnet8, caers)'

/** --dtype fp16 is for GPU providers: on the CPU float16 is slower than float32 and no more exact. */
export function checkDtype(dtype: 'fp32' | 'fp16', device: Device): void {
  if (dtype === 'fp16' && device === 'cpu') {
    throw new UsageError('--dtype fp16 needs --device cuda or --device webgpu (on the CPU provider float16 is slower than float32 and less exact)')
  }
}

/** The thresholds object poster check and eval --baseline pass on, from the flags of `sharedFlags.thresholds()`. */
export function thresholdsFrom(flags: {'max-drop': number; 'max-class-drop': number; significance: number; 'min-accuracy'?: number}): {
  maxDrop: number
  maxClassDrop: number
  significance: number
  minAccuracy?: number
} {
  return {
    maxDrop: flags['max-drop'],
    maxClassDrop: flags['max-class-drop'],
    significance: flags.significance,
    ...(flags['min-accuracy'] === undefined ? {} : {minAccuracy: flags['min-accuracy']}),
  }
}

/** A download bar in MB (one decimal), for a registry checkpoint fetched on first use. */
export function downloadBar(cmd: Loggable): {update: (received: number, total: number | undefined) => void; stop: () => void} {
  const bar = progressBar(cmd, 'MB')
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10
  return {update: (received, total) => bar.update(mb(received), mb(total ?? received)), stop: bar.stop}
}

export interface ProgressHandle {
  update: (done: number, total: number) => void
  stop: () => void
}

interface Loggable {
  jsonEnabled(): boolean
}

/** Messages about what poster detected or decided, on stderr so stdout stays clean for --json and pipes. */
export function statusLine(cmd: Loggable): (message: string) => void {
  return (message: string) => {
    if (!cmd.jsonEnabled()) process.stderr.write(`${message}\n`)
  }
}

/** Seconds between plain progress lines when stderr is not a terminal (POSTER_PROGRESS_INTERVAL overrides). */
export const PROGRESS_LINE_SECONDS = 10

/**
 * Progress on stderr, never in --json mode: an images/s + ETA bar when stderr is a terminal; otherwise (CI logs,
 * pipes, files) a plain line at most every PROGRESS_LINE_SECONDS seconds, and a last one at the end, with no
 * control characters.
 */
export function progressBar(cmd: PosterCommand | Loggable, unit: string, stream: NodeJS.WriteStream = process.stderr): ProgressHandle {
  if (cmd.jsonEnabled()) return {update: () => {}, stop: () => {}}
  if (!stream.isTTY) return progressLines(unit, (line) => stream.write(`${line}\n`))
  let bar: import('cli-progress').SingleBar | undefined
  let started = 0
  let loading: Promise<void> | undefined
  const ensure = (total: number) => {
    loading ??= import('cli-progress').then(({default: cliProgress}) => {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `{bar} {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 64,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      )
      bar.start(total, 0, {rate: '0.0'})
      started = performance.now()
    })
  }
  let first: number | undefined
  return {
    update(done, total) {
      ensure(total)
      first ??= done
      if (!bar) return
      const secs = (performance.now() - started) / 1000
      bar.setTotal(total)
      bar.update(done, {rate: secs > 0 ? ((done - first) / secs).toFixed(1) : '0.0'})
    },
    stop() {
      bar?.stop()
    },
  }
}

/**
 * Plain progress lines for logs: `progress 120/3068 images (3.9%), 11.2 images/s, ETA 4m 23s`, the first when
 * work has started, then at most one per interval, and one at the end unless the last line already said it.
 * The rate counts only this run's work (a resumed run starts from its first count).
 */
export function progressLines(
  unit: string,
  write: (line: string) => void,
  opts: {intervalSeconds?: number; now?: () => number} = {},
): ProgressHandle {
  const envInterval = Number(process.env.POSTER_PROGRESS_INTERVAL)
  const interval = opts.intervalSeconds ?? (Number.isFinite(envInterval) && envInterval >= 0 ? envInterval : PROGRESS_LINE_SECONDS)
  const now = opts.now ?? (() => performance.now() / 1000)
  let start: {t: number; done: number} | undefined
  let lastLine = -Infinity
  let last: {done: number; total: number} | undefined
  let said: string | undefined
  const line = (done: number, total: number): string => {
    const pct = total > 0 ? ` (${((100 * done) / total).toFixed(1)}%)` : ''
    const secs = start ? now() - start.t : 0
    const rate = secs > 0 && start ? (done - start.done) / secs : 0
    const eta = rate > 0 && total > done ? `, ETA ${formatSeconds((total - done) / rate)}` : ''
    return `progress ${done}/${total} ${unit}${pct}${rate > 0 ? `, ${rate.toFixed(1)} ${unit}/s` : ''}${eta}`
  }
  const emit = (done: number, total: number) => {
    said = `${done}/${total}`
    lastLine = now()
    write(line(done, total))
  }
  return {
    update(done, total) {
      start ??= {t: now(), done}
      last = {done, total}
      if (now() - lastLine >= interval) emit(done, total)
    },
    stop() {
      if (last && said !== `${last.done}/${last.total}`) emit(last.done, last.total)
    },
  }
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  return `${h}h ${String(m - h * 60).padStart(2, '0')}m`
}
