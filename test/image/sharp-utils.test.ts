import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {compositeSvgOnImage, configureSharp, decodeRaw, decodeRgb, encodePng, loadSharp, readImageSize, svgToPng, thumbnailJpegDataUri} from '../../src/image/sharp.js'
import {FIXTURES} from './helpers.js'

describe('sharp helpers', () => {
  it('loads sharp once with the cache off', async () => {
    const a = await loadSharp()
    const b = await loadSharp()
    expect(a).toBe(b)
    expect(a.cache().memory.max).toBe(0)
    await configureSharp({concurrency: 1})
    expect(a.concurrency()).toBe(1)
  })

  it('svgToPng renders at the SVG size, or at a requested size', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect x="0" y="0" width="40" height="30" fill="#ff0000"/></svg>'
    const png = await svgToPng(svg)
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    expect(await readImageSize(png)).toEqual({width: 40, height: 30, format: 'png'})
    const raw = await decodeRaw(png)
    expect(Array.from(raw.data.subarray(0, 3))).toEqual([255, 0, 0])
    expect(await readImageSize(await svgToPng(svg, {width: 80, height: 20}))).toMatchObject({width: 80, height: 20})
  })

  it('encodePng round-trips raw RGB and RGBA', async () => {
    const rgb = Uint8Array.from([1, 2, 3, 4, 5, 6])
    const back = await decodeRaw(await encodePng(rgb, 2, 1))
    expect([back.width, back.height, back.channels]).toEqual([2, 1, 3])
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4, 5, 6])
    const rgba = Uint8Array.from([1, 2, 3, 255, 4, 5, 6, 128])
    const back4 = await decodeRaw(await encodePng(rgba, 2, 1, 4))
    expect(Array.from(back4.data)).toEqual(Array.from(rgba))
    await expect(encodePng(rgb, 3, 1)).rejects.toThrow(RangeError)
  })

  it('compositeSvgOnImage draws in stored (unrotated) pixel coordinates', async () => {
    const path = join(FIXTURES, 'exif-rotated-160x120.jpg')
    const base = await decodeRgb(path)
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect x="0" y="0" width="10" height="10" fill="#00ff00"/></svg>'
    const png = await compositeSvgOnImage(path, svg)
    const out = await decodeRaw(png)
    expect([out.width, out.height]).toEqual([160, 120])
    expect(Array.from(out.data.subarray(0, 3))).toEqual([0, 255, 0])
    // Outside the rectangle the image is untouched.
    const i = (60 * 160 + 100) * out.channels
    const j = (60 * 160 + 100) * 3
    expect(Array.from(out.data.subarray(i, i + 3))).toEqual(Array.from(base.data.subarray(j, j + 3)))
  })

  it('thumbnailJpegDataUri fits the longest side and never enlarges', async () => {
    const uri = await thumbnailJpegDataUri(join(FIXTURES, 'large-1200x900.jpg'), 96)
    expect(uri.startsWith('data:image/jpeg;base64,')).toBe(true)
    const jpeg = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64')
    expect(await readImageSize(jpeg)).toEqual({width: 96, height: 72, format: 'jpeg'})
    const small = await thumbnailJpegDataUri(join(FIXTURES, 'small-57x75.png'), 96)
    expect(await readImageSize(Buffer.from(small.slice(small.indexOf(',') + 1), 'base64'))).toMatchObject({width: 57, height: 75})
  })
})
