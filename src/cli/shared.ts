/** Flags and terminal helpers shared by the commands that run a model. */
import {Flags} from '@oclif/core'

import type {PosterCommand} from './base.js'

export const deviceFlag = () =>
  Flags.string({
    description: 'execution provider: cpu (bundled), cuda (needs ONNXRUNTIME_NODE_INSTALL=cuda12 at install), webgpu',
    options: ['cpu', 'cuda', 'webgpu'],
    default: 'cpu',
  })

export const threadsFlag = () => Flags.integer({description: 'CPU threads for inference (default: all cores)', min: 1})

/** A download bar in MB (one decimal), for a registry checkpoint fetched on first use. */
export function downloadBar(cmd: PosterCommand | Loggable): {update: (received: number, total: number | undefined) => void; stop: () => void} {
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

/**
 * An images/s + ETA bar on stderr, only when stderr is a terminal and not in --json mode; otherwise a no-op,
 * so CI logs and pipes get no control characters.
 */
export function progressBar(cmd: PosterCommand | Loggable, unit: string): ProgressHandle {
  const show = Boolean(process.stderr.isTTY) && !cmd.jsonEnabled()
  if (!show) return {update: () => {}, stop: () => {}}
  let bar: import('cli-progress').SingleBar | undefined
  let started = 0
  let loading: Promise<void> | undefined
  const ensure = (total: number) => {
    loading ??= import('cli-progress').then(({default: cliProgress}) => {
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
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
