/**
 * `poster predict` on inputs that include videos: every video becomes its sampled frames (decoded by ffmpeg and
 * streamed, see video/decode.ts), each frame's faces are scored and tracked, and all of it goes through the
 * shared loop with the images of the run, in input order, into one CSV:
 *
 *   path, frame, time_s, track, status, error, pred, pred_name, confidence, [face columns], p_<class>...,
 *   [smooth_pred, smooth_pred_name, smooth_<class>...  with --smooth], [lm<i>_x, lm<i>_y  with --landmarks]
 *
 * - a frame row: `frame` (number in the stream, from 0), `time_s` (its presentation time), `track` (the face's id
 *   across frames; 0 for the whole frame when no detector runs); one row per face, `no_face` when there is none;
 * - an image row: frame, time_s and track empty, the rest as predict writes it without videos;
 * - a video ffmpeg cannot read: one error row with ffmpeg's reason (frame empty); a video that breaks off part-way
 *   (truncated, damaged): its frames, then such a row.
 * The columns depend on the run's inputs before sharding, so all shards of a run write the same header.
 *
 * Resume is by frame: a unit is an image or one frame of a video (key path + frame); a resumed run replays the
 * rows it finds into the tracker and the smoother (both keep only what the CSV holds) and asks ffmpeg only for
 * the frames after the last one written, so its file is identical to an uninterrupted run's.
 *
 * Per video, once its last row is on disk: `<stem>.timeline.svg` and `.png` (each track's probabilities over
 * time) in the timeline folder, and a per-track summary (seconds and share per dominant expression) in the
 * run's summary.
 */
import {writeFileAtomic} from '../basics.js'
import {prepareOutputDir} from '../files.js'
import path from 'node:path'

import {isPredictVideo, type Discovered} from '../datasets/folder.js'
import type {Shard} from '../datasets/shard.js'
import type {DatasetItem} from '../datasets/types.js'
import {PREPROCESS} from '../image/preprocess.js'
import {argmax, softmax} from '../metrics/classification.js'
import {
  faceColumns,
  formatCoord,
  formatProb,
  predictColumns,
  probColumn,
  type FaceColumnSet,
  type FaceFields,
  type PredictionRow,
} from '../report/predictions-csv.js'
import {timelineSvg, type TimelineTrack} from '../report/timeline.js'
import type {UnitOutcome} from '../runtime/batches.js'
import {readVideo, type Sampling, type VideoInfo} from '../video/decode.js'
import {findFfmpeg, type FfmpegBinary} from '../video/ffmpeg.js'
import {summarizeTracks, trackRuns, VideoSeries, frameDurations, type TrackSummary} from '../video/series.js'
import {ProbabilitySmoother} from '../video/smooth.js'
import {FaceTracker, type Box} from '../video/track.js'
import {openFaceStage} from '../faces/stage.js'
import type {FaceStage} from '../faces/types.js'
import {mapLandmarks, readItemBytes, type ModelInput, type UnitSource} from './inputs.js'
import type {OpenedModel} from './model.js'
import {overlayNames, overlaySvg} from '../report/overlay.js'
import {predictOutputs, type PredictOptions, type PredictSummary, type VideoOptions} from './predict-options.js'
import {runLoop} from './run-loop.js'
import {openRunOutput} from './run-output.js'

/** How videos are read and summarised (predict's --fps, --every, --smooth, --timeline). */
export interface VideoSummary {
  path: string
  /** ok; damaged (frames read, then ffmpeg failed); error (nothing could be read). */
  status: 'ok' | 'damaged' | 'error'
  error: string | null
  /** Sampled frames with rows in the CSV. */
  frames: number
  /** Of them, frames in which no face was found. */
  no_face_frames: number
  /** Time the sampled frames cover, seconds (see video/series.ts). */
  duration_s: number
  /** What ffmpeg said about the stream (null when this run did not decode it: all its rows were there). */
  stream: {codec: string | null; width: number | null; height: number | null; fps: number | null; container_duration_s: number | null} | null
  tracks: TrackSummary[]
  timeline: {svg: string; png: string} | null
}

export interface VideoRunSummary extends PredictSummary {
  /** Sampled frames with rows (all videos, resumed ones included). */
  frames: number
  /** Units (images, frames) in which no face was found (ok + errors + no_face = all units). */
  no_face: number
  videos: VideoSummary[]
  sampling: string
  ffmpeg: {path: string; source: string; version: string}
  /** Where this run's time went: inference, the model waiting for frames/images, ffmpeg's CPU time. */
  timings: {inference_s: number; waiting_s: number; ffmpeg_cpu_s: number}
}

export const VIDEO_COLUMNS = ['frame', 'time_s', 'track'] as const

/** The run's sampling from the options (usage errors say which flag is wrong). */
export function samplingOf(v: VideoOptions | undefined): Sampling {
  if (v?.fps !== undefined && v.every !== undefined) throw new Error('--fps and --every both pick frames: give one of them')
  if (v?.fps !== undefined) {
    if (!(v.fps > 0) || !Number.isFinite(v.fps)) throw new Error(`--fps must be a positive number, got ${v.fps}`)
    return {kind: 'fps', fps: v.fps}
  }
  if (v?.every !== undefined) {
    if (!Number.isInteger(v.every) || v.every < 1) throw new Error(`--every must be a whole number ≥ 1, got ${v.every}`)
    return v.every === 1 ? {kind: 'all'} : {kind: 'every', every: v.every}
  }
  return {kind: 'all'}
}

export function describeSampling(s: Sampling): string {
  if (s.kind === 'fps') return `${s.fps} frame${s.fps === 1 ? '' : 's'} per second (--fps ${s.fps})`
  if (s.kind === 'every') return `every ${s.every}th frame (--every ${s.every})`
  return 'every frame'
}

/** The CSV columns of a run with videos (see the module comment). */
export function videoRunColumns(classNames: readonly string[], opts: {faces: FaceColumnSet; landmarks?: boolean; smooth?: boolean}): string[] {
  const base = predictColumns(classNames, {faces: opts.faces, landmarks: opts.landmarks})
  const cols = [base[0]!, ...VIDEO_COLUMNS, ...base.slice(1)]
  if (opts.smooth) {
    const lastP = cols.map((c) => c.startsWith('p_')).lastIndexOf(true)
    cols.splice(lastP + 1, 0, 'smooth_pred', 'smooth_pred_name', ...classNames.map((n) => `smooth_${probColumn(n).slice(2)}`))
  }
  return cols
}

/** A unit's key in a run with videos: its path, plus the frame number for a frame. */
export const videoUnitKey = (r: Record<string, string>): string => (r.frame ? `${r.path}\u0000${r.frame}` : (r.path ?? ''))

/** Whether any of these inputs is a video (then the run writes the video columns). */
export function hasVideos(items: ReadonlyArray<Pick<DatasetItem, 'path'>>): boolean {
  return items.some((i) => isPredictVideo(i.path))
}

/** A value as the CSV holds it, so state rebuilt from the CSV equals state kept in memory. */
const asWrittenProb = (x: number) => Number(formatProb(x))
const asWrittenCoord = (x: number) => Number(formatCoord(x))
const formatTime = (t: number) => t.toFixed(6)

/** One video's state while its frames are scored. */
class VideoState {
  readonly series = new VideoSeries()
  readonly tracker = new FaceTracker()
  readonly smoother: ProbabilitySmoother | undefined
  info: VideoInfo | undefined
  /** A video-level error row (unreadable or damaged), once known. */
  error: string | undefined
  lastIndex = -1
  finished = false

  constructor(
    readonly item: DatasetItem,
    smooth: number | undefined,
  ) {
    this.smoother = smooth ? new ProbabilitySmoother(smooth, asWrittenProb) : undefined
  }
}

interface VideoUnit extends UnitSource {
  video?: VideoState
  frame?: number
  time?: number
  /** The video's last unit: its timeline and summary are written once this unit's rows are on disk. */
  last?: boolean
}

/** A frame unit whose pixels are dropped once read, so a batch's frames are not kept alive by its outcomes. */
function frameUnit(video: VideoState, frame: {index: number; time: number; width: number; height: number; data: Uint8Array}): VideoUnit {
  let pixels: UnitSource['pixels'] = {width: frame.width, height: frame.height, data: frame.data}
  return {
    item: video.item,
    video,
    frame: frame.index,
    time: Number(formatTime(frame.time)),
    get pixels() {
      const p = pixels
      pixels = undefined
      return p
    },
  }
}

function faceBox(f: FaceFields | undefined): Box | undefined {
  if (!f) return undefined
  return {x: asWrittenCoord(f.box.x), y: asWrittenCoord(f.box.y), w: asWrittenCoord(f.box.w), h: asWrittenCoord(f.box.h)}
}

/** The timeline files of each video, named as overlays are (unique over all inputs, before sharding). */
export function timelineNames(items: ReadonlyArray<Pick<DatasetItem, 'relPath' | 'path'>>): Map<string, string> {
  const videos = items.filter((i) => isPredictVideo(i.path))
  const names = overlayNames(videos)
  return new Map([...names].map(([rel, png]) => [rel, png.replace(/\.png$/, '.timeline')]))
}

export function defaultTimelineDir(csv: string): string {
  const ext = path.extname(csv)
  return `${ext ? csv.slice(0, -ext.length) : csv}.timelines`
}

/** Run predict over inputs that include videos (called by predict() with the model open). */
export async function predictWithVideos(
  opts: PredictOptions & {video?: VideoOptions},
  model: OpenedModel,
  run: {discovered: Discovered; items: DatasetItem[]; shard: Shard | undefined; output: string; warnings: string[]},
): Promise<VideoRunSummary> {
  const status = opts.onStatus ?? (() => {})
  const {items, warnings, shard} = run
  const v = opts.video ?? {}
  const sampling = samplingOf(v)
  const ffmpeg = v.ffmpeg ?? (await findFfmpeg())
  status(`videos: ffmpeg ${ffmpeg.version} (${ffmpeg.source === 'bundled' ? 'bundled with poster, @ffmpeg-installer/ffmpeg' : ffmpeg.source}: ${ffmpeg.path}; set POSTER_FFMPEG to use another), sampling ${describeSampling(sampling)}`)

  const C = model.numClasses
  const {classes, wantLandmarks} = predictOutputs(opts, model, warnings)
  if (opts.overlay) warnings.push('--overlay draws images only; each video gets a timeline picture instead')

  // The timelines' folder is checked (and made) before any frame is scored, not when the first video is done.
  await prepareOutputDir(v.timelines ?? defaultTimelineDir(run.output), '--timeline')
  // --faces applies to images and videos alike; without it images are scored whole and videos' faces detected.
  const modeFor = (kind: 'image' | 'video') => opts.faces ?? (kind === 'video' ? 'detect' : 'whole')
  const openStage = v.faceStage ?? ((kind: 'image' | 'video') => openFaceStage({mode: modeFor(kind), size: opts.faceSize}))
  const imageStage = await openStage('image')
  const videoStage = !v.faceStage && modeFor('video') === modeFor('image') ? imageStage : await openStage('video')
  if (videoStage.mode === 'whole') {
    warnings.push('video frames are scored whole (--faces whole: one face per frame, track 0); on footage that is not a face close-up the expressions are not meaningful')
  }
  if (opts.saveCrops) warnings.push('--save-crops writes the crops of images only; video frames get their timeline')
  if (videoStage.mode === 'box') throw new Error('--faces box needs annotated face boxes, and videos have none: use --faces detect or whole')
  const rank = {whole: 0, box: 1, detect: 2} as const
  const faceSet: FaceColumnSet = (['none', 'box', 'detect'] as const)[Math.max(rank[imageStage.mode], rank[videoStage.mode])]!
  const stage: FaceStage = {
    mode: videoStage.mode,
    crops: (image, item) => (isPredictVideo(item.path ?? item.relPath) ? videoStage : imageStage).crops(image, item),
    identity: () => ({faces: {image: imageStage.identity(), video: videoStage.identity()}}),
    release: async () => {
      await imageStage.release()
      if (videoStage !== imageStage) await videoStage.release()
    },
  }
  const decode = {formats: 'all' as const, ...(opts.maxPixels === undefined ? {} : {limitInputPixels: opts.maxPixels})}
  const columns = videoRunColumns(classes, {faces: faceSet, landmarks: opts.landmarks, smooth: v.smooth !== undefined})

  const output = await openRunOutput(run.output, {
    columns,
    classNames: classes,
    resume: opts.resume,
    unitKey: videoUnitKey,
    identity: {
      kind: 'predict',
      model: {sha256: model.sha256, labels: classes, ...(model.dtype === 'fp16' ? {dtype: 'fp16'} : {})},
      preprocess: {size: PREPROCESS.size, resize: PREPROCESS.resize, mean: PREPROCESS.mean, std: PREPROCESS.std, formats: decode.formats, max_pixels: opts.maxPixels ?? null},
      ...stage.identity(),
      video: {sampling, smooth: v.smooth ?? null, ffmpeg: ffmpeg.version},
    },
    tolerate: (key, before, now) =>
      key === 'video.ffmpeg' ? `${run.output} was started with ffmpeg ${String(before)}, this run uses ${String(now)}: frames it decodes now may differ slightly in colour` : undefined,
  })

  const timelineDir = v.timelines ?? defaultTimelineDir(run.output)
  const names = timelineNames(run.discovered.items)
  const overlayFiles = opts.overlay ? overlayNames(run.discovered.items.filter((i) => !isPredictVideo(i.path))) : undefined
  const {compositeSvgOnImage} = opts.overlay ? await import('../image/sharp.js') : {compositeSvgOnImage: undefined}
  const videos: VideoSummary[] = []
  const counts = {ok: 0, errors: 0, noFace: 0, faces: 0, units: 0, skipped: 0, frames: 0, processed: 0}
  const timings = {preprocessMs: 0, inferenceMs: 0}
  let ffmpegCpu = 0
  const started = performance.now()

  // Rows already on disk, by path (their units in file order).
  const doneByPath = new Map<string, Array<Record<string, string>>>()
  for (const recs of output.done.values()) {
    const p = recs[0]!.path ?? ''
    const list = doneByPath.get(p)
    if (list) list.push(...recs)
    else doneByPath.set(p, [...recs])
  }
  const countUnit = (st: string, rows = 1) => {
    if (st === 'error') counts.errors++
    else if (st === 'no_face') counts.noFace++
    else {
      counts.ok++
      if (videoStage.mode !== 'whole') counts.faces += rows
    }
  }

  /** Rebuild a video's tracker, smoother and series from its rows on disk. */
  const replay = (video: VideoState, records: Array<Record<string, string>>) => {
    const byFrame: Array<Array<Record<string, string>>> = []
    for (const r of records) {
      if (!r.frame) {
        video.error = r.error || 'error'
        counts.skipped++
        countUnit('error')
        continue
      }
      const last = byFrame[byFrame.length - 1]
      if (last && last[0]!.frame === r.frame) last.push(r)
      else byFrame.push([r])
    }
    for (const recs of byFrame) {
      const head = recs[0]!
      const index = Number(head.frame)
      const time = Number(head.time_s)
      video.lastIndex = Math.max(video.lastIndex, index)
      counts.skipped++
      counts.frames++
      countUnit(head.status ?? 'ok', recs.length)
      if (head.status !== 'ok') {
        video.series.addFrame(index, time, head.status === 'no_face' ? 'no_face' : 'error')
        if (videoStage.mode !== 'whole') video.tracker.observe(time, [], [])
        continue
      }
      video.series.addFrame(index, time, 'ok')
      const boxes: Box[] = []
      const ids: number[] = []
      for (const r of recs) {
        const track = Number(r.track)
        const probs = classes.map((n) => Number(r[probColumn(n)]))
        let smooth: number[] | undefined
        if (video.smoother) {
          smooth = classes.map((n) => Number(r[`smooth_${probColumn(n).slice(2)}`]))
          video.smoother.observe(track, time, smooth)
        }
        video.series.addFace(track, probs, smooth)
        if (r.face_x !== undefined && r.face_x !== '') {
          boxes.push({x: Number(r.face_x), y: Number(r.face_y), w: Number(r.face_w), h: Number(r.face_h)})
          ids.push(track)
        }
      }
      if (videoStage.mode !== 'whole') video.tracker.observe(time, boxes, ids)
    }
  }

  const finishVideo = async (video: VideoState) => {
    if (video.finished) return
    video.finished = true
    const s = video.series
    const times = s.frames.map((f) => f.time)
    const end = video.info?.duration
    const dur = frameDurations(times, end)
    const covered = times.length > 0 ? times[times.length - 1]! + dur[dur.length - 1]! : 0
    const tracks = summarizeTracks(s, classes!, {end, smoothed: video.smoother !== undefined})
    const readable = s.frames.length > 0
    let timeline: VideoSummary['timeline'] = null
    if (readable) {
      const runs = trackRuns(s, {end, smoothed: video.smoother !== undefined})
      const tl: TimelineTrack[] = tracks.map((t) => ({summary: t, runs: runs.get(t.track) ?? []}))
      const svg = timelineSvg({
        title: video.item.relPath,
        classNames: classes!,
        duration: Math.max(covered, end ?? 0),
        frames: s.frames.length,
        smoothedS: v.smooth,
        note: video.error,
        tracks: tl,
      })
      const base = path.join(timelineDir, names.get(video.item.relPath) ?? 'video.timeline')
      await prepareOutputDir(timelineDir, '--timeline')
      const {svgToPng} = await import('../image/sharp.js')
      await writeFileAtomic(`${base}.svg`, svg)
      await writeFileAtomic(`${base}.png`, await svgToPng(svg, {density: 144}))
      timeline = {svg: `${base}.svg`, png: `${base}.png`}
    }
    const info = video.info
    videos.push({
      path: video.item.relPath,
      status: !readable ? 'error' : video.error ? 'damaged' : 'ok',
      error: video.error ?? null,
      frames: s.frames.length,
      no_face_frames: s.frames.filter((f) => f.status === 'no_face').length,
      duration_s: Math.round(covered * 1e6) / 1e6,
      stream: info
        ? {codec: info.codec ?? null, width: info.width ?? null, height: info.height ?? null, fps: info.fps ?? null, container_duration_s: info.duration ?? null}
        : null,
      tracks,
      timeline,
    })
  }

  const wanted = new Set(items.map((i) => i.relPath))
  let foreign = 0
  for (const [p, recs] of doneByPath) if (!wanted.has(p)) foreign += recs.length
  if (foreign > 0) warnings.push(`${run.output} holds ${foreign} rows for inputs that are not among this run's; they are kept as they are`)

  let expected = items.length
  /** ffmpeg processes still running (stopped if the run fails part-way). */
  const readers = new Set<import('../video/decode.js').VideoReader>()
  const progress = () => opts.onProgress?.(counts.units, Math.max(expected, counts.units))

  async function* videoUnits(item: DatasetItem): AsyncGenerator<VideoUnit> {
    const video = new VideoState(item, v.smooth)
    const done = doneByPath.get(item.relPath)
    if (done) replay(video, done)
    counts.units += done ? new Set(done.map(videoUnitKey)).size : 0
    if (video.error !== undefined) {
      // Its error row is on disk: the video was read as far as it could be.
      await finishVideo(video)
      return
    }
    const reader = readVideo(item.path, {sampling, after: video.lastIndex >= 0 ? video.lastIndex : undefined, ffmpeg, rawPath: item.rawPath})
    readers.add(reader)
    let held: VideoUnit | undefined
    let announced = false
    for await (const frame of reader.frames()) {
      if (!announced) {
        announced = true
        const i = reader.streamInfo
        const est = i.duration !== undefined ? estimateFrames(i.duration, i.fps, sampling) : undefined
        if (est !== undefined) expected += Math.max(0, est - 1)
        status(
          `${item.relPath}: ${i.codec ?? 'video'} ${i.width ?? '?'}×${i.height ?? '?'}` +
            `${i.fps ? `, ${i.fps} fps` : ''}${i.duration !== undefined ? `, ${i.duration.toFixed(2)} s` : ''}` +
            `${est !== undefined ? `, about ${est} sampled frames` : ''}${video.lastIndex >= 0 ? `, resuming after frame ${video.lastIndex}` : ''}`,
        )
      }
      if (frame.index <= video.lastIndex) continue
      if (held) yield held
      held = frameUnit(video, frame)
    }
    const end = await reader.end
    readers.delete(reader)
    video.info = end.info
    ffmpegCpu += end.cpuSeconds ?? 0
    if (end.error !== undefined) {
      const any = video.series.frames.length > 0 || held !== undefined
      const fail = any ? `video broke off after frame ${held?.frame ?? video.lastIndex} (truncated or damaged?): ffmpeg: ${end.error}` : `unreadable video: ffmpeg: ${end.error}`
      if (held) yield held
      yield {item, video, fail, last: true}
      return
    }
    if (held) {
      held.last = true
      yield held
      return
    }
    await finishVideo(video)
  }

  async function* units(): AsyncGenerator<VideoUnit> {
    for (const item of items) {
      if (isPredictVideo(item.path)) {
        yield* videoUnits(item)
        continue
      }
      const done = output.done.get(item.relPath)
      if (done) {
        counts.skipped++
        counts.units++
        countUnit(done[0]!.status ?? 'ok', done.length)
        continue
      }
      yield {item}
    }
  }

  const C2 = C
  const faceRow = (base: PredictionRow, extra: Record<string, string | number | undefined>): PredictionRow => ({...base, extra: {...base.extra, ...extra}})
  progress()
  try {
    for (const w of output.warnings) warnings.push(w)
    await runLoop<{label: string; pixels?: Float64Array; width: number; height: number} | undefined, VideoUnit>({
      session: model.session,
      units: units(),
      output,
      stage,
      decode,
      batchSize: typeof opts.batchSize === 'number' ? opts.batchSize : 32,
      landmarks: wantLandmarks,
      timings,
      toRows(item, o: UnitOutcome<ModelInput, VideoUnit>) {
        const u = o.unit
        const video = u.video
        const where = video && u.frame !== undefined ? {frame: u.frame, time_s: formatTime(u.time!)} : {}
        if (!o.ok) {
          if (video && u.frame !== undefined) {
            video.series.addFrame(u.frame, u.time!, 'error')
            if (videoStage.mode !== 'whole') video.tracker.observe(u.time!, [], [])
          } else if (video) {
            video.error = o.error ?? 'unknown error'
          }
          return {rows: [faceRow({path: item.relPath, status: 'error', error: o.error ?? 'unknown error'}, where)]}
        }
        if (o.inputs.length === 0) {
          if (video) {
            video.series.addFrame(u.frame!, u.time!, 'no_face')
            video.tracker.observe(u.time!, [], [])
          }
          return {rows: [faceRow({path: item.relPath, status: 'no_face'}, {...where, faces: 0})]}
        }
        let tracks: number[] | undefined
        if (video) {
          video.series.addFrame(u.frame!, u.time!, 'ok')
          const boxes = o.inputs.map((i) => faceBox(i.input.face))
          tracks = boxes.every((b) => b !== undefined) && videoStage.mode !== 'whole' ? video.tracker.update(u.time!, boxes as Box[]) : o.inputs.map((_, k) => k)
        }
        let extra: {label: string; pixels?: Float64Array; width: number; height: number} | undefined
        const rows = o.inputs.map(({input, output: out}, k): PredictionRow => {
          const probs = softmax(out.logits, C2)
          const row: PredictionRow = {path: item.relPath, status: 'ok', probs, face: input.face}
          const pixels = out.landmarks ? mapLandmarks(out.landmarks, input.toOriginal) : undefined
          if (opts.landmarks && pixels) row.landmarks = pixels
          if (!video && k === 0) {
            const pred = argmax(probs)
            extra = {label: `${classes![pred]} ${(probs[pred]! * 100).toFixed(1)}%`, pixels, width: input.width, height: input.height}
          }
          if (!video) return row
          const track = tracks![k]!
          const cells: Record<string, string | number | undefined> = {...where, track}
          const written = Array.from(probs, asWrittenProb)
          let smooth: Float64Array | undefined
          if (video.smoother) {
            smooth = video.smoother.next(track, u.time!, written)
            const sp = argmax(smooth)
            cells.smooth_pred = sp
            cells.smooth_pred_name = classes![sp]
            classes!.forEach((n, c) => (cells[`smooth_${probColumn(n).slice(2)}`] = formatProb(smooth![c]!)))
          }
          video.series.addFace(track, written, smooth)
          return faceRow(row, cells)
        })
        return {rows, extra}
      },
      beforeCommit: async (batch) => {
        if (!opts.overlay || !overlayFiles || !compositeSvgOnImage) return
        await Promise.all(
          batch.map(async (u) => {
            if (!u.extra || u.outcome.unit.video) return
            const target = path.join(opts.overlay!, overlayFiles.get(u.item.relPath)!)
            const svg = overlaySvg(u.extra.width, u.extra.height, u.extra.pixels, u.extra.label)
            try {
              await writeFileAtomic(target, await compositeSvgOnImage(await readItemBytes(u.item), svg, {...decode, path: u.item.relPath}))
            } catch (e) {
              throw new Error(`overlay ${target} could not be written (${(e as Error).message}); its row was not written either, so --resume redoes it`)
            }
          }),
        )
      },
      afterCommit: async (batch) => {
        for (const u of batch) {
          const unit = u.outcome.unit
          countUnit(u.rows[0]?.status ?? 'ok', u.rows.length)
          counts.units++
          counts.processed++
          if (unit.video && unit.frame !== undefined) counts.frames++
          if (unit.last && unit.video) await finishVideo(unit.video)
        }
        progress()
        await opts.onBatch?.(batch.flatMap((u) => u.rows))
      },
    })
  } finally {
    for (const r of readers) r.stop()
    await output.close()
    await stage.release()
  }
  const secs = (performance.now() - started) / 1000
  if (counts.errors > 0) status(`${counts.errors} error rows in ${run.output} (unreadable images or videos, or frames that failed)`)
  const order = new Map(items.map((it, k) => [it.relPath, k]))
  videos.sort((a, b) => order.get(a.path)! - order.get(b.path)!)
  return {
    output: run.output,
    images: items.length,
    ok: counts.ok,
    errors: counts.errors,
    skipped_resumed: counts.skipped,
    shard: shard ? {index: shard.index + 1, count: shard.count, source: shard.source} : null,
    classes,
    images_per_s: counts.processed > 0 ? Math.round((counts.processed / Math.max(secs, 1e-9)) * 100) / 100 : 0,
    discovered: run.discovered.items.length,
    overlay: opts.overlay ?? null,
    faces: {mode: videoStage.mode, found: counts.faces, images_without_face: counts.noFace, crops_saved: 0},
    warnings,
    frames: counts.frames,
    no_face: counts.noFace,
    videos,
    sampling: describeSampling(sampling),
    ffmpeg: {path: ffmpeg.path, source: ffmpeg.source, version: ffmpeg.version},
    timings: {
      inference_s: Math.round(timings.inferenceMs) / 1000,
      waiting_s: Math.round(timings.preprocessMs) / 1000,
      ffmpeg_cpu_s: Math.round(ffmpegCpu * 1000) / 1000,
    },
  }
}

/** Sampled frames a clip should give, from its header (for the progress bar only). */
export function estimateFrames(duration: number, fps: number | undefined, s: Sampling): number | undefined {
  if (s.kind === 'fps') return Math.max(1, Math.ceil(duration * (fps ? Math.min(fps, s.fps) : s.fps)))
  if (!fps) return undefined
  const all = Math.max(1, Math.round(duration * fps))
  return s.kind === 'every' ? Math.ceil(all / s.every) : all
}

/** The terminal lines of a video's summary. */
export function videoSummaryLines(v: VideoSummary): string[] {
  const lines: string[] = []
  if (v.status === 'error') return [`${v.path}: not read (${v.error})`]
  lines.push(
    `${v.path}: ${v.frames} sampled frames over ${v.duration_s.toFixed(2)} s, ${v.tracks.length} face track${v.tracks.length === 1 ? '' : 's'}` +
      `${v.no_face_frames > 0 ? `, no face in ${v.no_face_frames} frames` : ''}${v.status === 'damaged' ? ` (broke off: ${v.error})` : ''}`,
  )
  for (const t of v.tracks) {
    const parts = t.expressions.slice(0, 4).map((e) => `${e.name} ${e.seconds.toFixed(1)} s (${(e.share * 100).toFixed(0)}%)`)
    const more = t.expressions.length > 4 ? `, ${t.expressions.length - 4} more` : ''
    lines.push(`  track ${t.track}: ${t.seconds.toFixed(1)} s from ${t.first_s.toFixed(2)} s: ${parts.join(', ')}${more}`)
  }
  if (v.timeline) lines.push(`  timeline: ${v.timeline.png}`)
  return lines
}
