/**
 * GIF as Pillow 9.4 opens it (GifImagePlugin), on top of libvips' rendering of the first frame:
 * - the image size is the logical screen's, grown to hold the first frame (max(screen, frame's right/bottom edge)),
 *   and that size meets Pillow's decompression-bomb check (Image.open raises past 2 × MAX_IMAGE_PIXELS). libvips'
 *   GIF reader (libnsgif) replaces "suspicious" screens (0 wide or high, wider or higher than 2048, 640×480,
 *   800×600 and a few more) by the frames' extent, so a 65535×65535 screen around a 1×1 frame decodes as 1×1
 *   there, where Pillow refuses it; and a 640×480 screen gives a 640×480 image in Pillow. Both canvases start at
 *   (0, 0), so libvips' pixels are placed into Pillow's canvas as they are;
 * - pixels that are transparent, or outside the first frame's rectangle, take the colour of palette entry
 *   `transparency` (or 0), as Pillow's palette lookup gives them.
 */

export interface GifFrameInfo {
  /** The logical screen size (header bytes 6-9). */
  screenWidth: number
  screenHeight: number
  /** Colour table that applies to the first frame (local, else global), RGB triplets; null if none. */
  palette: Uint8Array | null
  transparency: number | null
  x: number
  y: number
  w: number
  h: number
}

/** Reads the GIF header up to the first image descriptor (no LZW decoding). */
export function parseGifFirstFrame(buf: Uint8Array): GifFrameInfo | null {
  if (buf.length < 13) return null
  const u16 = (o: number) => buf[o]! | (buf[o + 1]! << 8)
  let p = 13
  const flags = buf[10]!
  let globalPalette: Uint8Array | null = null
  if (flags & 0x80) {
    const n = 3 << ((flags & 7) + 1)
    globalPalette = buf.subarray(p, p + n)
    p += n
  }
  let transparency: number | null = null
  const skipBlocks = () => {
    while (p < buf.length) {
      const len = buf[p++]!
      if (len === 0) return
      p += len
    }
  }
  while (p < buf.length) {
    const tag = buf[p++]!
    if (tag === 0x21) {
      const label = buf[p++]!
      if (label === 0xf9 && buf[p] !== undefined && buf[p]! >= 4) {
        const gflags = buf[p + 1]!
        if (gflags & 1) transparency = buf[p + 4]!
      }
      skipBlocks()
    } else if (tag === 0x2c) {
      if (p + 9 > buf.length) return null
      const x = u16(p)
      const y = u16(p + 2)
      const w = u16(p + 4)
      const h = u16(p + 6)
      const iflags = buf[p + 8]!
      p += 9
      let palette = globalPalette
      if (iflags & 0x80) {
        const n = 3 << ((iflags & 7) + 1)
        palette = buf.subarray(p, p + n)
      }
      return {screenWidth: u16(6), screenHeight: u16(8), palette, transparency, x, y, w, h}
    } else if (tag === 0x3b) {
      return null
    }
    // Anything else: Pillow skips the byte and goes on.
  }
  return null
}

/** The size Pillow gives the image: the logical screen, grown to hold the first frame. */
export function pillowGifSize(info: GifFrameInfo): {width: number; height: number} {
  return {width: Math.max(info.screenWidth, info.x + info.w), height: Math.max(info.screenHeight, info.y + info.h)}
}

/**
 * Pillow's first frame as RGB, `width` × `height` (pillowGifSize), from libvips' RGBA rendering (`vw` × `vh`, the
 * same origin): inside the first frame's rectangle and libvips' canvas, libvips' pixel unless it is transparent;
 * everywhere else the colour of palette entry `transparency` (or 0).
 */
export function gifToRgb(rgba: Uint8Array, vw: number, vh: number, info: GifFrameInfo | null, width = vw, height = vh): Uint8Array {
  const out = new Uint8Array(width * height * 3)
  let fill: [number, number, number] = [0, 0, 0]
  if (info !== null) {
    const idx = info.transparency ?? 0
    const pal = info.palette
    fill = pal !== null && idx * 3 + 2 < pal.length ? [pal[idx * 3]!, pal[idx * 3 + 1]!, pal[idx * 3 + 2]!] : [idx, idx, idx]
  }
  if (fill[0] !== 0 || fill[1] !== 0 || fill[2] !== 0) {
    for (let o = 0; o < out.length; o += 3) {
      out[o] = fill[0]
      out[o + 1] = fill[1]
      out[o + 2] = fill[2]
    }
  }
  // The part of the frame that both canvases hold.
  const fx0 = Math.min(info?.x ?? 0, width)
  const fy0 = Math.min(info?.y ?? 0, height)
  const fx1 = Math.min(info === null ? width : info.x + info.w, width, vw)
  const fy1 = Math.min(info === null ? height : info.y + info.h, height, vh)
  for (let y = fy0; y < fy1; y++) {
    for (let x = fx0, i = (y * vw + x) * 4, o = (y * width + x) * 3; x < fx1; x++, i += 4, o += 3) {
      if (rgba[i + 3] === 0) continue
      out[o] = rgba[i]!
      out[o + 1] = rgba[i + 1]!
      out[o + 2] = rgba[i + 2]!
    }
  }
  return out
}
