/**
 * Measures the face detector on real photographs against references, by hand (not a test):
 *
 *   node --import tsx scripts/faces/measure.ts [REFERENCE.json] [--json out.json]
 *
 * REFERENCE.json is what scripts/faces/make-reference.py writes (every photo: faces with box and eye/nose/mouth
 * points, regions to ignore, non-face images); without it, dlib's XML annotations and a fixed non-face list.
 *
 * References: dlib's example photos (Debian libdlib19.1's examples/faces: PASCAL VOC group photos whose
 * *_with_face_landmarks.xml give every visible face's box and dlib's 68 landmarks) and non-face images from
 * Debian's python3-skimage and libdlib examples. Reports per photo: faces annotated, found, missed, false faces,
 * and the detector's eye/nose/mouth points' distance to dlib's (mean of the eye's 6 points, point 30, mean of the
 * 20 mouth points), in units of the interocular distance.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {FaceDetector} from '../../src/faces/detect.js'
import type {DetectedFace, Point} from '../../src/faces/types.js'
import {decodeRgb} from '../../src/image/sharp.js'

const DLIB = '/usr/share/doc/libdlib19.1/examples/faces'
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data'

interface RefFace {
  box: {x: number; y: number; w: number; h: number}
  parts?: Point[]
  /** Eye, nose and mouth points when the reference gives them directly (make-reference.py). */
  points?: {eyeR: Point; eyeL: Point; nose: Point; mouth: Point}
}

interface ReferencePhoto {
  file: string
  kind: 'faces' | 'none'
  // No points (a stylised face dlib cannot landmark, a profile): counted for recall only.
  faces: Array<{box: [number, number, number, number]; eye_r?: [number, number]; eye_l?: [number, number]; nose?: [number, number]; mouth?: [number, number]; no_points?: string}>
  ignore: Array<[number, number, number, number]>
}

const pt = ([x, y]: [number, number]): Point => ({x, y})

function parseDlibXml(file: string): Map<string, RefFace[]> {
  const text = readFileSync(file, 'latin1')
  const out = new Map<string, RefFace[]>()
  const images = text.split('<image ').slice(1)
  for (const chunk of images) {
    const name = /file='([^']+)'/.exec(chunk)![1]!
    const faces: RefFace[] = []
    for (const b of chunk.split('<box ').slice(1)) {
      const n = (k: string) => Number(new RegExp(`${k}='(-?[0-9.]+)'`).exec(b)![1])
      const parts = [...b.matchAll(/<part name='(\d+)' x='(-?\d+)' y='(-?\d+)'/g)].map((m) => ({x: Number(m[2]), y: Number(m[3])}))
      faces.push({box: {x: n('left'), y: n('top'), w: n('width'), h: n('height')}, parts: parts.length === 68 ? parts : undefined})
    }
    out.set(name, faces)
  }
  return out
}

const mean = (ps: Point[]): Point => ({x: ps.reduce((s, p) => s + p.x, 0) / ps.length, y: ps.reduce((s, p) => s + p.y, 0) / ps.length})
const dist = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y)

function boxIou(a: RefFace['box'], b: RefFace['box']): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x))
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y))
  const inter = ix * iy
  return inter / (a.w * a.h + b.w * b.h - inter)
}

/** A detection matches a reference face when its centre lies inside the reference box and sizes agree within 2×. */
function matches(d: DetectedFace, r: RefFace): boolean {
  const cx = d.box.x + d.box.w / 2
  const cy = d.box.y + d.box.h / 2
  const inside = cx >= r.box.x && cx <= r.box.x + r.box.w && cy >= r.box.y && cy <= r.box.y + r.box.h
  const ratio = d.box.w / r.box.w
  return inside && ratio > 0.5 && ratio < 2 && boxIou(d.box, r.box) > 0.1
}

async function main() {
  const refs = new Map<string, RefFace[]>()
  const ignored = new Map<string, RefFace['box'][]>()
  let nonFaces: string[]
  const refFile = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : undefined
  if (refFile) {
    const photos = (JSON.parse(readFileSync(refFile, 'utf8')) as {photos: ReferencePhoto[]}).photos
    const asBox = ([x, y, w, h]: number[]) => ({x: x!, y: y!, w: w!, h: h!})
    for (const p of photos.filter((q) => q.kind === 'faces'))
      refs.set(
        p.file,
        p.faces.map((f) => ({
          box: asBox(f.box),
          points: f.eye_r && f.eye_l && f.nose && f.mouth && !f.no_points ? {eyeR: pt(f.eye_r), eyeL: pt(f.eye_l), nose: pt(f.nose), mouth: pt(f.mouth)} : undefined,
        })),
      )
    for (const p of photos) ignored.set(p.file, p.ignore.map(asBox))
    nonFaces = photos.filter((q) => q.kind === 'none').map((q) => q.file)
  } else {
    for (const f of ['training_with_face_landmarks.xml', 'testing_with_face_landmarks.xml']) for (const [k, v] of parseDlibXml(join(DLIB, f))) refs.set(join(DLIB, k), v)
    nonFaces = [join(DLIB, 'dogs.jpg'), ...['chelsea.png', 'coffee.png', 'rocket.jpg', 'hubble_deep_field.jpg', 'brick.png', 'motorcycle_left.png', 'coins.png', 'horse.png'].map((f) => join(SKIMAGE, f))].filter(existsSync)
  }
  // A detection centred in an ignored region (a printed face, a photo in the background) is neither hit nor false.
  const inIgnored = (file: string, d: DetectedFace) => {
    const cx = d.box.x + d.box.w / 2
    const cy = d.box.y + d.box.h / 2
    return (ignored.get(file) ?? []).some((b) => cx >= b.x && cx <= b.x + b.w && cy >= b.y && cy <= b.y + b.h)
  }
  const detector = await FaceDetector.open(process.env.POSTER_FACES_OPTS ? JSON.parse(process.env.POSTER_FACES_OPTS) : {})
  const report: Record<string, unknown>[] = []
  const errs = {eyes: [] as number[], nose: [] as number[], mouth: [] as number[]}
  let annotated = 0
  let found = 0
  let falseOnFaces = 0
  let ms = 0
  for (const [file, faces] of refs) {
    const img = await decodeRgb(file)
    const t0 = performance.now()
    const dets = await detector.detect(img)
    ms += performance.now() - t0
    const used = new Set<number>()
    let hit = 0
    for (const r of faces) {
      const k = dets.findIndex((d, i) => !used.has(i) && matches(d, r))
      if (k < 0) continue
      used.add(k)
      hit++
      const d = dets[k]!
      if (r.points) {
        const iod = dist(r.points.eyeR, r.points.eyeL)
        errs.eyes.push(dist(d.eyeR, r.points.eyeR) / iod, dist(d.eyeL, r.points.eyeL) / iod)
        errs.nose.push(dist(d.nose, r.points.nose) / iod)
        errs.mouth.push(dist(d.mouth, r.points.mouth) / iod)
        continue
      }
      if (!r.parts) continue
      const eyeR = mean(r.parts.slice(36, 42))
      const eyeL = mean(r.parts.slice(42, 48))
      const iod = dist(eyeR, eyeL)
      errs.eyes.push(dist(d.eyeR, eyeR) / iod, dist(d.eyeL, eyeL) / iod)
      errs.nose.push(dist(d.nose, r.parts[30]!) / iod)
      errs.mouth.push(dist(d.mouth, mean(r.parts.slice(48, 68))) / iod)
    }
    dets.forEach((d, i) => {
      if (!used.has(i) && inIgnored(file, d)) used.add(i)
    })
    annotated += faces.length
    found += hit
    falseOnFaces += dets.length - used.size
    report.push({
      file,
      size: `${img.width}x${img.height}`,
      annotated: faces.length,
      found: hit,
      extra: dets.length - used.size,
      scores: dets.map((d, i) => `${used.has(i) ? '' : 'FALSE '}${((d as {debug?: number[]}).debug ?? [d.score]).map((x) => x.toFixed(3)).join('/')}`),
    })
  }
  let falseOnNonFaces = 0
  for (const file of nonFaces) {
    const img = await decodeRgb(file)
    const dets = (await detector.detect(img)).filter((d) => !inIgnored(file, d))
    falseOnNonFaces += dets.length
    report.push({file, nonFace: true, falseFaces: dets.length, scores: dets.map((d) => ((d as {debug?: number[]}).debug ?? [d.score]).map((x) => x.toFixed(3)).join('/'))})
  }
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b)
    return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN
  }
  const summary = {
    annotated,
    found,
    recall: found / annotated,
    extraOnFacePhotos: falseOnFaces,
    nonFaceImages: nonFaces.length,
    falseOnNonFaces,
    median: {eyes: median(errs.eyes), nose: median(errs.nose), mouth: median(errs.mouth)},
    msPerImage: ms / refs.size,
  }
  for (const r of report) console.log(JSON.stringify(r))
  console.log(JSON.stringify(summary, null, 2))
  const i = process.argv.indexOf('--json')
  if (i > 0) writeFileSync(process.argv[i + 1]!, JSON.stringify({summary, report, errors: errs}, null, 2))
  await detector.release()
}

await main()
