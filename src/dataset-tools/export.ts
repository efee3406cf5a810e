/**
 * `poster dataset export`: any layout poster reads, written as the layout the official POSTER++ `main.py` reads
 * (`--to imagefolder`: `OUT/train/<class>/…` and `OUT/valid/<class>/…`, torchvision ImageFolder) or the same
 * tree with one CSV manifest per split (`--to csv`: `OUT/<split>.csv`, read by eval as any manifest).
 *
 * - Split folders: the training split is `train`; the first held-out split (RAF-DB's test, AffectNet's
 *   validation, a manifest's rows) is `valid`, the folder main.py evaluates; any other keeps its name.
 * - Class folders are named so that ImageFolder's sorted order is the official class order: RAF-DB's codes `1`..`7`
 *   (Surprise … Neutral), AffectNet's codes `0`..`6` / `0`..`7`; any other label set by its names (ImageFolder's
 *   indices are then the names' sorted order, noted when that differs from the dataset's). Every class gets its
 *   folder, even an empty one (noted: torchvision's ImageFolder refuses empty class folders).
 * - Files: a hard link to the original when nothing changes (the whole image, in a format ImageFolder reads), a
 *   copy when the output is on another file system; otherwise the image decoded as eval decodes it, cropped by the
 *   face stage when asked (`--faces box`: the dataset's annotated boxes, as AffectNet's CSV release has them;
 *   `--faces detect`: the largest detected face, aligned) and written as PNG (lossless: the exported pixels are the
 *   crop eval would score). Names keep the path below the split's image folder.
 * - `OUT/manifest.csv`: one row per image: source, split, label, the exported path, how it was made, and the
 *   reason when it could not be (an image without a box or face, an unreadable image to crop).
 * - Written into `OUT.partial-<pid>` and renamed to OUT at the end; then read back with poster's own loaders,
 *   which must give the same images with the same labels (by name) in every split, or the export fails.
 */
import {copyFile, link, mkdir, readFile, realpath, rename, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {stringify} from 'csv-stringify/sync'

import {writeFileAtomic} from '../basics.js'
import {loadImageFolder, loadManifest, type Dataset, type DatasetItem} from '../datasets/index.js'
import {codePointCompare, mapLimit, readdirSafe, specialKind, statOrUndefined, toPosix} from '../datasets/fsutil.js'
import {IMG_EXTENSIONS} from '../datasets/image-folder.js'
import {AFFECTNET7, AFFECTNET8, RAFDB, labelKey} from '../datasets/labels.js'
import type {FacesMode} from '../faces/types.js'
import {isHeldOut, knownLabelSet, loadSplits, type SplitsOptions} from './splits.js'

export interface ExportOptions extends SplitsOptions {
  to: 'imagefolder' | 'csv'
  out: string
  /** Which pixels: the whole image (default), the dataset's face boxes, or the largest detected face. */
  faces?: FacesMode
  /** --faces detect: side of the aligned crop (default 100). */
  faceSize?: number
  concurrency?: number
  onProgress?: (done: number, total: number) => void
  onStatus?: (message: string) => void
}

export interface ExportedSplit {
  split: string
  folder: string
  images: number
  failed: number
  per_class: Array<{name: string; folder: string; images: number}>
  manifest?: string
}

export interface ExportResult {
  out: string
  to: 'imagefolder' | 'csv'
  source: {root: string; format: string}
  faces: FacesMode
  labels: string[]
  /** Class folder of each class, in the dataset's class order. */
  class_folders: string[]
  /** torchvision ImageFolder's class index of each class (sorted folder names). */
  imagefolder_index: number[]
  splits: ExportedSplit[]
  how: {linked: number; copied: number; written: number; failed: number}
  manifest: string
  read_back: {ok: true; images: number}
  notes: string[]
}

/** Class folder names, in class order, whose sorted order is the official class order where there is one. */
export function classFolders(labels: readonly string[]): string[] {
  const set = knownLabelSet(labels)
  if (set === RAFDB) return labels.map((_, i) => String(i + 1))
  if (set === AFFECTNET7 || set === AFFECTNET8) return labels.map((_, i) => String(i))
  return labels.map((n) => n.replace(/[/\\\0]/g, '_').replace(/^\.+/, '_') || '_')
}

/** The export's folder for each split: train, valid (the first held-out split), others by name. */
export function splitFolderNames(splits: readonly string[]): string[] {
  let heldOut = false
  const out = splits.map((s) => {
    if (!isHeldOut(s)) return 'train'
    if (!heldOut) {
      heldOut = true
      return 'valid'
    }
    return s.toLowerCase()
  })
  const dup = out.find((n, i) => out.indexOf(n) !== i)
  if (dup) throw new Error(`two splits would be exported to ${dup}/ (${splits.join(', ')}); export them one at a time with --split`)
  return out
}

/** The longest folder that holds every path. */
function commonDir(paths: readonly string[]): string {
  if (paths.length === 0) return '/'
  let parts = path.dirname(paths[0]!).split(path.sep)
  for (const p of paths) {
    const q = path.dirname(p).split(path.sep)
    let i = 0
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++
    parts = parts.slice(0, i)
  }
  return parts.join(path.sep) || path.sep
}

/** Each item's name below its class folder: its path below the split's image folder (ImageFolder: below its class). */
function exportNames(ds: Dataset): string[] {
  if (ds.format === 'imagefolder') {
    return ds.items.map((it) => {
      const parts = it.relPath.split('/')
      // relPath is <split>/<class>/<rest> or <class>/<rest>: keep <rest>.
      const splitPrefix = parts.length > 2 && parts[0]!.toLowerCase() === ds.split ? 1 : 0
      return parts.slice(splitPrefix + 1).join('/')
    })
  }
  const base = commonDir(ds.items.map((it) => it.path))
  return ds.items.map((it) => toPosix(path.relative(base, it.path)))
}

type How = 'link' | 'copy' | 'png' | 'failed'

export async function exportDataset(input: string, opts: ExportOptions): Promise<ExportResult> {
  const status = opts.onStatus ?? (() => {})
  const loaded = await loadSplits(input, opts)
  const splits = loaded.splits.filter((s) => s.items.length > 0)
  if (splits.length === 0) throw new Error(`nothing to export: ${loaded.root} has no images`)
  const labels = splits[0]!.labels
  for (const s of splits) {
    if (s.labels.join('\0') !== labels.join('\0')) throw new Error(`the splits name different classes (${splits[0]!.split}: ${labels.join(', ')}; ${s.split}: ${s.labels.join(', ')}); export them one at a time with --split`)
  }
  const mode: FacesMode = opts.faces ?? 'whole'
  if (mode === 'box' && !splits.some((s) => s.hasBoxes)) {
    throw new Error(`--faces box needs annotated face boxes; the ${loaded.format} dataset at ${loaded.root} has none (AffectNet's CSV release and manifests with x,y,w,h columns do)`)
  }
  const notes: string[] = []
  const folders = classFolders(labels)
  const sortedFolders = [...folders].sort(codePointCompare)
  const tvIndex = folders.map((f) => sortedFolders.indexOf(f))
  if (new Set(folders).size !== folders.length) throw new Error(`two classes would share a folder name: ${folders.join(', ')}`)
  if (tvIndex.some((v, i) => v !== i)) {
    notes.push(`ImageFolder sorts the class folders as ${sortedFolders.join(', ')}: its class indices differ from the dataset's order (${labels.join(', ')}); models are matched by name`)
  }
  const splitDirs = splitFolderNames(splits.map((s) => s.split))

  const out = path.resolve(opts.out)
  const existing = await statOrUndefined(out)
  if (existing && (!existing.isDirectory() || (await readdirSafe(out)).length > 0)) throw new Error(`${out} already exists; choose a new folder`)
  const partial = `${out}.partial-${process.pid}`
  await rm(partial, {recursive: true, force: true})
  await mkdir(partial, {recursive: true})

  const {openFaceStage, largestFace} = await import('../faces/stage.js')
  const stage = await openFaceStage({mode, size: opts.faceSize})
  const {decodeRgb, encodePng} = await import('../image/sharp.js')
  const how = {linked: 0, copied: 0, written: 0, failed: 0}
  const rows: string[][] = [['source', 'split', 'label', 'path', 'how', 'error']]
  const result: ExportedSplit[] = []
  const total = splits.reduce((a, s) => a + s.items.length, 0)
  let done = 0
  let crossDevice = false
  opts.onProgress?.(0, total)
  try {
    for (let s = 0; s < splits.length; s++) {
      const ds = splits[s]!
      const dir = splitDirs[s]!
      for (const f of folders) await mkdir(path.join(partial, dir, f), {recursive: true})
      const names = exportNames(ds)
      const taken = new Set<string>()
      const planned = ds.items.map((it, i) => {
        const keep = mode === 'whole' && IMG_EXTENSIONS.includes(path.extname(it.path).toLowerCase()) && !it.rawPath && !it.notRegular
        let name = names[i]!
        if (!keep) name = name.replace(/\.[^./]*$/, '') + '.png'
        let rel = path.posix.join(dir, folders[it.label!]!, name)
        if (taken.has(rel)) rel = path.posix.join(dir, folders[it.label!]!, `${names[i]!}.png`)
        taken.add(rel)
        return {item: it, rel, keep}
      })
      const outcomes = await mapLimit(planned, opts.concurrency ?? 8, async ({item, rel, keep}): Promise<{how: How; error?: string}> => {
        const target = path.join(partial, rel)
        await mkdir(path.dirname(target), {recursive: true})
        try {
          if (item.notRegular) return {how: 'failed', error: `not a regular file (${item.notRegular})`}
          const st = await statOrUndefined(item.rawPath ?? item.path)
          if (!st) return {how: 'failed', error: 'missing'}
          // A FIFO or device would block or never end when read (and a link to one would do the same to main.py).
          if (!st.isFile()) return {how: 'failed', error: `not a regular file (${specialKind(st)})`}
          if (keep) {
            const src = await realpath(item.path)
            try {
              await link(src, target)
              return {how: 'link'}
            } catch (e) {
              const code = (e as NodeJS.ErrnoException).code
              if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw e
              crossDevice = true
              await copyFile(src, target)
              return {how: 'copy'}
            }
          }
          const image = await decodeRgb(item.rawPath ? await readFile(item.rawPath) : item.path, {path: item.relPath})
          let crops = await stage.crops(image, item)
          if (mode === 'detect') crops = largestFace(crops)
          const crop = crops[0]
          if (!crop) return {how: 'failed', error: 'no face found'}
          await writeFile(target, await encodePng(crop.image.data, crop.image.width, crop.image.height, 3))
          return {how: 'png'}
        } catch (e) {
          return {how: 'failed', error: (e as {reason?: string}).reason ?? (e as Error).message}
        } finally {
          done++
          opts.onProgress?.(done, total)
        }
      })
      const perClass = labels.map((name, c) => ({name, folder: folders[c]!, images: 0}))
      let failed = 0
      planned.forEach((p, i) => {
        const o = outcomes[i]!
        if (o.how === 'link') how.linked++
        else if (o.how === 'copy') how.copied++
        else if (o.how === 'png') how.written++
        else {
          how.failed++
          failed++
        }
        if (o.how !== 'failed') perClass[p.item.label!]!.images++
        rows.push([p.item.path, ds.split, labels[p.item.label!]!, o.how === 'failed' ? '' : p.rel, o.how, o.error ?? ''])
      })
      const empty = perClass.filter((c) => c.images === 0)
      if (empty.length > 0) notes.push(`${dir}/: no images of ${empty.map((c) => `${c.name} (${c.folder}/)`).join(', ')}; torchvision's ImageFolder refuses an empty class folder`)
      const entry: ExportedSplit = {split: ds.split, folder: dir, images: planned.length - failed, failed, per_class: perClass}
      if (opts.to === 'csv') {
        const set = knownLabelSet(labels)
        const col = set ? `label_${set.id}` : 'label'
        const csvRows = [['path', col], ...planned.filter((_, i) => outcomes[i]!.how !== 'failed').map((p) => [p.rel, labels[p.item.label!]!])]
        await writeFile(path.join(partial, `${dir}.csv`), stringify(csvRows, {quoted_match: /^\s|\s$/, record_delimiter: '\n'}))
        entry.manifest = path.join(out, `${dir}.csv`)
      }
      result.push(entry)
    }
  } finally {
    await stage.release()
  }
  if (crossDevice) notes.push('the output is on another file system than the images: unchanged files were copied, not hard-linked')
  if (how.failed > 0) notes.push(`${how.failed} image${how.failed === 1 ? '' : 's'} could not be exported (reasons in manifest.csv)`)
  await writeFile(path.join(partial, 'manifest.csv'), stringify(rows, {quoted_match: /^\s|\s$/, record_delimiter: '\n'}))
  if (existing) await rm(out, {recursive: true, force: true})
  await rename(partial, out)

  // Read back with poster's loaders: the same images, the same labels, in every split.
  let images = 0
  for (const e of result) {
    const back = opts.to === 'csv'
      ? await loadManifest(path.join(out, `${e.folder}.csv`), {split: e.split})
      : await loadImageFolder(out, {split: e.folder, classes: labels.length})
    const expected = new Map<string, string>()
    for (const r of rows.slice(1)) if (r[1] === e.split && r[4] !== 'failed') expected.set(path.join(out, r[3]!), r[2]!)
    const got = new Map(back.items.map((it) => [it.path, back.labels[it.label!]!]))
    const bad: string[] = []
    for (const [p, label] of expected) {
      const g = got.get(p)
      if (g === undefined) bad.push(`${toPosix(path.relative(out, p))} is not read back`)
      else if (labelKey(g) !== labelKey(label)) bad.push(`${toPosix(path.relative(out, p))} reads back as ${g}, not ${label}`)
    }
    for (const p of got.keys()) if (!expected.has(p)) bad.push(`${toPosix(path.relative(out, p))} is read back but was not exported`)
    if (bad.length > 0) throw new Error(`the export at ${out} does not read back as exported (${bad.length} differences; first: ${bad.slice(0, 3).join('; ')})`)
    images += expected.size
  }
  await writeFileAtomic(path.join(out, 'export.json'), JSON.stringify({source: {root: loaded.root, format: loaded.format}, faces: mode, labels, class_folders: folders, splits: result}, null, 2) + '\n')
  status(`read back: ${images} images with their labels`)
  return {
    out,
    to: opts.to,
    source: {root: loaded.root, format: loaded.format},
    faces: mode,
    labels,
    class_folders: folders,
    imagefolder_index: tvIndex,
    splits: result,
    how,
    manifest: path.join(out, 'manifest.csv'),
    read_back: {ok: true, images},
    notes,
  }
}

export type {DatasetItem}
