/**
 * What `npm pack` ships: the package name (poster-fer; `poster` on the registry is an unrelated package), the
 * `poster` command, every path in `files` present, and the oclif manifest that prepack generates. Run on a copy of
 * the built package (dist/ from `npm test`'s build), so the working tree is never written to.
 */
import {execFileSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string
  bin: Record<string, string>
  files: string[]
  scripts: Record<string, string>
}

const copy = mkdtempSync(path.join(tmpdir(), 'poster-pack-'))
afterAll(() => rmSync(copy, {recursive: true, force: true}))

describe('the npm package', () => {
  it('is named poster-fer and installs the poster command', () => {
    expect(pkg.name).toBe('poster-fer')
    expect(pkg.bin).toEqual({poster: './bin/run.js'})
    expect(existsSync(path.join(ROOT, pkg.bin.poster!))).toBe(true)
  })

  it('prepack generates the oclif manifest; every path in files is in the tarball, and nothing else of the tree', () => {
    expect(pkg.scripts.prepack).toMatch(/oclif manifest/)
    expect(pkg.scripts.postpack).toMatch(/rm -f oclif\.manifest\.json/)
    for (const p of ['package.json', 'README.md', 'bin', 'dist']) cpSync(path.join(ROOT, p), path.join(copy, p), {recursive: true})
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'))
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest', copy], {cwd: copy, stdio: 'pipe'})
    const manifest = JSON.parse(readFileSync(path.join(copy, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    expect(Object.keys(manifest.commands).sort()).toEqual(['bench', 'cache:clear', 'cache:list', 'cache:prune', 'check', 'convert', 'dataset:check', 'dataset:export', 'dataset:info', 'dataset:subset', 'demo', 'eval', 'help', 'merge', 'predict'])
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: copy, encoding: 'utf8'})
    const files = (JSON.parse(out) as Array<{files: Array<{path: string}>}>)[0]!.files.map((f) => f.path)
    for (const entry of pkg.files) expect(files.some((f) => f === entry || f.startsWith(`${entry}/`)), entry).toBe(true)
    expect(files).toContain('oclif.manifest.json')
    expect(files).toContain('dist/commands/eval.js')
    expect(files.filter((f) => /^(src|test|node_modules)\//.test(f))).toEqual([])
  })
})
