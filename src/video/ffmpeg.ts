/**
 * Which ffmpeg poster runs, and what it can do.
 *
 * Order: `POSTER_FFMPEG` (a path, or a name looked up on PATH) when set; else the binary the npm package
 * `@ffmpeg-installer/ffmpeg` ships for this platform (installed with poster, offline, the same build everywhere,
 * so two machines decode a clip to the same pixels); else `ffmpeg` on PATH. The pick is named in the run's
 * status line, its --json summary and its identity record (a resume under another ffmpeg is warned about).
 */
import {execFile} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

export type FfmpegSource = 'POSTER_FFMPEG' | 'bundled' | 'PATH'

export interface FfmpegBinary {
  path: string
  source: FfmpegSource
  /** The version ffmpeg prints ("4.1", "6.1.1-3", "N-47683-g0e8eb07980"...). */
  version: string
  /** libavfilter's version [major, minor]: what options the command line takes depends on it. */
  libavfilter: [number, number]
}

export class FfmpegMissingError extends Error {}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** A command name looked up on PATH as a shell would (PATHEXT on Windows). */
export function whichOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes('/') || name.includes(path.sep)) return isExecutable(name) ? name : undefined
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE').split(';') : ['']
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    for (const ext of exts) {
      const p = path.join(dir, name + ext)
      if (isExecutable(p)) return p
    }
  }
  return undefined
}

/** The binary @ffmpeg-installer/ffmpeg ships for this platform, if it is installed. */
export function bundledFfmpegPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url)
    const p = (require('@ffmpeg-installer/ffmpeg') as {path: string}).path
    return isExecutable(p) ? p : undefined
  } catch {
    // The package throws a string for unsupported platforms, or is absent (optional dependency not installed).
    return undefined
  }
}

function runVersion(bin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['-hide_banner', '-version'], {timeout: 20_000, maxBuffer: 1 << 20}, (error, stdout) => {
      if (error) reject(error)
      else resolve(stdout)
    })
  })
}

/** Parse `ffmpeg -version` output. */
export function parseVersion(text: string): {version: string; libavfilter: [number, number]} {
  const version = /^ffmpeg version (\S+)/m.exec(text)?.[1] ?? 'unknown'
  const lavfi = /^libavfilter\s+(\d+)\.\s*(\d+)\./m.exec(text)
  return {version, libavfilter: lavfi ? [Number(lavfi[1]), Number(lavfi[2])] : [0, 0]}
}

const found = new Map<string, Promise<FfmpegBinary>>()

/** Find ffmpeg (see the module comment); cached per environment value. */
export function findFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<FfmpegBinary> {
  const key = env.POSTER_FFMPEG ?? ''
  let p = found.get(key)
  if (!p) {
    p = locate(env)
    found.set(key, p)
    p.catch(() => found.delete(key))
  }
  return p
}

async function locate(env: NodeJS.ProcessEnv): Promise<FfmpegBinary> {
  let bin: string | undefined
  let source: FfmpegSource
  if (env.POSTER_FFMPEG) {
    source = 'POSTER_FFMPEG'
    bin = whichOnPath(env.POSTER_FFMPEG, env)
    if (!bin) throw new FfmpegMissingError(`POSTER_FFMPEG=${env.POSTER_FFMPEG} is not an executable file (nor a command on PATH)`)
  } else {
    bin = bundledFfmpegPath()
    source = 'bundled'
    if (!bin) {
      bin = whichOnPath('ffmpeg', env)
      source = 'PATH'
    }
    if (!bin) {
      throw new FfmpegMissingError(
        `videos need ffmpeg: the npm package @ffmpeg-installer/ffmpeg has no binary for ${process.platform}-${process.arch} here ` +
          '(reinstall with optional dependencies) and there is no ffmpeg on PATH; install one, or set POSTER_FFMPEG to its path',
      )
    }
  }
  let text: string
  try {
    text = await runVersion(bin)
  } catch (e) {
    throw new FfmpegMissingError(`${bin} (ffmpeg from ${source}) could not be run: ${(e as Error).message}`)
  }
  return {path: bin, source, ...parseVersion(text)}
}

/** `-fps_mode` replaced `-vsync` in ffmpeg 5.1 (libavfilter 8.44); older builds know only `-vsync`. */
export function passthroughArgs(bin: FfmpegBinary): string[] {
  const [major, minor] = bin.libavfilter
  return major > 8 || (major === 8 && minor >= 44) ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough']
}
