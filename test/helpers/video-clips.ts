/**
 * Short test clips made with the ffmpeg poster runs: frames drawn here (solid colours, coloured squares on black)
 * are piped to ffmpeg as raw RGB, with timestamps set by a formula, so every test knows each frame's number, time
 * and content, hence the tiny model's prediction for it.
 */
import {spawn} from 'node:child_process'

import {findFfmpeg} from '../../src/video/ffmpeg.js'

export type Rgb = [number, number, number]

export interface Square {
  x: number
  y: number
  size: number
  rgb: Rgb
}

export interface ClipSpec {
  width: number
  height: number
  frames: number
  /** Nominal input rate (frames/s), which sets each frame's time unless `ptsMs` is given. */
  fps: number
  /**
   * A variable frame rate: each frame's time in milliseconds as an ffmpeg expression of N (the frame number),
   * e.g. `floor(N/2)*160+mod(N,2)*40`; see ptsOf for the same formula in TypeScript.
   */
  ptsMs?: string
  /** What frame N shows: a solid colour, or squares on black. */
  draw: (n: number) => Rgb | Square[]
  /** x264 yuv420p (lossy, the common case) or lossless RGB x264 (exact pixels; use .mkv). The file's extension picks the container. */
  codec?: 'h264' | 'lossless'
  /** mp4: put the index first (as streaming sites do), so a truncated copy still has frames to read. */
  faststart?: boolean
  /** More output options (e.g. -output_ts_offset). */
  outputArgs?: string[]
}

export function drawFrame(width: number, height: number, content: Rgb | Square[]): Uint8Array {
  const data = new Uint8Array(width * height * 3)
  if (typeof content[0] === 'number') {
    for (let i = 0; i < width * height; i++) data.set(content as Rgb, i * 3)
    return data
  }
  for (const sq of content as Square[]) {
    for (let y = Math.max(0, sq.y); y < Math.min(height, sq.y + sq.size); y++) {
      for (let x = Math.max(0, sq.x); x < Math.min(width, sq.x + sq.size); x++) data.set(sq.rgb, (y * width + x) * 3)
    }
  }
  return data
}

/** Write a clip (see ClipSpec) to `file`. */
export async function makeClip(file: string, spec: ClipSpec): Promise<void> {
  const ffmpeg = await findFfmpeg()
  const lossless = spec.codec === 'lossless'
  const vf = spec.ptsMs ? ['-vf', `settb=1/1000,setpts='${spec.ptsMs}'`, '-vsync', 'vfr', '-r', '1000'] : []
  const codec = lossless ? ['-c:v', 'libx264rgb', '-qp', '0'] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', '18']
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${spec.width}x${spec.height}`, '-r', String(spec.fps), '-i', 'pipe:0',
    ...vf, ...codec, '-g', '12', ...(spec.faststart ? ['-movflags', '+faststart'] : []), ...(spec.outputArgs ?? []), file,
  ]
  const child = spawn(ffmpeg.path, args, {stdio: ['pipe', 'ignore', 'pipe']})
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed making ${file}: ${err}`))))
  })
  for (let n = 0; n < spec.frames; n++) {
    const frame = drawFrame(spec.width, spec.height, spec.draw(n))
    if (!child.stdin.write(frame)) await new Promise((r) => child.stdin.once('drain', r))
  }
  child.stdin.end()
  await done
}

/** The variable-rate formula the VFR tests use: pairs of frames 40 ms apart, pairs 160 ms apart. */
export const VFR_PTS_MS = 'floor(N/2)*160+mod(N,2)*40'
export const vfrTime = (n: number): number => (Math.floor(n / 2) * 160 + (n % 2) * 40) / 1000

/** The frames `--fps f` samples from frames at `times`: the first of every 1/f-second slot. */
export function framesSampledAt(times: readonly number[], fps: number): number[] {
  const out: number[] = []
  let prevSlot = -Infinity
  times.forEach((t, n) => {
    const slot = Math.floor(t * fps + 1e-6)
    if (slot > prevSlot) out.push(n)
    prevSlot = slot
  })
  return out
}
