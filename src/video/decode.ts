/**
 * Video frames from ffmpeg, streamed: ffmpeg decodes the first video stream, picks the sampled frames itself (its
 * `select` filter, so frames that are not sampled are never converted or piped), converts them to RGB24 and writes
 * them to a pipe; this module cuts the pipe into frames and hands them out one at a time, pausing ffmpeg when the
 * consumer falls behind (a few frames buffered at most, never the whole clip).
 *
 * Timestamps and frame numbers come from ffmpeg's own log, not from a nominal frame rate, so variable frame rate
 * clips keep their real times:
 * - a branch of the filter graph sees every decoded frame (cropped to a few pixels, so logging it costs nothing)
 *   and logs its number and pts through `showinfo@all`;
 * - the sampled branch logs each frame it outputs through `showinfo@sel` (pts, size) and its time base;
 * - an output frame's number is the decoded frame with the same pts; its time is pts × time base, exact (ffmpeg's
 *   printed pts_time has 6 significant digits only), counted from the start of the file as players show it.
 *
 * Errors: ffmpeg's own messages (error level) are kept. A file ffmpeg cannot open, or that ends before any frame,
 * fails with them; a file that decodes part-way (truncated, damaged) gives its frames and then `damaged` with
 * the reason.
 */
import {spawn, type ChildProcessByStdio} from 'node:child_process'
import {open} from 'node:fs/promises'
import type {Readable} from 'node:stream'

import type {RgbImage} from '../image/types.js'
import {findFfmpeg, passthroughArgs, type FfmpegBinary} from './ffmpeg.js'

/** Which frames are sampled. */
export type Sampling = {kind: 'all'} | {kind: 'every'; every: number} | {kind: 'fps'; fps: number}

/** A tolerance on t·fps so frames exactly on a slot boundary (t = k/fps in floating point) start their slot. */
const SLOT_EPSILON = 1e-6

/**
 * The `select` expression for a sampling, as ffmpeg evaluates it per decoded frame (n = its number from 0,
 * t = its time, prev_t = the previous decoded frame's time):
 * - every K: frames 0, K, 2K, ...;
 * - fps N: the first frame of every 1/N-second slot (slot k = [k/N, (k+1)/N)), so N frames per second whatever
 *   the clip's rate (all frames when the clip has fewer than N per second), without drift;
 * - `after`: only frames numbered above it (a resumed run).
 * Each frame's choice depends only on itself and the previous decoded frame, so a resumed run samples exactly
 * the frames an uninterrupted one does.
 */
export function selectExpression(s: Sampling, after?: number): string {
  let e: string
  if (s.kind === 'every') e = `not(mod(n,${s.every}))`
  else if (s.kind === 'fps') e = `isnan(prev_t)+gt(floor(t*${s.fps}+${SLOT_EPSILON}),floor(prev_t*${s.fps}+${SLOT_EPSILON}))`
  else e = '1'
  return after === undefined || after < 0 ? e : `(${e})*gt(n,${after})`
}

/** What ffmpeg said about the input before decoding (from its log). */
export interface VideoInfo {
  /** Container duration in seconds (undefined when unknown, e.g. a stream). */
  duration?: number
  codec?: string
  width?: number
  height?: number
  /** Nominal frames per second of the video stream, as ffmpeg reports it. */
  fps?: number
}

export interface VideoFrame extends RgbImage {
  /** Number of the decoded frame in the stream, from 0. */
  index: number
  /** Its presentation time in seconds from the start of the file. */
  time: number
}

export interface VideoEnd {
  /** Frames handed out. */
  frames: number
  /**
   * What went wrong, in ffmpeg's words: it could not open the file, exited with an error, reported errors while
   * decoding (a truncated or damaged file: the frames before are still given), or found no frame at all.
   */
  error?: string
  info: VideoInfo
  /** ffmpeg's CPU time (user + system, all its threads), as its -benchmark line reports it. */
  cpuSeconds?: number
}

export interface DecodeOptions {
  sampling: Sampling
  /** Only frames numbered above this (a resumed run). */
  after?: number
  /** The ffmpeg to run (default findFfmpeg()). */
  ffmpeg?: FfmpegBinary
  /** The file as raw bytes of its name (a name that is not valid UTF-8): opened here and given to ffmpeg as a descriptor. */
  rawPath?: Buffer
  /** Frames buffered before ffmpeg is paused (default 3). */
  bufferFrames?: number
}

/** A message as users read it: the `[demuxer @ 0x...]` and `[error]` prefixes and the file's own name dropped. */
export function cleanMessage(line: string, input: string): string {
  let s = line.replace(/^(\[[^\]]* @ 0x[0-9a-f]+\] )?\[(error|fatal|warning|info|panic)\] /, '')
  if (s.startsWith(`${input}: `)) s = s.slice(input.length + 2)
  return s.trim()
}

/** The lines ffmpeg prints about its input ("Duration: ...", "Stream #0:0: Video: ..."). */
export function parseInfoLine(line: string, info: VideoInfo): void {
  const d = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(line)
  if (d && info.duration === undefined) {
    info.duration = Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3])
    return
  }
  const v = /Stream #\d+:\d+.*?: Video: (\w+)/.exec(line)
  if (v && info.codec === undefined) {
    info.codec = v[1]
    const size = /, (\d{1,6})x(\d{1,6})[ ,]/.exec(line)
    if (size) {
      info.width = Number(size[1])
      info.height = Number(size[2])
    }
    const fps = /, ([\d.]+)(k?) fps/.exec(line) ?? /, ([\d.]+)(k?) tbr/.exec(line)
    if (fps) info.fps = Number(fps[1]) * (fps[2] === 'k' ? 1000 : 1)
  }
}

interface Pending {
  pts: string
  width: number
  height: number
}

/**
 * An open video: iterate `frames()` once; `end` resolves when ffmpeg has exited and every frame was handed out
 * (or the iteration was stopped, which stops ffmpeg).
 */
export class VideoReader {
  readonly end: Promise<VideoEnd>
  private resolveEnd!: (e: VideoEnd) => void
  private child?: ChildProcessByStdio<null, Readable, Readable>
  private readonly info: VideoInfo = {}
  private readonly chunks: Buffer[] = []
  private buffered = 0
  private stderrRest = ''
  /** Every decoded frame (number, pts) not yet matched to an output frame. */
  private readonly decoded: Array<{n: number; pts: string}> = []
  private readonly outputs: Pending[] = []
  private timeBase: [number, number] | undefined
  /** ffmpeg's error messages with the component that logged them ('' for ffmpeg itself). */
  private readonly errors: Array<{component: string; msg: string}> = []
  /** The demuxer's name as ffmpeg logs it ("mov,mp4,m4a,3gp,3g2,mj2"). */
  private demuxer: string | undefined
  private readonly lastLines: string[] = []
  private exited: {code: number | null; signal: NodeJS.Signals | null; spawnError?: string} | undefined
  private wake: (() => void) | undefined
  private handed = 0
  private cpuSeconds: number | undefined
  private paused = false
  private started = false

  constructor(
    readonly file: string,
    private readonly opts: DecodeOptions,
  ) {
    this.end = new Promise((r) => (this.resolveEnd = r))
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private onStderr(text: string): void {
    const all = this.stderrRest + text
    const lines = all.split(/\r\n|\n|\r/)
    this.stderrRest = lines.pop() ?? ''
    for (const line of lines) this.onLine(line)
    this.notify()
  }

  private onLine(line: string): void {
    if (line.startsWith('[showinfo@all ')) {
      const m = /\] n:\s*(\d+)\s+pts:\s*(\S+)/.exec(line)
      if (m) this.decoded.push({n: Number(m[1]), pts: m[2]!})
      return
    }
    if (line.startsWith('[showinfo@sel ')) {
      const tb = /config in time_base: (\d+)\/(\d+)/.exec(line)
      if (tb) {
        this.timeBase = [Number(tb[1]), Number(tb[2])]
        return
      }
      const m = /\] n:\s*\d+\s+pts:\s*(\S+).*? s:(\d+)x(\d+)/.exec(line)
      if (m) this.outputs.push({pts: m[1]!, width: Number(m[2]), height: Number(m[3])})
      return
    }
    const bench = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(line)
    if (bench) {
      this.cpuSeconds = Number(bench[1]) + Number(bench[2])
      return
    }
    if (/\[(error|fatal|panic)\] /.test(line)) {
      const msg = cleanMessage(line, this.inputName)
      const component = /^\[([^\]]*?) @ 0x[0-9a-f]+\]/.exec(line)?.[1] ?? ''
      if (msg && this.errors.length < 50 && !this.errors.some((e) => e.msg === msg)) this.errors.push({component, msg})
      return
    }
    const input = /^\[info\] Input #0, (.+), from '/.exec(line)
    if (input) this.demuxer = input[1]
    parseInfoLine(line, this.info)
    if (line.trim()) {
      this.lastLines.push(cleanMessage(line, this.inputName))
      if (this.lastLines.length > 8) this.lastLines.shift()
    }
  }

  private get inputName(): string {
    return this.opts.rawPath ? '/dev/fd/3' : `file:${this.file}`
  }

  private async start(): Promise<void> {
    this.started = true
    const bin = this.opts.ffmpeg ?? (await findFfmpeg())
    let fd: import('node:fs/promises').FileHandle | undefined
    if (this.opts.rawPath) fd = await open(this.opts.rawPath, 'r')
    const select = selectExpression(this.opts.sampling, this.opts.after)
    const graph =
      '[0:v:0]split=2[all][sel];' +
      "[all]crop='min(iw,16)':'min(ih,16)':0:0,showinfo@all,nullsink;" +
      `[sel]select='${select}',format=rgb24,showinfo@sel[out]`
    const args = [
      '-hide_banner', '-nostdin', '-nostats', '-benchmark', '-loglevel', 'level+info',
      '-i', this.inputName,
      '-filter_complex', graph, '-map', '[out]',
      ...passthroughArgs(bin),
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ]
    const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe']
    if (fd) stdio.push(fd.fd)
    const child = spawn(bin.path, args, {stdio: stdio as ['ignore', 'pipe', 'pipe']})
    this.child = child
    child.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      const limit = (this.opts.bufferFrames ?? 3) * this.frameBytesGuess()
      if (this.buffered > limit && !this.paused) {
        this.paused = true
        child.stdout.pause()
      }
      this.notify()
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (t: string) => this.onStderr(t))
    child.on('error', (e) => {
      this.exited = {code: null, signal: null, spawnError: e.message}
      void fd?.close()
      this.notify()
    })
    child.on('close', (code, signal) => {
      if (this.stderrRest) this.onLine(this.stderrRest)
      this.stderrRest = ''
      this.exited ??= {code, signal}
      void fd?.close()
      this.notify()
    })
  }

  private frameBytesGuess(): number {
    const next = this.outputs[0]
    if (next) return next.width * next.height * 3
    return (this.info.width ?? 640) * (this.info.height ?? 480) * 3
  }

  /** Take exactly `n` bytes off the front of the buffered output. */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - filled)
      out.set(c.subarray(0, k), filled)
      filled += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.buffered -= n
    if (this.paused && this.buffered < this.frameBytesGuess()) {
      this.paused = false
      this.child?.stdout.resume()
    }
    return out
  }

  private frameNumber(pts: string): number {
    const k = this.decoded.findIndex((d) => d.pts === pts)
    if (k < 0) return -1
    const n = this.decoded[k]!.n
    this.decoded.splice(0, k + 1)
    return n
  }

  private time(pts: string): number {
    const p = Number(pts)
    if (!Number.isFinite(p) || !this.timeBase) return Number.NaN
    return (p * this.timeBase[0]) / this.timeBase[1]
  }

  /** The sampled frames, in order. Stopping early (break, return) stops ffmpeg. */
  async *frames(): AsyncGenerator<VideoFrame> {
    if (this.started) throw new Error('VideoReader.frames() can be iterated once')
    try {
      await this.start()
    } catch (e) {
      this.finish(`${(e as Error).message}`)
      return
    }
    try {
      for (;;) {
        const next = this.outputs[0]
        if (next) {
          const bytes = next.width * next.height * 3
          // The frame's number is logged by the other branch before (or about when) the frame itself comes out.
          const haveNumber = this.decoded.some((d) => d.pts === next.pts)
          if (this.buffered >= bytes && (haveNumber || this.exited)) {
            this.outputs.shift()
            const data = this.take(bytes)
            const index = this.frameNumber(next.pts)
            this.handed++
            yield {index, time: this.time(next.pts), width: next.width, height: next.height, data}
            continue
          }
        }
        if (this.exited) break
        await new Promise<void>((r) => (this.wake = r))
      }
    } finally {
      if (!this.exited) {
        this.child?.kill('SIGKILL')
        await new Promise<void>((r) => {
          if (this.exited) r()
          else this.child?.once('close', () => r())
        })
        this.resolveEnd({frames: this.handed, info: this.info})
      }
    }
    this.finishFromExit()
  }

  private finish(error: string): void {
    this.resolveEnd({frames: this.handed, error, info: this.info})
  }

  private finishFromExit(): void {
    const e = this.exited!
    const leftover = this.outputs.length > 0 || this.buffered > 0
    let error: string | undefined
    if (e.spawnError) error = `ffmpeg could not be started: ${e.spawnError}`
    else if (e.code !== 0 || e.signal || this.errors.length > 0) {
      const said = this.errors.length > 0 ? this.reason() : this.lastLines.slice(-2)
      const how = e.signal ? `ffmpeg was killed (${e.signal})` : `ffmpeg exited with code ${e.code}`
      error = said.length > 0 ? said.join('; ') : how
    } else if (this.handed === 0 && this.opts.after === undefined) {
      error = 'no video frames decoded (ffmpeg found a video stream but no frame in it)'
    }
    if (leftover) error = `${error ? `${error}; ` : ''}the last frame was cut short`
    this.resolveEnd({frames: this.handed, error, info: this.info, cpuSeconds: this.cpuSeconds})
  }

  /** Stop ffmpeg if it is still running (a run that fails part-way must not leave it blocked on a full pipe). */
  stop(): void {
    if (!this.exited) this.child?.kill('SIGKILL')
  }

  /**
   * The errors to report, the same on every run over the same file: the demuxer's own (what a truncated file
   * gives: "partial file", "Read error", "moov atom not found"), else ffmpeg's, else the decoders' (sorted: threads
   * log them in no fixed order); at most two.
   */
  private reason(): string[] {
    // Before the input is open only one thread logs: its messages in order ("moov atom not found; Invalid data").
    if (this.demuxer === undefined) return this.errors.slice(0, 2).map((e) => e.msg)
    const of = (c: string) => {
      const seen = new Set<string>()
      // "stream 0, offset 0x155e: partial file" repeats at each offset: once is enough.
      return this.errors.filter((e) => e.component === c && !seen.has(e.msg.replace(/0x[0-9a-f]+/g, '')) && seen.add(e.msg.replace(/0x[0-9a-f]+/g, ''))).map((e) => e.msg)
    }
    const demux = of(this.demuxer)
    const own = of('')
    const picked = demux.length > 0 ? demux : own.length > 0 ? own : this.errors.map((e) => e.msg).sort()
    return picked.slice(0, 2)
  }

  /** What ffmpeg said about the input so far (complete once the first frame is out). */
  get streamInfo(): VideoInfo {
    return this.info
  }
}

/** Open a video for reading its sampled frames (see VideoReader). */
export function readVideo(file: string, opts: DecodeOptions): VideoReader {
  return new VideoReader(file, opts)
}
