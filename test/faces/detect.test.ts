/**
 * The detector on real photographs (public domain / CC0, from Debian's python3-skimage and python-matplotlib-data,
 * made by scripts/faces/make-detect-fixtures.py) against dlib's faces and 68-point landmarks on the same files.
 * The full measurement (71 faces, 9 non-face photos) is scripts/faces/measure.ts; these are its small, offline core.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FaceDetector, firstLookRegions} from '../../src/faces/detect.js'
import {detectStage} from '../../src/faces/stage.js'
import type {FaceStage, Point} from '../../src/faces/types.js'
import {decodeRgb} from '../../src/image/sharp.js'

const DIR = path.resolve(import.meta.dirname, '../fixtures/faces/photos')
interface RefFace {
  box: [number, number, number, number]
  eye_r?: [number, number]
  eye_l?: [number, number]
  nose?: [number, number]
  mouth?: [number, number]
  no_points?: string
}
const ref = JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {photos: Record<string, {width: number; height: number; faces: RefFace[]}>}
const dist = (a: Point, b: [number, number]) => Math.hypot(a.x - b[0], a.y - b[1])

let detector: FaceDetector
beforeAll(async () => {
  detector = await FaceDetector.open()
})
afterAll(async () => {
  await detector.release()
})

describe('FaceDetector on real photographs', () => {
  for (const [name, photo] of Object.entries(ref.photos)) {
    it(`${name}: ${photo.faces.length} face(s) as dlib finds them${photo.faces.length ? ', points within 0.25 of the eye distance' : ''}`, async () => {
      const img = await decodeRgb(path.join(DIR, name))
      const faces = await detector.detect(img)
      expect(faces).toHaveLength(photo.faces.length)
      // Left to right, as the CSV numbers them.
      const centres = faces.map((f) => f.box.x + f.box.w / 2)
      expect(centres).toEqual([...centres].sort((a, b) => a - b))
      photo.faces.forEach((r, k) => {
        const f = faces[k]!
        const [x, y, w, h] = r.box
        const cx = f.box.x + f.box.w / 2
        const cy = f.box.y + f.box.h / 2
        expect(cx > x && cx < x + w && cy > y && cy < y + h, `${name} face ${k} centre in dlib's box`).toBe(true)
        expect(f.box.w / w).toBeGreaterThan(0.5)
        expect(f.box.w / w).toBeLessThan(2)
        expect(f.score).toBeGreaterThanOrEqual(0.6)
        if (r.no_points || !r.eye_r || !r.eye_l || !r.nose || !r.mouth) return
        const iod = Math.hypot(r.eye_r[0] - r.eye_l[0], r.eye_r[1] - r.eye_l[1])
        // r = the subject's right eye, on the image's left.
        expect(f.eyeR.x).toBeLessThan(f.eyeL.x)
        expect(dist(f.eyeR, r.eye_r) / iod, `${name} eye_r`).toBeLessThan(0.25)
        expect(dist(f.eyeL, r.eye_l) / iod, `${name} eye_l`).toBeLessThan(0.25)
        expect(dist(f.nose, r.nose) / iod, `${name} nose`).toBeLessThan(0.35)
        expect(dist(f.mouth, r.mouth) / iod, `${name} mouth`).toBeLessThan(0.35)
      })
    })
  }

  it('finds nothing in a flat or noisy image', async () => {
    const flat = {width: 320, height: 240, data: new Uint8Array(320 * 240 * 3).fill(90)}
    expect(await detector.detect(flat)).toEqual([])
    let x = 12345
    const noise = new Uint8Array(320 * 240 * 3).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24) & 255)
    expect(await detector.detect({width: 320, height: 240, data: noise})).toEqual([])
  })

  it('confirms a confident candidate (first look ≥ confidentScore) by the first second look alone', async () => {
    // A second look at 50× the face sees it as a speck: it confirms nothing. Faces the first look is sure of
    // (both in this photo score ≥ 0.9) never take it; with the shortcut off (2) they must, and are lost.
    const img = await decodeRgb(path.join(DIR, 'pair-400x200.jpg'))
    const looks = [{model: 'front', scale: 2}, {model: 'front', scale: 50}] as const
    const confident = await FaceDetector.open({secondLooks: looks})
    const everyLook = await FaceDetector.open({secondLooks: looks, confidentScore: 2})
    const strict = await FaceDetector.open({confidentScore: 2})
    try {
      const faces = await confident.detect(img)
      expect(faces).toHaveLength(2)
      // The default detector takes the same shortcut: the same faces, points the mean of the first and 2× looks,
      // which the mean of the 2× and 3× looks (shortcut off) is not.
      expect(await detector.detect(img)).toEqual(faces)
      const both = await strict.detect(img)
      expect(both).toHaveLength(2)
      expect(faces.map((f) => f.eyeR.x)).not.toEqual(both.map((f) => f.eyeR.x))
      expect(await everyLook.detect(img)).toEqual([])
    } finally {
      await Promise.all([confident.release(), everyLook.release(), strict.release()])
    }
  })

  it('looks at tiles only on large images, covering every pixel', () => {
    expect(firstLookRegions(640, 480)).toHaveLength(1)
    const regions = firstLookRegions(2400, 1800)
    expect(regions.length).toBeGreaterThan(4)
    for (const [px, py] of [[0, 0], [2399, 1799], [1200, 900], [2399, 0], [0, 1799]] as const) {
      expect(regions.slice(1).some((r) => px >= r.x && px < r.x + r.side && py >= r.y && py < r.y + r.side), `${px},${py}`).toBe(true)
    }
  })
})

describe('the detect face stage', () => {
  let stage: FaceStage
  beforeAll(async () => {
    stage = await detectStage()
  })
  afterAll(async () => {
    await stage.release()
  })

  it('gives each face an aligned 100×100 crop, its index and count, and a map back to the photo', async () => {
    const img = await decodeRgb(path.join(DIR, 'pair-400x200.jpg'))
    const crops = await stage.crops(img, {relPath: 'pair-400x200.jpg'})
    expect(crops).toHaveLength(2)
    crops.forEach((c, k) => {
      expect([c.image.width, c.image.height]).toEqual([100, 100])
      expect(c.face).toMatchObject({index: k, count: 2})
      // The crop's centre maps into the face's box.
      const [a, b, cc, d, e, f] = c.toOriginal
      const x = a * 0.5 + b * 0.5 + cc
      const y = d * 0.5 + e * 0.5 + f
      const box = c.face!.box
      expect(x > box.x && x < box.x + box.w && y > box.y && y < box.y + box.h).toBe(true)
    })
    expect(stage.identity()).toMatchObject({faces: 'detect', aligned: {size: 100}})
  })
})
