/** Decoded 8-bit RGB pixels, row-major, interleaved (HWC): `data.length === width * height * 3`. */
export interface RgbImage {
  width: number
  height: number
  data: Uint8Array
}

/** Decoded 8-bit pixels with 1 to 4 interleaved channels. */
export interface RawImage {
  width: number
  height: number
  channels: number
  data: Uint8Array
}
