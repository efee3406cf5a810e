/**
 * Where downloaded checkpoints and converted ONNX models live:
 * `$POSTER_CACHE`, else `$XDG_CACHE_HOME/poster`, else `~/.cache/poster`.
 */
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

type Env = Record<string, string | undefined>

function expandHome(p: string): string {
  if (p === '~') return homedir()
  if (p.startsWith('~/') || p.startsWith('~\\')) return join(homedir(), p.slice(2))
  return p
}

/** The cache folder (absolute; not created here). Empty variables count as unset. */
export function cacheDir(env: Env = process.env): string {
  const own = env.POSTER_CACHE?.trim()
  if (own) return resolve(expandHome(own))
  const xdg = env.XDG_CACHE_HOME?.trim()
  if (xdg) return resolve(expandHome(xdg), 'poster')
  return join(homedir(), '.cache', 'poster')
}

/** `<cache>/<name>.pth`: where a registry checkpoint is downloaded to. */
export function checkpointPath(name: string, dir: string = cacheDir()): string {
  return join(dir, `${name}.pth`)
}

/** `<cache>/<name>.onnx`: where a registry checkpoint's ONNX conversion is kept. */
export function onnxPath(name: string, dir: string = cacheDir()): string {
  return join(dir, `${name}.onnx`)
}

/** Sidecar written after a successful conversion; an ONNX file without a matching one is not trusted. */
export function stampPath(onnx: string): string {
  return `${onnx}.json`
}

/** Folder for ONNX conversions of user checkpoints (keyed by the checkpoint's SHA-256). */
export function convertedDir(dir: string = cacheDir()): string {
  return join(dir, 'converted')
}

/** Index remembering the SHA-256 of user checkpoints by path, size and mtime, so they are hashed once. */
export function hashIndexPath(dir: string = cacheDir()): string {
  return join(dir, 'checkpoint-hashes.json')
}

/** Folder of the float16-compute copies `--dtype fp16` runs (models/fp16-copy.ts). */
export const FP16_DIR = 'fp16'
