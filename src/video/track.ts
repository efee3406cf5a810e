/**
 * Face tracks across sampled frames: which face in this frame is which face in the last ones.
 *
 * A simple, predictable tracker (no appearance model): each live track predicts where its face is now (its last
 * box moved at its last velocity), every face of the frame is scored against every prediction, and the pairing
 * with the smallest total cost (Hungarian) wins among pairs that are plausible: boxes overlapping (IoU ≥ `iou`)
 * or centres closer than `distance` face sizes, with sizes within a factor of 2. Faces left over start new tracks
 * (ids 0, 1, 2, ... in order of appearance); a track not seen for more than `maxMissed` sampled frames and more
 * than `maxGapS` seconds ends, and a face coming back later gets a new id.
 *
 * State is kept only from what the CSV holds (box values as written, track ids), so a resumed run rebuilds it
 * exactly by replaying its rows through `observe` and continues as the uninterrupted run would.
 */
import {hungarian} from '../metrics/hungarian.js'

export interface Box {
  x: number
  y: number
  w: number
  h: number
}

export interface TrackerOptions {
  /** Boxes overlapping at least this much (intersection over union) may be the same face. Default 0.3. */
  iou?: number
  /** Centres at most this many face sizes apart (after motion prediction) may be the same face. Default 0.75. */
  distance?: number
  /** A track survives this many sampled frames without its face... Default 3. */
  maxMissed?: number
  /** ...or this many seconds, whichever is longer. Default 1. */
  maxGapS?: number
}

interface Track {
  id: number
  box: Box
  time: number
  /** Centre velocity, pixels per second (0 until seen twice). */
  vx: number
  vy: number
  missed: number
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x)
  const y0 = Math.max(a.y, b.y)
  const x1 = Math.min(a.x + a.w, b.x + b.w)
  const y1 = Math.min(a.y + a.h, b.y + b.h)
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0)
  const union = a.w * a.h + b.w * b.h - inter
  return union > 0 ? inter / union : 0
}

const FORBIDDEN = 1e9

export class FaceTracker {
  private tracks: Track[] = []
  private nextId = 0
  private readonly iouMin: number
  private readonly distanceMax: number
  private readonly maxMissed: number
  private readonly maxGapS: number

  constructor(opts: TrackerOptions = {}) {
    this.iouMin = opts.iou ?? 0.3
    this.distanceMax = opts.distance ?? 0.75
    this.maxMissed = opts.maxMissed ?? 3
    this.maxGapS = opts.maxGapS ?? 1
  }

  /** Where a track's face should be at `time`. */
  private predict(t: Track, time: number): Box {
    const dt = time - t.time
    return {...t.box, x: t.box.x + t.vx * dt, y: t.box.y + t.vy * dt}
  }

  /** The cost of calling `face` the continuation of track `t` (FORBIDDEN when implausible). */
  private cost(t: Track, face: Box, time: number): number {
    const p = this.predict(t, time)
    const ratio = (face.w * face.h) / Math.max(1e-9, p.w * p.h)
    if (!(ratio >= 0.25 && ratio <= 4)) return FORBIDDEN
    const overlap = iou(p, face)
    const size = (p.w + p.h + face.w + face.h) / 4
    const dist = Math.hypot(p.x + p.w / 2 - face.x - face.w / 2, p.y + p.h / 2 - face.y - face.h / 2) / Math.max(1e-9, size)
    if (overlap < this.iouMin && dist > this.distanceMax) return FORBIDDEN
    return dist + (1 - overlap)
  }

  /** Track ids for this frame's faces (in the order given). */
  update(time: number, faces: readonly Box[]): number[] {
    const ids = new Array<number>(faces.length).fill(-1)
    const live = this.tracks
    if (live.length > 0 && faces.length > 0) {
      // Hungarian wants rows ≤ columns: rows are whichever side is smaller.
      const facesAreRows = faces.length <= live.length
      const rows = facesAreRows ? faces.length : live.length
      const cols = facesAreRows ? live.length : faces.length
      const w: number[][] = []
      for (let i = 0; i < rows; i++) {
        const row: number[] = []
        for (let j = 0; j < cols; j++) {
          const [f, t] = facesAreRows ? [i, j] : [j, i]
          row.push(this.cost(live[t]!, faces[f]!, time))
        }
        w.push(row)
      }
      const {rowToCol} = hungarian(w)
      rowToCol.forEach((j, i) => {
        if (w[i]![j]! >= FORBIDDEN) return
        const [f, t] = facesAreRows ? [i, j] : [j, i]
        ids[f] = live[t]!.id
      })
    }
    for (let f = 0; f < faces.length; f++) if (ids[f] === -1) ids[f] = this.nextId++
    this.observe(time, faces, ids)
    return ids
  }

  /**
   * Record that this frame's faces belong to these tracks (what `update` decided, or what a resumed run reads
   * back from its CSV). Every sampled frame must be observed, faces or not, so tracks age the same way.
   */
  observe(time: number, faces: readonly Box[], ids: readonly number[]): void {
    const byId = new Map(this.tracks.map((t) => [t.id, t]))
    const seen = new Set<number>()
    faces.forEach((box, k) => {
      const id = ids[k]!
      seen.add(id)
      this.nextId = Math.max(this.nextId, id + 1)
      const old = byId.get(id)
      if (old) {
        const dt = time - old.time
        if (dt > 0) {
          old.vx = (box.x + box.w / 2 - old.box.x - old.box.w / 2) / dt
          old.vy = (box.y + box.h / 2 - old.box.y - old.box.h / 2) / dt
        }
        old.box = {...box}
        old.time = time
        old.missed = 0
      } else {
        const t: Track = {id, box: {...box}, time, vx: 0, vy: 0, missed: 0}
        this.tracks.push(t)
        byId.set(id, t)
      }
    })
    for (const t of this.tracks) if (!seen.has(t.id)) t.missed++
    this.tracks = this.tracks
      .filter((t) => t.missed <= this.maxMissed || time - t.time <= this.maxGapS)
      .sort((a, b) => a.id - b.id)
  }

  /** Ids of the tracks still alive. */
  get live(): number[] {
    return this.tracks.map((t) => t.id)
  }
}
