/**
 * Commands that run no model must start without loading the native runtimes: every command module is imported
 * in a fresh process, whose memory map is then searched for their native libraries.
 */
import {execFileSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

describe('start-up', () => {
  it('loading every command (as `poster --help` does) loads neither onnxruntime-node nor sharp', () => {
    const commands = readdirSync(new URL('../../src/commands', import.meta.url)).filter((f) => f.endsWith('.ts'))
    expect(commands.length).toBeGreaterThanOrEqual(7)
    const script = `
      import {readFileSync} from 'node:fs'
      for (const c of ${JSON.stringify(commands)}) await import('./src/commands/' + c)
      const maps = readFileSync('/proc/self/maps', 'utf8')
      console.log(JSON.stringify([...new Set(maps.match(/[^ \\n]*(onnxruntime|libvips|sharp-)[^ \\n]*/g) ?? [])]))
    `
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8'})
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([])
  })

  it('the probe would see them if a command did load them', () => {
    const script = `
      import {readFileSync} from 'node:fs'
      await import('./src/image/sharp.ts').then((m) => m.loadSharp())
      await import('./src/runtime/session.ts').then((m) => m.runtimeFingerprint())
      const maps = readFileSync('/proc/self/maps', 'utf8')
      console.log(JSON.stringify([/libvips/.test(maps), /onnxruntime/.test(maps)]))
    `
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8'})
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([true, true])
  })
})
