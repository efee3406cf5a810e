/**
 * What Pillow 9.4 says about a JPEG's markers after its image data, where libvips says nothing.
 *
 * Both decode with libjpeg(-turbo), and both go on when the entropy-coded data of a scan stops early at a marker
 * (a run of 0xFF bytes followed by anything but 0x00 is one): the rest of the image is filled in and libjpeg warns.
 * They part afterwards: Pillow calls jpeg_finish_decompress (and, for progressive files, jpeg_start_decompress
 * reads every scan up to EOI), which reads the markers that follow, and libjpeg's fatal errors there become
 * Pillow's "broken data stream when reading image file"; libvips stops reading after the last row. So a JPEG whose
 * data holds `FF FF FF 12` decodes "ok" in libvips and is refused by Pillow. This module walks the markers from
 * the first scan on, as libjpeg's marker reader does (jdmarker.c: next_marker, read_markers, get_sos, get_dht,
 * get_dqt, get_dri; jdinput.c: a second SOS in a single-scan file), and returns Pillow's verdict:
 * - the entropy data of a scan ends at the first 0xFF (after any 0xFF fill bytes) not followed by 0x00, RSTn or
 *   TEM (libjpeg steps over those in data and between markers alike);
 * - fatal after that: SOI or any SOFn again, a marker libjpeg does not know (0x02-0xBF, 0xDE, 0xDF, 0xF0-0xFD), a
 *   second scan in a single-scan file, a DRI not 4 bytes long, a DHT, DQT or DAC whose tables do not fill its
 *   length exactly (or name a table index past the last, or DC bounds the wrong way round), an SOS whose length does not match its component count or that names a
 *   component the frame lacks;
 * - where the file ends first: a single-scan JPEG is fine (Pillow's decoder has all its rows; libjpeg suspends and
 *   Pillow stops), and Pillow only sees the bytes it has been fed by then, 64 KiB at a time; a progressive one is
 *   left to the decoder's own verdict (truncated).
 * Headers before the first scan are read alike by both, so they are not looked at here.
 */

/** Pillow's ImageFile.load feeds the decoder this many bytes at a time (ImageFile.decodermaxblock). */
const PILLOW_BLOCK = 65536

/** The reason Pillow refuses the file with, or undefined when Pillow decodes it (or this cannot tell). */
export function pillowJpegRefusal(buf: Uint8Array): string | undefined {
  const r = walk(buf)
  return r === undefined ? undefined : `corrupt image: broken data stream (${r})`
}

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xcc
const stepsOver = (m: number) => m === 0x00 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)

interface Frame {
  progressive: boolean
  components: number[]
}

function walk(buf: Uint8Array): string | undefined {
  const n = buf.length
  const u16 = (o: number) => (buf[o]! << 8) | buf[o + 1]!
  if (n < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return undefined
  // Headers up to the first SOS: only the frame (SOF) is needed.
  let p = 2
  let frame: Frame | undefined
  for (;;) {
    const m = nextMarker(buf, p, n)
    if (m === undefined) return undefined
    p = m.at + 1
    const code = m.code
    if (code === 0xd9 || code === 0xd8 || stepsOver(code)) {
      if (code === 0xd9) return undefined
      continue
    }
    if (p + 2 > n) return undefined
    const len = u16(p)
    if (isSof(code) && p + 8 <= n) {
      const count = buf[p + 7]!
      const components: number[] = []
      for (let i = 0; i < count && p + 8 + 3 * i < n; i++) components.push(buf[p + 8 + 3 * i]!)
      frame = {progressive: code === 0xc2 || code === 0xc6 || code === 0xca || code === 0xce, components}
    }
    if (code === 0xda) break
    p += len
  }
  if (!frame) return undefined
  // p is at the first SOS's length.
  const firstScanComponents = buf[p + 2] ?? 0
  const multiScan = frame.progressive || firstScanComponents < frame.components.length
  let scanAt = p
  for (;;) {
    // Entropy data from after the SOS header to its terminating marker.
    const dataStart = scanAt + u16(scanAt)
    const end = findTerminator(buf, dataStart, n)
    if (end === undefined) return undefined // the data runs to the end of the file: the decoder says truncated
    // What Pillow has been fed when its decoder meets that marker (single-scan files are read as rows come).
    const avail = multiScan ? n : Math.min(n, PILLOW_BLOCK * Math.ceil((end.at + 1) / PILLOW_BLOCK))
    const next = afterScan(buf, end.at, avail, frame, multiScan)
    if (typeof next === 'string') return next
    if (next === undefined) return undefined
    scanAt = next.sosLength
  }
}

/** The marker at or after `p` as libjpeg's next_marker finds it: garbage, FF 00, RSTn and TEM stepped over. */
function nextMarker(buf: Uint8Array, p: number, n: number): {at: number; code: number} | undefined {
  for (;;) {
    const ff = buf.indexOf(0xff, p)
    if (ff < 0 || ff >= n) return undefined
    p = ff
    while (p < n && buf[p] === 0xff) p++
    if (p >= n) return undefined
    const code = buf[p]!
    if (code === 0x00) {
      p++
      continue
    }
    return {at: p, code}
  }
}

/** The first marker that ends a scan's entropy data (RSTn, TEM and stuffed zeros are part of it). */
function findTerminator(buf: Uint8Array, p: number, n: number): {at: number; code: number} | undefined {
  for (;;) {
    const m = nextMarker(buf, p, n)
    if (m === undefined) return undefined
    if (!stepsOver(m.code)) return m
    p = m.at + 1
  }
}

/**
 * read_markers after a scan, from the marker code at `at`, seeing bytes below `avail`: a fatal error's words, the
 * next scan's SOS (multi-scan files), or undefined for EOI or for running out of bytes (libjpeg suspends).
 */
function afterScan(buf: Uint8Array, at: number, avail: number, frame: Frame, multiScan: boolean): string | {sosLength: number} | undefined {
  const u16 = (o: number) => (buf[o]! << 8) | buf[o + 1]!
  let code = buf[at]!
  let p = at + 1
  for (;;) {
    if (code === 0xd9) return undefined
    if (code === 0xd8) return 'a second SOI marker'
    if (isSof(code)) {
      // Baseline, extended, progressive (Huffman or arithmetic): get_sof reads 8 bytes, then finds SOF seen already.
      // The other SOFn (lossless, hierarchical, JPG) are refused as soon as they are met.
      if ([0xc0, 0xc1, 0xc2, 0xc9, 0xca].includes(code) && p + 8 > avail) return undefined
      return `a second SOF marker (0x${code.toString(16)})`
    }
    const known = stepsOver(code) || code === 0xc4 || code === 0xcc || (code >= 0xda && code <= 0xdd) || (code >= 0xe0 && code <= 0xef) || code === 0xfe
    if (!known) return `unknown JPEG marker 0x${code.toString(16).padStart(2, '0')}`
    if (!stepsOver(code)) {
      if (p + 2 > avail) return undefined
      const len = u16(p)
      if (code === 0xda) {
        if (p + 3 > avail) return undefined
        const count = buf[p + 2]!
        if (len !== count * 2 + 6 || count > 4 || (count === 0 && !frame.progressive)) return 'an SOS marker of the wrong length'
        if (p + len > avail) return undefined
        const named: number[] = []
        for (let i = 0; i < count; i++) {
          const id = buf[p + 3 + 2 * i]!
          if (!frame.components.slice(0, 4).includes(id) || named.includes(id)) return 'an SOS marker naming a component the frame lacks'
          named.push(id)
        }
        if (!multiScan) return 'a second scan in a single-scan JPEG'
        return {sosLength: p}
      }
      if (code === 0xdd) {
        if (len !== 4) return 'a DRI marker of the wrong length'
        if (p + 4 > avail) return undefined
      } else if (code === 0xc4) {
        const bad = checkDht(buf, p, len, avail)
        if (bad !== 'ok') return bad
      } else if (code === 0xdb) {
        const bad = checkDqt(buf, p, len, avail)
        if (bad !== 'ok') return bad
      } else if (code === 0xcc) {
        const bad = checkDac(buf, p, len, avail)
        if (bad !== 'ok') return bad
      }
      // APPn, COM, DNL: skipped by length (libjpeg's skip_variable), whatever it is.
      p += Math.max(len, 2)
    }
    const m = nextMarker(buf, p, avail)
    if (m === undefined) return undefined
    code = m.code
    p = m.at + 1
  }
}

/** get_dht: tables of 1 + 16 + count bytes while more than 16 remain, then exactly nothing left. */
function checkDht(buf: Uint8Array, p: number, len: number, avail: number): string | undefined | 'ok' {
  let length = len - 2
  let q = p + 2
  while (length > 16) {
    if (q + 17 > avail) return undefined
    const index = buf[q]!
    let count = 0
    for (let i = 1; i <= 16; i++) count += buf[q + i]!
    length -= 17
    if (count > 256 || count > length) return 'a bad Huffman table'
    if (q + 17 + count > avail) return undefined
    if ((index & 0x0f) >= 4 || (index & 0xe0) !== 0) return 'a bad Huffman table index'
    q += 17 + count
    length -= count
  }
  if (length !== 0) return 'a DHT marker of the wrong length'
  return q > avail ? undefined : 'ok'
}

/** get_dqt (libjpeg-turbo): per table 1 byte, then 64 values of 1 or 2 bytes (fewer if the length runs out). */
function checkDqt(buf: Uint8Array, p: number, len: number, avail: number): string | undefined | 'ok' {
  let length = len - 2
  let q = p + 2
  while (length > 0) {
    length--
    if (q + 1 > avail) return undefined
    const n = buf[q]!
    const prec = n >> 4
    if ((n & 0x0f) >= 4) return 'a bad quantisation table index'
    q++
    const count = prec ? (length < 128 ? length >> 1 : 64) : length < 64 ? length : 64
    const bytes = count * (prec ? 2 : 1)
    q += bytes
    length -= bytes
  }
  if (length !== 0) return 'a DQT marker of the wrong length'
  return q > avail ? undefined : 'ok'
}

/** get_dac: (index, value) pairs, index below 32, a DC table's lower bound not above its upper one. */
function checkDac(buf: Uint8Array, p: number, len: number, avail: number): string | undefined | 'ok' {
  let length = len - 2
  let q = p + 2
  while (length > 0) {
    if (q + 2 > avail) return undefined
    const index = buf[q]!
    const val = buf[q + 1]!
    q += 2
    length -= 2
    if (index >= 32) return 'a bad arithmetic-coding table index'
    if (index < 16 && (val & 0x0f) > val >> 4) return 'a bad arithmetic-coding DC value'
  }
  if (length !== 0) return 'a DAC marker of the wrong length'
  return 'ok'
}
