/**
 * PBM / PGM / PPM decoding (src/image/netpbm.ts) against Pillow 9.4's `Image.open(f).convert('RGB')`: the binary
 * and plain variants in test/fixtures/image-extra pixel for pixel (maxval rescaling, 16-bit samples, comments),
 * a plain file larger than Pillow's 1 MiB read block, and the error cases.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {ImageError, REASON_NOT_IMAGE, REASON_TRUNCATED} from '../../src/image/errors.js'
import {decodeNetpbm, readNetpbmSize, sniffNetpbm} from '../../src/image/netpbm.js'
import {preprocessInto} from '../../src/image/preprocess.js'
import {DEFAULT_LIMIT_INPUT_PIXELS, decodeRgb, encodePng, readImageSize, SUPPORTED_FORMATS} from '../../src/image/sharp.js'
import {EXTRA_FIXTURES, extraExpected, toHex} from './extra-fixtures.js'
import {lcgBytes, sha256} from './helpers.js'

const EXPECTED = Object.entries(extraExpected()).filter(([name]) => /\.p[bgp]m$/.test(name))

function errorOf(fn: () => unknown): ImageError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError)
    return e as ImageError
  }
  throw new Error('expected an ImageError')
}

const decode = (text: string | Uint8Array, limitInputPixels = DEFAULT_LIMIT_INPUT_PIXELS) =>
  decodeNetpbm(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, {limitInputPixels, path: 'x.ppm'})

const grey = (img: {data: Uint8Array}) => Array.from(img.data.filter((_, i) => i % 3 === 0))

describe('netpbm decoding matches Pillow 9.4 convert("RGB")', () => {
  it('has fixtures for every variant', () => {
    expect(EXPECTED.length).toBe(15)
    expect(new Set(EXPECTED.map(([name]) => readFileSync(join(EXTRA_FIXTURES, name)).toString('latin1', 0, 2))))
      .toEqual(new Set(['P1', 'P2', 'P3', 'P4', 'P5', 'P6']))
  })

  for (const [name, exp] of EXPECTED) {
    it(`${name} (Pillow mode ${exp.mode}, ${exp.width}×${exp.height})`, async () => {
      const img = await decodeRgb(join(EXTRA_FIXTURES, name))
      expect([img.width, img.height]).toEqual([exp.width, exp.height])
      expect(toHex(img.data)).toBe(exp.rgb)
      expect(await readImageSize(join(EXTRA_FIXTURES, name))).toEqual({width: exp.width, height: exp.height, format: 'ppm'})
    })
  }

  it('rescales maxval < 255 with Python round (half to even) and clips samples above maxval', () => {
    // 1/2 * 255 = 127.5 -> 128 (even); 3/6 * 255 = 127.5 -> 128; 1/6 * 255 = 42.5 -> 42; 5/6*255 = 212.5 -> 212.
    expect(grey(decode('P5 4 1 2\n\x00\x01\x02\x07'))).toEqual([0, 128, 255, 255])
    expect(grey(decode('P2 4 1 6\n3 1 5 6\n'))).toEqual([128, 42, 212, 255])
  })

  it('16-bit PGM is Pillow mode I: clipped at 255, not scaled; 16-bit PPM is scaled', () => {
    expect(grey(decode('P5 3 1 65535\n\x00\xfe\x00\xff\x01\x00'))).toEqual([254, 255, 255])
    expect(Array.from(decode('P6 1 1 65535\n\x80\x00\xff\xff\x00\x01').data)).toEqual([128, 255, 0])
  })

  it('header comments, even inside a token, and exactly one whitespace after maxval', () => {
    const joined = decode(`P5\n# c\n2 1#x\n0 255 ${String.fromCharCode(...Array.from({length: 20}, (_, i) => i))}`)
    expect([joined.width, joined.height, grey(joined)[19]]).toEqual([2, 10, 19])
    expect(decode('P5 1#x\n0 1 255 \x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10').width).toBe(10)
    expect(grey(decode('P5 2 1 255\n\n\x05'))).toEqual([10, 5])
    expect(decode('P5 +2 1 2_55\n\x05\x06').width).toBe(2)
  })

  it('a plain file larger than Pillow\'s 1 MiB block, with a comment across the block boundary', () => {
    const n = 600
    const vals = lcgBytes(n * n, 99)
    let body = ''
    for (let i = 0; i < vals.length; i++) body += `${vals[i]}${i % n === n - 1 ? '\n' : ' '}`
    let k = 1048560
    while (body[k] !== ' ' && body[k] !== '\n') k++
    body = `${body.slice(0, k + 1)}#${'c'.repeat(40)}\n${body.slice(k + 1)}`
    const img = decode(`P2\n${n} ${n}\n255\n${body}`)
    // Pillow 9.4: sha256 of convert('RGB'), which is also the plain values.
    expect(sha256(img.data)).toBe('41c48c72f96762d89906bb98683f9a4814ad87abd7284a0e156a5542e466efa1')
  })

  it('sniffs P1..P6 followed by whitespace only', () => {
    expect(['P1 ', 'P6\n', 'P4\t', 'P5'].map((s) => sniffNetpbm(Buffer.from(s)))).toEqual([1, 6, 4, 5])
    expect(['P7 ', 'P0CMYK', 'P6x', 'Q6 ', 'P'].map((s) => sniffNetpbm(Buffer.from(s)))).toEqual([0, 0, 0, 0, 0])
    expect(readNetpbmSize(Buffer.from('P4 17 3\n'))).toEqual({width: 17, height: 3})
    expect(SUPPORTED_FORMATS).toContain('ppm')
  })
})

describe('netpbm errors', () => {
  it('truncated data or header', async () => {
    const p6 = readFileSync(join(EXTRA_FIXTURES, 'p6.ppm'))
    for (const cut of [p6.length - 1, 12, 6, 2]) {
      const e = errorOf(() => decode(p6.subarray(0, cut)))
      expect([cut, e.kind, e.reason, e.path]).toEqual([cut, 'truncated', REASON_TRUNCATED, 'x.ppm'])
    }
    await expect(decodeRgb(p6.subarray(0, p6.length - 1), {path: 'cut.ppm'})).rejects.toMatchObject({kind: 'truncated', path: 'cut.ppm'})
    expect(errorOf(() => decode('P4 9 2\n\x00\x00\x00')).kind).toBe('truncated')
    expect(errorOf(() => decode('P5 2 2 1000\n\x00\x01\x00\x02\x00\x03\x00')).kind).toBe('truncated')
    expect(errorOf(() => decode('P3 2 1 255\n1 2 3 4 5\n')).kind).toBe('truncated')
    expect(errorOf(() => decode('P1 3 2\n0 1 1\n')).kind).toBe('truncated')
  })

  it('bad header values and bad plain data: corrupt', () => {
    const cases: Array<[string, string]> = [
      ['P5 2 1 0\n\x00\x00', 'corrupt image: maxval 0 is not in 1..65535'],
      ['P5 2 1 65536\n\x00\x00\x00\x00', 'corrupt image: maxval 65536 is not in 1..65535'],
      ['P5 2x 1 255\n\x00\x00', 'corrupt image: invalid number in header'],
      ['P5 123456789012 1 255\n', 'corrupt image: header token too long'],
      ['P2 2 1 10\n3 11\n', 'corrupt image: sample 11 above maxval 10'],
      ['P2 2 1 10\n3 x\n', 'corrupt image: invalid number in data'],
      ['P1 2 1\n0 2\n', 'corrupt image: invalid character in PBM data'],
      ['P1 2 1\n0 1 trailing text\n', 'corrupt image: invalid character in PBM data'],
    ]
    for (const [text, reason] of cases) {
      const e = errorOf(() => decode(text))
      expect([text, e.kind, e.reason]).toEqual([text, 'corrupt', reason])
    }
  })

  it('zero or negative size: not an image; P7 and others are left to sharp (not an image)', async () => {
    for (const text of ['P6 0 3 255\n', 'P4 -1 3\n']) {
      expect(errorOf(() => decode(text))).toMatchObject({kind: 'unsupported', reason: REASON_NOT_IMAGE})
    }
    await expect(decodeRgb(Buffer.from('P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n\x01\x02\x03')))
      .rejects.toMatchObject({kind: 'unsupported', reason: REASON_NOT_IMAGE})
  })

  it('too large: checked before the data', async () => {
    await expect(decodeRgb(Buffer.from('P6\n50000 50000\n255\n'))).rejects.toMatchObject({
      kind: 'too-large', reason: `image too large: 50000×50000 exceeds the ${DEFAULT_LIMIT_INPUT_PIXELS}-pixel limit`,
    })
    expect(errorOf(() => decode('P5 40 30 255\n', 1199)).reason).toBe('image too large: 40×30 exceeds the 1199-pixel limit')
  })
})

describe('netpbm through the evaluation preprocessing', () => {
  it('preprocessInto gives the same tensor for a PPM as for the same pixels in a PNG', async () => {
    const [w, h] = [61, 37]
    const pixels = lcgBytes(w * h * 3, 5)
    const ppm = Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), pixels])
    const png = await encodePng(pixels, w, h)
    const size = 3 * 224 * 224
    const out = new Float32Array(2 * size)
    expect(await preprocessInto(ppm, out, 0)).toEqual({width: w, height: h})
    await preprocessInto(png, out, size)
    expect(out.subarray(0, size)).toEqual(out.subarray(size))
  })
})
