/**
 * src/files.ts: files a user names are read only when they are regular files (links followed), never past a size
 * limit, and each kind of hostile file is refused by what it is, within milliseconds (a FIFO with no writer would
 * block a plain read forever; a link to /dev/zero would read until the heap dies).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, statSync, rmSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FileTooLargeError, NotRegularFileError, OutputPathError, prepareOutputDir, prepareOutputFile, readRegularFile, readRegularText} from '../src/files.js'

const dir = mkdtempSync(path.join(tmpdir(), 'poster-files-'))
let server: Server

beforeAll(async () => {
  writeFileSync(path.join(dir, 'plain.bin'), Buffer.from([1, 2, 3, 250]))
  symlinkSync(path.join(dir, 'plain.bin'), path.join(dir, 'link-to-plain.bin'))
  expect(spawnSync('mkfifo', [path.join(dir, 'pipe')]).status).toBe(0)
  symlinkSync(path.join(dir, 'pipe'), path.join(dir, 'link-to-pipe'))
  symlinkSync('/dev/zero', path.join(dir, 'zero'))
  mkdirSync(path.join(dir, 'folder'))
  // 3 GiB that take no disk space: refused by its size before a byte is read.
  writeFileSync(path.join(dir, 'huge.bin'), '')
  truncateSync(path.join(dir, 'huge.bin'), 3 * 2 ** 30)
  server = createServer()
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock'), resolve))
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, {recursive: true, force: true})
})

async function refusal(file: string, opts?: {maxBytes?: number}): Promise<Error> {
  const t0 = Date.now()
  const e = await readRegularFile(file, opts).then(
    () => new Error('read succeeded'),
    (err: Error) => err,
  )
  expect(Date.now() - t0).toBeLessThan(5000)
  return e
}

describe('readRegularFile', () => {
  it('reads a regular file, also through a link', async () => {
    expect([...(await readRegularFile(path.join(dir, 'plain.bin')))]).toEqual([1, 2, 3, 250])
    expect([...(await readRegularFile(Buffer.from(path.join(dir, 'link-to-plain.bin'))))]).toEqual([1, 2, 3, 250])
  })

  it('refuses a FIFO (and a link to one) at once instead of waiting for a writer', async () => {
    for (const name of ['pipe', 'link-to-pipe']) {
      const e = await refusal(path.join(dir, name))
      expect(e).toBeInstanceOf(NotRegularFileError)
      expect((e as NotRegularFileError).reason).toBe('not a regular file (a FIFO)')
    }
  })

  it('refuses a link to /dev/zero, a socket, and says EISDIR for a folder', async () => {
    expect((await refusal(path.join(dir, 'zero')) as NotRegularFileError).reason).toBe('not a regular file (a character device)')
    expect((await refusal(path.join(dir, 'sock')) as NotRegularFileError).reason).toBe('not a regular file (a socket)')
    expect((await refusal(path.join(dir, 'folder')) as NodeJS.ErrnoException).code).toBe('EISDIR')
    expect((await refusal(path.join(dir, 'missing')) as NodeJS.ErrnoException).code).toBe('ENOENT')
  })

  it('refuses a file past the limit by its size, without reading it', async () => {
    const e = await refusal(path.join(dir, 'huge.bin'), {maxBytes: 2 ** 30})
    expect(e).toBeInstanceOf(FileTooLargeError)
    expect((e as FileTooLargeError).reason).toBe('file too large: 3 GiB exceeds the 1 GiB limit')
    // Exactly at the limit is fine; one byte over is not.
    expect((await readRegularFile(path.join(dir, 'plain.bin'), {maxBytes: 4})).length).toBe(4)
    expect((await refusal(path.join(dir, 'plain.bin'), {maxBytes: 3}) as FileTooLargeError).reason).toBe('file too large: 4 bytes exceeds the 3 bytes limit')
  })

  it('reads files that say size 0 and hold bytes (/proc), still bounded', async () => {
    const text = await readRegularText('/proc/self/status')
    expect(text).toMatch(/^Name:/)
    expect(await refusal('/proc/self/status', {maxBytes: 16})).toBeInstanceOf(FileTooLargeError)
  })
})

async function outputRefusal(p: Promise<void>): Promise<string> {
  const t0 = Date.now()
  const e = await p.then(
    () => new Error('accepted'),
    (err: Error) => err,
  )
  expect(Date.now() - t0).toBeLessThan(5000)
  expect(e).toBeInstanceOf(OutputPathError)
  return e.message
}

describe('prepareOutputFile / prepareOutputDir', () => {
  it('accept a regular file or a new path, making its folders', async () => {
    await prepareOutputFile(path.join(dir, 'plain.bin'))
    await prepareOutputFile(path.join(dir, 'new', 'deeper', 'out.csv'))
    expect(statSync(path.join(dir, 'new', 'deeper')).isDirectory()).toBe(true)
    expect(existsSync(path.join(dir, 'new', 'deeper', 'out.csv'))).toBe(false)
    await prepareOutputDir(path.join(dir, 'runs', 'a', 'b'))
    expect(statSync(path.join(dir, 'runs', 'a', 'b')).isDirectory()).toBe(true)
    await prepareOutputDir(path.join(dir, 'runs', 'a', 'b'))
  })

  it('refuse devices, FIFOs, sockets and folders as output files, naming what they are', async () => {
    expect(statSync('/dev/full').isCharacterDevice(), '/dev/full must be the full device (was it replaced by a file?)').toBe(true)
    expect(await outputRefusal(prepareOutputFile('/dev/full'))).toBe('--out /dev/full is a character device, not a regular file: poster writes only to regular files or new paths')
    expect(await outputRefusal(prepareOutputFile(path.join(dir, 'link-to-pipe'), '--out'))).toContain('is a FIFO, not a regular file')
    expect(await outputRefusal(prepareOutputFile(path.join(dir, 'sock')))).toContain('is a socket, not a regular file')
    expect(await outputRefusal(prepareOutputFile(path.join(dir, 'folder')))).toContain('is a folder, not a regular file')
    expect(await outputRefusal(prepareOutputFile(path.join(dir, 'plain.bin', 'x.csv')))).toContain('cannot be used (ENOTDIR)')
    expect(await outputRefusal(prepareOutputDir(path.join(dir, 'plain.bin'), '--overlay'))).toBe(`--overlay ${path.join(dir, 'plain.bin')} exists and is not a folder (a file)`)
    expect(await outputRefusal(prepareOutputDir('/dev/full'))).toBe('--out /dev/full exists and is not a folder (a character device)')
  })

  it('refuse /proc and /sys within milliseconds (Node\'s recursive mkdir loops forever there)', async () => {
    expect(await outputRefusal(prepareOutputFile('/proc/poster-test/deeper/out.csv'))).toBe(
      '--out /proc/poster-test/deeper/out.csv is on procfs (/proc), a kernel file system that holds no files: choose a path on a disk',
    )
    expect(await outputRefusal(prepareOutputDir('/proc/poster-run'))).toContain('is on procfs (/proc)')
    expect(await outputRefusal(prepareOutputFile('/proc/self/status'))).toContain('is on procfs (/proc)')
    expect(await outputRefusal(prepareOutputDir('/sys/kernel/poster-run', '--overlay'))).toContain('--overlay /sys/kernel/poster-run is on sysfs (/sys)')
    expect(existsSync('/proc/poster-test')).toBe(false)
  })
})

describe('openRegularFile', () => {
  it('opens a regular file and says its size; refuses a FIFO at once (an open would block forever)', async () => {
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {spawnSync} = await import('node:child_process')
    const {openRegularFile, NotRegularFileError} = await import('../src/files.js')
    const {sha256File, sha256Of} = await import('../src/basics.js')
    const dir = mkdtempSync(join(tmpdir(), 'poster-open-regular-'))
    const file = join(dir, 'a.bin')
    writeFileSync(file, 'hello')
    const {handle, stats} = await openRegularFile(file)
    expect(stats.size).toBe(5)
    await handle.close()
    expect(await sha256File(file)).toBe(sha256Of('hello'))
    const fifo = join(dir, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    await expect(openRegularFile(fifo)).rejects.toBeInstanceOf(NotRegularFileError)
    await expect(sha256File(fifo)).rejects.toThrow(/not a regular file \(a FIFO\)/)
    await expect(openRegularFile(dir)).rejects.toMatchObject({code: 'EISDIR'})
  })
})
