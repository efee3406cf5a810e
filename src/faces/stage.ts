/**
 * The face stage, the one entry eval, predict and video call: decoded image in, crops for the model out.
 *
 *   whole   the image is the face (RAF-DB's aligned crops; the paper's input)
 *   box     the dataset's annotated box, cropped exactly as PIL's Image.crop (AffectNet's CSV release)
 *   detect  every face BlazeFace finds, aligned to RAF-DB's template (align.ts), left to right
 *
 * Each crop carries the map from its normalised coordinates back to the original image (for the 68 landmarks)
 * and the fields of its CSV columns.
 */
import type {RgbImage} from '../image/types.js'
import {alignFace, RAFDB_ALIGNED_SIZE, RAFDB_TEMPLATE} from './align.js'
import {cropBox, FaceBoxError} from './box.js'
import {FaceDetector, type DetectorOptions} from './detect.js'
import type {FaceCrop, FaceStage, FacesMode, FaceSource} from './types.js'

export interface FaceStageOptions {
  mode: FacesMode
  /** detect: side of the aligned crop (default 100, as RAF-DB's aligned images). */
  size?: number
  detector?: DetectorOptions
}

/** The whole image is the face. */
export function wholeImageStage(): FaceStage {
  return {
    mode: 'whole',
    async crops(image) {
      return [{image, toOriginal: [image.width, 0, 0, 0, image.height, 0]}]
    },
    identity: () => ({faces: 'whole'}),
    release: async () => {},
  }
}

/** The dataset's annotated box. */
export function boxStage(): FaceStage {
  return {
    mode: 'box',
    async crops(image, source) {
      if (source.boxError) throw new FaceBoxError(source.boxError)
      if (!source.box) throw new FaceBoxError('no face box for this image in the dataset')
      const {image: crop, left, top} = cropBox(image, source.box)
      return [
        {
          image: crop,
          toOriginal: [crop.width, 0, left, 0, crop.height, top],
          face: {index: 0, count: 1, box: {...source.box}},
        },
      ]
    },
    identity: () => ({faces: 'box', crop: 'PIL Image.crop((x, y, x + w, y + h))'}),
    release: async () => {},
  }
}

/** Every detected face, aligned. */
export async function detectStage(opts: {size?: number; detector?: DetectorOptions} = {}): Promise<FaceStage> {
  const detector = await FaceDetector.open(opts.detector)
  const size = opts.size ?? RAFDB_ALIGNED_SIZE
  return {
    mode: 'detect',
    async crops(image: RgbImage, _source: FaceSource): Promise<FaceCrop[]> {
      const faces = await detector.detect(image)
      return Promise.all(
        faces.map(async (f, index) => {
          const aligned = await alignFace(image, f, size)
          return {
            image: aligned.image,
            toOriginal: aligned.toOriginal,
            face: {index, count: faces.length, box: f.box, score: f.score, eyeR: f.eyeR, eyeL: f.eyeL, nose: f.nose, mouth: f.mouth},
          }
        }),
      )
    },
    identity: () => ({faces: 'detect', ...detector.identity(), aligned: {size, template: RAFDB_TEMPLATE}}),
    release: () => detector.release(),
  }
}

export async function openFaceStage(opts: FaceStageOptions): Promise<FaceStage> {
  switch (opts.mode) {
    case 'whole':
      return wholeImageStage()
    case 'box':
      return boxStage()
    case 'detect':
      return detectStage(opts)
  }
}

/** eval scores one face per image: the largest one the detector found. */
export function largestFace(crops: FaceCrop[]): FaceCrop[] {
  if (crops.length <= 1) return crops
  const area = (c: FaceCrop) => (c.face ? c.face.box.w * c.face.box.h : 0)
  return [crops.reduce((best, c) => (area(c) > area(best) ? c : best))]
}
