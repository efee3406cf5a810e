/**
 * The `video` part of `poster bench`: `poster predict CLIP --fps 5` on a generated 640×480, 30 fps H.264 clip,
 * end to end (ffmpeg decoding and sampling, the face stage, resize, the model, the CSV, the timeline), and where
 * the time goes:
 * - decode share: ffmpeg's CPU time (its -benchmark report, all threads) over ffmpeg's plus poster's CPU time in
 *   the same run (poster's is inference, resize, rows); below 15% means decoding is a small part of the work;
 * - wait share: the time the model sat idle waiting for frames (decoding not hidden behind inference) over that
 *   plus the time in the model.
 * Self-contained: the clip (prepareVideoClip), the child-process job (measureVideo), the result entry (videoEntry)
 * and its table row (videoRows) all live here; plan.ts, measure.ts, run.ts and report.ts only call them.
 */
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, rename, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {medianOf, summarize, type Sample, type Summary} from './stats.js'
import {formatDuration, formatNumber, type TableRow} from './table.js'

export const VIDEO_CLIP = {width: 640, height: 480, fps: 30, seconds: 20, quickSeconds: 6} as const
/** The sampling the measurement uses (the figure). */
export const VIDEO_SAMPLE_FPS = 5
export const VIDEO_BATCH = 8

export interface VideoJob {
  kind: 'video'
  clip: string
  model: string
  threads: number
  batch: number
  fps: number
}

export interface VideoMeasurement {
  kind: 'video'
  frames: number
  /** Whole predict() call: model open, decoding, batches, timeline, CSV closed. */
  seconds: number
  framesPerSecond: number
  /** Frames over the time in and waiting for the model (model open and files not counted). */
  loopFramesPerSecond: number
  ffmpegCpuSeconds: number
  /** This process's CPU time during the run (inference threads included). */
  posterCpuSeconds: number
  inferenceSeconds: number
  waitingSeconds: number
  decodeShare: number
  waitShare: number
  ffmpeg: string
}

export interface VideoEntry {
  clip: string
  size: string
  sourceFps: number
  sampleFps: number
  batch: number
  frames: number
  framesPerSecond: Summary
  loopFramesPerSecond: number
  decodeShare: Summary
  waitShare: Summary
  ffmpegCpuSeconds: number
  posterCpuSeconds: number
  ffmpeg: string
  peakRssMb: number
  samples: Array<Sample<VideoMeasurement>>
}

/** The bench clip, written once into the work folder by ffmpeg's own test pattern (testsrc2: motion, colour, detail). */
export async function prepareVideoClip(workDir: string, quick: boolean, status: (m: string) => void): Promise<string> {
  const seconds = quick ? VIDEO_CLIP.quickSeconds : VIDEO_CLIP.seconds
  const dir = join(workDir, 'data')
  const clip = join(dir, `clip-${VIDEO_CLIP.width}x${VIDEO_CLIP.height}-${VIDEO_CLIP.fps}fps-${seconds}s.mp4`)
  if (existsSync(clip)) return clip
  await mkdir(dir, {recursive: true})
  status(`writing a ${seconds} s ${VIDEO_CLIP.width}×${VIDEO_CLIP.height} ${VIDEO_CLIP.fps} fps H.264 clip → ${clip}`)
  const {findFfmpeg} = await import('../video/ffmpeg.js')
  const ffmpeg = await findFfmpeg()
  const partial = `${clip}.partial-${process.pid}.mp4`
  const {execFile} = await import('node:child_process')
  await new Promise<void>((resolve, reject) =>
    execFile(
      ffmpeg.path,
      ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${VIDEO_CLIP.width}x${VIDEO_CLIP.height}:rate=${VIDEO_CLIP.fps}`,
        '-t', String(seconds), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '23', partial],
      (error, _stdout, stderr) => (error ? reject(new Error(`ffmpeg could not write the bench clip: ${stderr || error.message}`)) : resolve()),
    ),
  )
  await rename(partial, clip)
  return clip
}

export async function measureVideo(job: VideoJob): Promise<VideoMeasurement> {
  const {predict} = await import('../pipeline/predict.js')
  const dir = await mkdtemp(join(tmpdir(), 'poster-bench-video-'))
  try {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const s = (await predict({inputs: [job.clip], model: job.model, out: join(dir, 'clip.csv'), batchSize: job.batch, threads: job.threads, faces: 'whole', video: {fps: job.fps}})) as import('../pipeline/video.js').VideoRunSummary
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const posterCpu = (cpu.user + cpu.system) / 1e6
    const v = s.videos[0]
    if (!v || v.status !== 'ok') throw new Error(`predict could not read the bench clip: ${v?.error ?? 'no video in the summary'}`)
    const t = s.timings
    return {
      kind: 'video',
      frames: s.frames,
      seconds,
      framesPerSecond: s.frames / seconds,
      loopFramesPerSecond: s.frames / Math.max(t.inference_s + t.waiting_s, 1e-9),
      ffmpegCpuSeconds: t.ffmpeg_cpu_s,
      posterCpuSeconds: posterCpu,
      inferenceSeconds: t.inference_s,
      waitingSeconds: t.waiting_s,
      decodeShare: t.ffmpeg_cpu_s / Math.max(t.ffmpeg_cpu_s + posterCpu, 1e-9),
      waitShare: t.waiting_s / Math.max(t.waiting_s + t.inference_s, 1e-9),
      ffmpeg: `${s.ffmpeg.version} (${s.ffmpeg.source})`,
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

export function videoEntry(clip: string | undefined, samples: Array<Sample<VideoMeasurement>>): VideoEntry | undefined {
  if (!clip || samples.length === 0) return undefined
  const first = samples[0]!
  return {
    clip,
    size: `${VIDEO_CLIP.width}x${VIDEO_CLIP.height}`,
    sourceFps: VIDEO_CLIP.fps,
    sampleFps: VIDEO_SAMPLE_FPS,
    batch: VIDEO_BATCH,
    frames: first.frames,
    framesPerSecond: summarize(samples.map((s) => s.framesPerSecond)),
    loopFramesPerSecond: medianOf(samples, (s) => s.loopFramesPerSecond) ?? 0,
    decodeShare: summarize(samples.map((s) => s.decodeShare)),
    waitShare: summarize(samples.map((s) => s.waitShare)),
    ffmpegCpuSeconds: medianOf(samples, (s) => s.ffmpegCpuSeconds) ?? 0,
    posterCpuSeconds: medianOf(samples, (s) => s.posterCpuSeconds) ?? 0,
    ffmpeg: first.ffmpeg,
    peakRssMb: medianOf(samples, (s) => s.peakRssMb) ?? 0,
    samples,
  }
}

export function videoRows(v: VideoEntry | undefined): TableRow[] {
  if (!v) return []
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  return [{
    measurement: `predict video ${v.size.replace('x', '×')} ${v.sourceFps} fps H.264, --fps ${v.sampleFps} (${v.frames} frames)`,
    batch: v.batch,
    imagesPerSecond: v.framesPerSecond.median,
    msPerImage: 1000 / v.framesPerSecond.median,
    peakRssMb: v.peakRssMb,
    notes:
      `frames/s end to end; decoding ${pct(v.decodeShare.median)} of CPU (ffmpeg ${formatDuration(v.ffmpegCpuSeconds)} vs poster ${formatDuration(v.posterCpuSeconds)}), ` +
      `model waiting for frames ${pct(v.waitShare.median)} of its time (${formatNumber(v.loopFramesPerSecond)} frames/s once the model is open); ffmpeg ${v.ffmpeg}; ${v.framesPerSecond.n} run${v.framesPerSecond.n > 1 ? 's' : ''}`,
  }]
}
