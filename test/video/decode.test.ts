import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cleanMessage, parseInfoLine, readVideo, selectExpression, type VideoInfo} from '../../src/video/decode.js'
import {FfmpegMissingError, findFfmpeg, parseVersion, passthroughArgs} from '../../src/video/ffmpeg.js'
import {cleanupTmp, tmpDir} from '../helpers/predict-fixtures.js'
import {makeClip} from '../helpers/video-clips.js'

let work: string

beforeAll(async () => {
  work = tmpDir('poster-decode-')
  // Frame n is grey level 10·n: its pixels say which frame it is.
  await makeClip(path.join(work, 'grey.mkv'), {width: 32, height: 24, frames: 20, fps: 10, codec: 'lossless', draw: (n) => [10 * n, 10 * n, 10 * n]})
  await makeClip(path.join(work, 'big.mp4'), {width: 640, height: 480, frames: 30, fps: 30, draw: (n) => [8 * n, 100, 100]})
}, 60_000)
afterAll(() => cleanupTmp())

async function collect(file: string, opts: Parameters<typeof readVideo>[1]) {
  const r = readVideo(file, opts)
  const frames = []
  for await (const f of r.frames()) frames.push(f)
  return {frames, end: await r.end}
}

describe('selectExpression', () => {
  it('says what ffmpeg evaluates', () => {
    expect(selectExpression({kind: 'all'})).toBe('1')
    expect(selectExpression({kind: 'every', every: 4})).toBe('not(mod(n,4))')
    expect(selectExpression({kind: 'fps', fps: 2.5})).toBe('isnan(prev_t)+gt(floor(t*2.5+0.000001),floor(prev_t*2.5+0.000001))')
    expect(selectExpression({kind: 'every', every: 4}, 11)).toBe('(not(mod(n,4)))*gt(n,11)')
  })
})

describe('ffmpeg log parsing', () => {
  it('reads the input header', () => {
    const info: VideoInfo = {}
    parseInfoLine('[info]   Duration: 01:02:03.50, start: 0.000000, bitrate: 52 kb/s', info)
    parseInfoLine('[info]     Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 640x480 [SAR 1:1 DAR 4:3], 49 kb/s, 29.97 fps, 30 tbr, 15360 tbn, 60 tbc (default)', info)
    parseInfoLine('[info]     Stream #0:1(und): Video: mjpeg, yuvj420p, 100x100, 90k tbr, 90k tbn', info)
    expect(info).toEqual({duration: 3723.5, codec: 'h264', width: 640, height: 480, fps: 29.97})
  })

  it('drops prefixes and the file name from messages', () => {
    expect(cleanMessage('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1f10fec0] [error] moov atom not found', 'file:/x.mp4')).toBe('moov atom not found')
    expect(cleanMessage('[error] file:/x.mp4: Invalid data found when processing input', 'file:/x.mp4')).toBe('Invalid data found when processing input')
  })

  it('reads versions and picks the passthrough option the build knows', () => {
    const old = parseVersion('ffmpeg version N-47683-g0e8eb07980-static https://x\nlibavfilter     7. 46.101 /  7. 46.101\n')
    expect(old).toEqual({version: 'N-47683-g0e8eb07980-static', libavfilter: [7, 46]})
    expect(passthroughArgs({path: 'ffmpeg', source: 'PATH', ...old})).toEqual(['-vsync', 'passthrough'])
    const v6 = parseVersion('ffmpeg version 6.1.1-3ubuntu5 Copyright\nlibavfilter     9. 12.100 /  9. 12.100\n')
    expect(passthroughArgs({path: 'ffmpeg', source: 'PATH', ...v6})).toEqual(['-fps_mode', 'passthrough'])
  })
})

describe('findFfmpeg', () => {
  it('uses the bundled binary by default, POSTER_FFMPEG when set, and says what is wrong with a bad one', async () => {
    const b = await findFfmpeg({...process.env, POSTER_FFMPEG: undefined})
    expect(['bundled', 'PATH']).toContain(b.source)
    const chosen = await findFfmpeg({...process.env, POSTER_FFMPEG: b.path})
    expect(chosen).toMatchObject({source: 'POSTER_FFMPEG', path: b.path})
    await expect(findFfmpeg({...process.env, POSTER_FFMPEG: path.join(work, 'nope')})).rejects.toThrow(FfmpegMissingError)
    await expect(findFfmpeg({...process.env, POSTER_FFMPEG: path.join(work, 'nope')})).rejects.toThrow(/POSTER_FFMPEG=.*nope is not an executable/)
  })
})

describe('readVideo', () => {
  it('streams every frame with its number, time and exact pixels', async () => {
    const {frames, end} = await collect(path.join(work, 'grey.mkv'), {sampling: {kind: 'all'}})
    expect(frames.map((f) => f.index)).toEqual([...Array(20).keys()])
    expect(frames.map((f) => f.time)).toEqual([...Array(20).keys()].map((n) => n / 10))
    for (const f of frames) {
      expect([f.width, f.height, f.data.length]).toEqual([32, 24, 32 * 24 * 3])
      expect(f.data.every((v) => v === 10 * f.index)).toBe(true)
    }
    expect(end).toMatchObject({frames: 20, error: undefined, info: {codec: 'h264', width: 32, height: 24, fps: 10}})
    expect(end.cpuSeconds).toBeGreaterThan(0)
  })

  it('times count from the start of the file, as players show them, whatever timestamp the file starts at', async () => {
    for (const [name, offset] of [['offset.ts', '5'], ['offset.mkv', '3.5']] as const) {
      const file = path.join(work, name)
      await makeClip(file, {width: 32, height: 24, frames: 6, fps: 10, outputArgs: ['-output_ts_offset', offset], draw: (n) => [10 * n, 0, 0]})
      const {frames} = await collect(file, {sampling: {kind: 'all'}})
      expect(frames.map((f) => f.index), name).toEqual([0, 1, 2, 3, 4, 5])
      frames.forEach((f) => expect(f.time, name).toBeCloseTo(f.index / 10, 9))
    }
  })

  it('after N: only later frames, numbered as in a full read', async () => {
    const {frames} = await collect(path.join(work, 'grey.mkv'), {sampling: {kind: 'every', every: 3}, after: 7})
    expect(frames.map((f) => f.index)).toEqual([9, 12, 15, 18])
    expect(frames.map((f) => f.data[0])).toEqual([90, 120, 150, 180])
  })

  it('keeps at most a few frames buffered while the consumer is slow (ffmpeg is paused, nothing is lost)', async () => {
    // 30 frames of 921,600 bytes: 27 MB if ffmpeg ran ahead; one frame (plus the pipe's last chunk) when paused.
    const r = readVideo(path.join(work, 'big.mp4'), {sampling: {kind: 'all'}, bufferFrames: 1})
    const seen: number[] = []
    let most = 0
    for await (const f of r.frames()) {
      seen.push(f.index)
      await new Promise((res) => setTimeout(res, 20))
      most = Math.max(most, (r as unknown as {buffered: number}).buffered)
    }
    expect(seen).toEqual([...Array(30).keys()])
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(640 * 480 * 3 + 65536)
  })

  it('stopping early stops ffmpeg', async () => {
    const r = readVideo(path.join(work, 'grey.mkv'), {sampling: {kind: 'all'}})
    for await (const f of r.frames()) if (f.index === 2) break
    expect((await r.end).frames).toBe(3)
  })

  it('unreadable files: ffmpeg\'s reason', async () => {
    writeFileSync(path.join(work, 'text.mp4'), 'not a video\n')
    writeFileSync(path.join(work, 'empty.mkv'), '')
    expect((await collect(path.join(work, 'text.mp4'), {sampling: {kind: 'all'}})).end).toMatchObject({frames: 0, error: 'moov atom not found; Invalid data found when processing input'})
    expect((await collect(path.join(work, 'empty.mkv'), {sampling: {kind: 'all'}})).end.error).toMatch(/Invalid data found|End of file/)
    expect((await collect(path.join(work, 'missing.mp4'), {sampling: {kind: 'all'}})).end.error).toBe('No such file or directory')
  })

  it('a file whose name is not valid UTF-8 is read through a descriptor', async () => {
    const {readFileSync} = await import('node:fs')
    const raw = Buffer.concat([Buffer.from(path.join(work, 'caf')), Buffer.from([0xe9]), Buffer.from('.mkv')])
    writeFileSync(raw, readFileSync(path.join(work, 'grey.mkv')))
    const {frames, end} = await collect('shown-name.mkv', {sampling: {kind: 'every', every: 10}, rawPath: raw})
    expect(frames.map((f) => f.index)).toEqual([0, 10])
    expect(end.error).toBeUndefined()
  })
})
