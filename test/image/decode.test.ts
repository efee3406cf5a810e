import {mkdtempSync, readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {rmSync} from 'node:fs'
import {ImageError, REASON_EMPTY, REASON_NOT_IMAGE, REASON_TRUNCATED} from '../../src/image/errors.js'
import {preprocessInto} from '../../src/image/preprocess.js'
import {DEFAULT_LIMIT_INPUT_PIXELS, decodeRgb, parseGifFirstFrame, readImageSize} from '../../src/image/sharp.js'
import {edgeCases} from './cases.js'
import {FIXTURES, sha256, writePng} from './helpers.js'

// Pillow 9.4: Image.open(f).convert('RGB') of each generated case (width, height, sha256, byte sum, Pillow mode).
const PILLOW: Record<string, [number, number, string, number, string]> = {
  'grey16.png': [13, 7, 'f015a07ccf5e0c636f6f564797a7863268185ead6540c4f850dd95028381b94b', 67587, 'I'],
  'grey16-trns.png': [13, 7, 'f015a07ccf5e0c636f6f564797a7863268185ead6540c4f850dd95028381b94b', 67587, 'I'],
  'rgb16.png': [13, 7, 'a6376a3d55b6ad76dd6e6451f6a0d956fcabe02f11ea72289cf0a65db2a00bc9', 35114, 'RGB'],
  'rgba16.png': [13, 7, 'da7ecfd5ea3cb595e62a73084e5e1e79a15aba9dab9fae6141d702cb072d120c', 34233, 'RGBA'],
  'la16.png': [13, 7, '0221aa52551fec1ca390afed350e7f8a0dd1c90860a6fa03df627f1b67510efe', 34467, 'RGBA'],
  'la8.png': [13, 7, 'ab400f97f8f5ed2ca275e51822b8ff083a8cdb8ec59d811055d6cac65ea05887', 31764, 'LA'],
  'rgba8.png': [13, 7, '95a23ffc9604363bafba0d8443c4b2bff5b4010bc544c121218899b26dbead82', 33120, 'RGBA'],
  'grey2.png': [13, 7, '8d4530ab4fabd09dee74c6ed40f80ceed508fc5962b9825fb901909e54d5ccb1', 37485, 'L'],
  'pal4-trns.png': [13, 7, 'db88224695973d25979c09edadfdc93c228c8f60289cd9bdcf44e9b97be22d1e', 29390, 'P'],
  'frame-trns.gif': [13, 7, 'f4ce337c7055e9660831b109ed69dbdb7bec931c66939dc5d2052761ad01adb4', 23703, 'P'],
  'frame-opaque.gif': [13, 7, '55835773e73894a058c4e9877e6147bbf484c43bdbea20a3381cb9fda6992fd4', 23955, 'P'],
  'local-palette-trns.gif': [13, 7, 'f79acb9d592d0dfb497e9d304a7e3660456bf04f135b1dc0e50fec2353389ca5', 27360, 'P'],
}

// A 23x17 CMYK JPEG written by Pillow 9.4 (Adobe marker, inverted CMYK).
const CMYK_JPEG_BASE64 =
  '/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUEBAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4LCxAWEBETFBUV' +
  'FQwPFxgWFBgSFBUU/8AAFAgAEQAXBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIB' +
  'AwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZH' +
  'SElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV' +
  '1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwB7atEnhPTk8JPqpu7vS3hXUfBa39/M7pFEs0Ury3glfyUu' +
  'UktVLokzWxVURSqNy/ijxkvgX4L3/hh7fxJefDu1vJYxZW12k8UdxahCivcYV7b97BcwBgxRltldEMyzB6ngy4k8T+G4rW08G6Zp' +
  'NzpEMNlp8XiKF1mtZ72wVViaCW4kjeOW3iW2Cv50oto1fBZRHJs6vr/j/TtaZPDHhe8069txqUVx4fgk8g3F9GiLcXYkSOCbzksW' +
  '2pcsZeJLAq0rTXBo1DxPbfD3TDqw0DUPAWvacs9x4eF6VVJJZI7aO5vpRbwqs/nRookW53xpJJb+W7QyM0dPRPHNx4d8Ix3Frplt' +
  '4c1OxnuNbvtPk0OXTo9QC6fbvd+bDDHKtvzDBKj7I4mlMvlxhraBzF4o8KW3jrxZc3Fjcm/8Z3lu17quh2d6lw9ndLGDcWfnxWkQ' +
  'aWHFpFJFEY3DXaLJugt8HK8C3epeJ7jXvEFt4cj8aQf27DNpXiDU2uJDaXUs9kbZYTPb7PNcSb/OZGMIaWQfJLskk8b+IvCRs08P' +
  '3X2/w3pdzZDU/EWpaNeJZ6u8kMsduLy/lmRUNwt3JPbNCEaPM0qsyS2scY7fxpo154NRtG0bxLqFh4ajmii1K+XXTIhlVJHghItL' +
  'Y3trclpbl28uB1lUF/kVpUh7bWpNX+GV5pOnXmsadofxA1rTpLjW9W0OCRLiwj+1y+UbNVLzS5aBoWdopJjCYw5VYm2yXng2407x' +
  '7e3GsQ6pH4XsvsVpf+C1meC8tYotOihs4zeBraOC23K8inKCVhs8t3RjDz/gi6nm0K9Vdc8TNaWNzFp9hrKaS08+l2aQNNDJaAX8' +
  'bW0dzAHJSSJjiaBVaRQpND4f+D/ENv4Sgnn0Xx1f+OdP0680eezsNZhtjp0zNCbLyyZVUaez+e+cGJWSPcj+UTHxHwV03UrX4m6t' +
  '/wAI/oM0DGCyeW71KeOUxXguSkCfard7g7rgyvJiMwcwht6Qxu8qad4Wt/G/iGPRPEVl5j+Gb2JLXSda0U20+028Vvb3Fwx+R5JD' +
  'Db2m3zWVkSHckcpMMu/4hvNS0XxDZt4kitb2TXZrp7WxspLfTr+2vv7QuLe3uPMLziZ3eZbdrhRCkcaRmJpAjpUmneDvEfw1udU0' +
  'XxX4ZvLjSJNMkt7HTjDNdW7yWsD3a2E1q928lxHBcpLOqh54rhN3ltAr3iybFzo1jL4qlura+t9T0fW1uLnS9X1y7+zfYmQX6Tn7' +
  'JOrXYjgSODBD7Y9yOqTpH5bwCytp/Bmk6D4Z1Y6Nos2i3utXV3NrEUK6bFZ3Ud0HguLJZjLFBK12kDsY1Vw2XkVljk39C+FPiHx1' +
  '8VYdG8Vaq+oaTeXMkutapPJb2F1cwQpeJafbDaHN68WLVcSMjQmZMQopFYGk+CtS0rRfC9/4M0u31e5v7G0sY59O0K11STT3a2a+' +
  'a3XTyhjdEjmDm6keNpTe7tjbUEeHpuiT2uj68PGkF54C1u+022S4h8KnVUFgEnjeOWNFt7lYS7S3EPkrGkKKGSMB0mCa3gH4heH9' +
  'D8Y6HpreGJNYtLtZ9Qi8asX1K+mt0a5imVWvLQGQxXbm2G9zIIgNwOFC8X4o/wCQd4m/7F/T/wD0q8J1k/Ez/kH+MP8Ae0n/ANJ7' +
  'qtPXv+Sz/An/ALHu6/8ASe3rqfjh/wAlW8Z/9gbwj/6lL1xvjL/krXwP/wCxEs//AETfV7DN/wAiT8QP+xw8Uf8AqFy1qfAf/kfP' +
  '2cf+xS0//wBCevGvj5/yQvxj/wBhOL/0dpleb+Mf+TPtQ/7BOj/+nvWa8l/4J1/8gX4Tf9jt4l/9MdnXqvxU/wCSzwf9gq7/APTl' +
  'PXunw2+540/689B/9Io6/9k='

const CMYK_PILLOW_RGB = {sha256: 'b337917088599a861e0a009f24975f1ba80e8725ed0f2cd857794f8de11b2a5f', sum: 75060}

const tmp = mkdtempSync(join(tmpdir(), 'poster-image-test-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

function sum(data: Uint8Array): number {
  let s = 0
  for (const v of data) s += v
  return s
}

describe('decodeRgb: Pillow convert("RGB") corner cases', () => {
  for (const c of edgeCases()) {
    it(`${c.name} (Pillow mode ${PILLOW[c.name]![4]})`, async () => {
      const [w, h, hash, total] = PILLOW[c.name]!
      const img = await decodeRgb(c.bytes)
      expect([img.width, img.height]).toEqual([w, h])
      expect(sum(img.data)).toBe(total)
      expect(sha256(img.data)).toBe(hash)
    })
  }

  it('16-bit grey clips to 255 (Pillow mode I), it does not scale', async () => {
    const c = edgeCases().find((e) => e.name === 'grey16.png')!
    const img = await decodeRgb(c.bytes)
    // first samples: 0, 1, 254, 255, 256, 65535
    expect(Array.from(img.data.subarray(0, 18))).toEqual([0, 0, 0, 1, 1, 1, 254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255])
  })

  it('CMYK JPEG uses Pillow\'s cmyk2rgb', async () => {
    const img = await decodeRgb(Buffer.from(CMYK_JPEG_BASE64, 'base64'))
    expect([img.width, img.height]).toEqual([23, 17])
    expect(sum(img.data)).toBe(CMYK_PILLOW_RGB.sum)
    expect(sha256(img.data)).toBe(CMYK_PILLOW_RGB.sha256)
  })

  it('ignores EXIF orientation', async () => {
    const img = await decodeRgb(join(FIXTURES, 'exif-rotated-160x120.jpg'))
    expect([img.width, img.height]).toEqual([160, 120])
    expect(await readImageSize(join(FIXTURES, 'exif-rotated-160x120.jpg'))).toEqual({width: 160, height: 120, format: 'jpeg'})
  })

  it('parses the first GIF frame header', () => {
    const c = edgeCases().find((e) => e.name === 'frame-trns.gif')!
    const info = parseGifFirstFrame(c.bytes)!
    expect(info).toMatchObject({transparency: 3, x: 2, y: 1, w: 7, h: 4})
    expect(info.palette!.length).toBe(24)
    expect(parseGifFirstFrame(Buffer.from('GIF89a'))).toBeNull()
  })
})

async function reasonOf(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError)
    return e as ImageError
  }
  throw new Error('expected an ImageError')
}

function bombPng(width: number, height: number): Buffer {
  return writePng({width, height, bitDepth: 8, colourType: 2, rows: [], idat: Uint8Array.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])})
}

function tinyBmp(): Buffer {
  // 2x1 24-bit BI_RGB bitmap.
  const b = Buffer.alloc(54 + 8)
  b.write('BM', 0, 'latin1')
  b.writeUInt32LE(b.length, 2)
  b.writeUInt32LE(54, 10)
  b.writeUInt32LE(40, 14)
  b.writeInt32LE(2, 18)
  b.writeInt32LE(1, 22)
  b.writeUInt16LE(1, 26)
  b.writeUInt16LE(24, 28)
  b.writeUInt32LE(8, 34)
  b.set([255, 0, 0, 0, 255, 0], 54)
  return b
}

describe('bad inputs give an ImageError with a readable reason', () => {
  it('missing file', async () => {
    const e = await reasonOf(decodeRgb(join(tmp, 'nope.jpg')))
    expect(e.kind).toBe('unreadable')
    expect(e.reason).toBe('cannot read file: ENOENT')
    expect(e.path).toBe(join(tmp, 'nope.jpg'))
    expect(e.message).toContain('nope.jpg')
  })

  it('a directory', async () => {
    mkdirSync(join(tmp, 'dir.jpg'))
    const e = await reasonOf(decodeRgb(join(tmp, 'dir.jpg')))
    expect(e.reason).toBe('cannot read file: EISDIR')
  })

  it('empty file', async () => {
    writeFileSync(join(tmp, 'empty.jpg'), '')
    const e = await reasonOf(decodeRgb(join(tmp, 'empty.jpg')))
    expect(e.kind).toBe('empty')
    expect(e.reason).toBe(REASON_EMPTY)
    expect((await reasonOf(decodeRgb(new Uint8Array(0)))).reason).toBe('empty file')
  })

  it('truncated JPEG (first half of a fixture)', async () => {
    const full = readFileSync(join(FIXTURES, 'wide-640x480.jpg'))
    writeFileSync(join(tmp, 'half.jpg'), full.subarray(0, full.length >> 1))
    const e = await reasonOf(decodeRgb(join(tmp, 'half.jpg')))
    expect(e.kind).toBe('truncated')
    expect(e.reason).toBe(REASON_TRUNCATED)
    // Pillow also refuses a JPEG missing only its last bytes.
    expect((await reasonOf(decodeRgb(full.subarray(0, full.length - 2)))).reason).toBe('truncated image')
  })

  it('truncated PNG', async () => {
    const full = readFileSync(join(FIXTURES, 'square-224.png'))
    const e = await reasonOf(decodeRgb(full.subarray(0, full.length >> 1)))
    expect(e.reason).toBe(REASON_TRUNCATED)
  })

  it('a text file named .jpg', async () => {
    writeFileSync(join(tmp, 'notes.jpg'), 'these are not pixels\n')
    const e = await reasonOf(decodeRgb(join(tmp, 'notes.jpg')))
    expect(e.kind).toBe('unsupported')
    expect(e.reason).toBe(REASON_NOT_IMAGE)
  })

  it('formats Pillow reads but sharp does not (BMP: decoded in TypeScript), and the reverse', async () => {
    expect(await decodeRgb(tinyBmp())).toEqual({width: 2, height: 1, data: Uint8Array.from([0, 0, 255, 0, 255, 0])})
    const jpegInBmp = tinyBmp()
    jpegInBmp.writeUInt32LE(4, 30) // BI_JPEG
    expect((await reasonOf(decodeRgb(jpegInBmp))).reason).toBe('unsupported image format: bmp (JPEG compression)')
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'
    expect((await reasonOf(decodeRgb(Buffer.from(svg)))).reason).toBe('unsupported image format: svg')
  })

  it('a decompression bomb (small PNG declaring 50000x50000)', async () => {
    const bomb = bombPng(50_000, 50_000)
    expect(bomb.length).toBeLessThan(100)
    writeFileSync(join(tmp, 'bomb.png'), bomb)
    const e = await reasonOf(decodeRgb(join(tmp, 'bomb.png')))
    expect(e.kind).toBe('too-large')
    expect(e.reason).toBe(`image too large: 50000×50000 exceeds the ${DEFAULT_LIMIT_INPUT_PIXELS}-pixel limit`)
    expect(DEFAULT_LIMIT_INPUT_PIXELS).toBe(178_956_970)
  })

  it('a configurable pixel limit', async () => {
    const e = await reasonOf(preprocessInto(join(FIXTURES, 'wide-640x480.jpg'), new Float32Array(3 * 224 * 224), 0, {limitInputPixels: 1000}))
    expect(e.reason).toBe('image too large: 640×480 exceeds the 1000-pixel limit')
    await expect(decodeRgb(join(FIXTURES, 'wide-640x480.jpg'), {limitInputPixels: 640 * 480})).resolves.toMatchObject({width: 640})
  })

  it('a corrupt PNG (bad compressed data, complete file)', async () => {
    const bad = writePng({width: 4, height: 4, bitDepth: 8, colourType: 2, rows: [], idat: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9])})
    const e = await reasonOf(decodeRgb(bad, {path: 'bad.png'}))
    expect(['corrupt', 'truncated']).toContain(e.kind)
    expect(e.path).toBe('bad.png')
  })

  it('readImageSize reports errors the same way', async () => {
    writeFileSync(join(tmp, 'notes2.jpg'), 'hello')
    expect((await reasonOf(readImageSize(join(tmp, 'notes2.jpg')))).reason).toBe(REASON_NOT_IMAGE)
    expect((await reasonOf(readImageSize(join(tmp, 'missing.png')))).reason).toBe('cannot read file: ENOENT')
    expect(await readImageSize(bombPng(50_000, 50_000))).toEqual({width: 50_000, height: 50_000, format: 'png'})
  })
})
