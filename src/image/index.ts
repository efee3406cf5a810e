/** Public surface of the image module (sharp itself is only loaded on first decode). */
export {ImageError, isImageError, REASON_EMPTY, REASON_NOT_IMAGE, REASON_TRUNCATED, type ImageErrorKind} from './errors.js'
export type {RawImage, RgbImage} from './types.js'
export {
  compositeSvgOnImage, configureSharp, decodeRaw, decodeRgb, DEFAULT_LIMIT_INPUT_PIXELS, encodePng, loadSharp,
  readImageSize, SUPPORTED_FORMATS, svgToPng, thumbnailJpegDataUri,
  type DecodeOptions, type ImageSize, type SharpConfig, type SvgToPngOptions,
} from './sharp.js'
export {clearCoeffCache, computeCoeffs, getCoeffs, pillowResize, type ResampleCoeffs, type ResampleFilter, type ResizeOptions} from './pillow-resize.js'
export {buildNormalizeLut, IMAGENET_MEAN, IMAGENET_STD, normalizeValue, toTensor, toTensorInto, type ToTensorOptions} from './to-tensor.js'
export {
  INPUT_SIZE, PREPROCESS, preprocess, preprocessInto, preprocessRgbInto, resizeForModel,
  type PreprocessOptions, type PreprocessResult,
} from './preprocess.js'
export {benchPreprocess, benchResize, type PreprocessBenchOptions, type PreprocessBenchResult} from './bench.js'
