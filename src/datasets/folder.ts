/**
 * Unlabelled image discovery for `poster predict`: files and folders as given on the command line.
 *
 * - Folders are listed one level deep, or all the way down with `recursive`. Hidden files and folders (names
 *   starting with '.') inside a folder are skipped; a file named explicitly is taken whatever its name.
 * - Extensions (case-insensitive): every format sharp reads (jpg jpeg jpe png webp tif tiff gif avif heic heif),
 *   plus bmp and the netpbm family (ppm pgm pbm), which the image module decodes itself as Pillow does, and the
 *   video containers ffmpeg reads (mp4 m4v mov mkv webm avi), which predict turns into frames. A file
 *   named explicitly with another extension is skipped,
 *   with a note (a shell glob such as `*` often brings in a README).
 * - Symlinks are followed, each real folder entered once: a symlink cycle ends after one step, and a file reached
 *   by two paths (a symlinked file or folder next to its target, or an input given twice) is listed once, under
 *   the path that sorts first.
 * - relPath is the path as the user would write it: the input as given (normalised) joined with the path below it.
 *   Items are sorted by relPath in UTF-16 code-unit order, so reruns and shards (which hash relPath) agree.
 * - Names may hold commas, quotes, newlines and any Unicode: nothing here parses or re-quotes them. A name found
 *   in a folder that is not valid UTF-8 is shown with each invalid byte as `\xHH` (path, relPath) and read through
 *   DatasetItem.rawPath, its exact bytes. (Names given on the command line reach Node already decoded.)
 * - Folders are listed with fast-glob (fsutil.ts walkFiles). A FIFO, socket or device with an image name (or a
 *   symlink to one, such as /dev/zero) is listed with DatasetItem.notRegular set, so it gets an error row and is
 *   never opened; a sub-folder that cannot be read is named in the notes and the rest is listed.
 */

import {promises as fs} from 'node:fs'
import path from 'node:path'

import {codeUnitCompare, extOf, plural, specialKind, statOrUndefined, toPosix, walkFiles} from './fsutil.js'
import type {DatasetItem} from './types.js'

/** Extensions `poster predict` picks up in folders (lower case, with the dot). */
export const PREDICT_EXTENSIONS = [
  '.jpg', '.jpeg', '.jpe', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif', '.heic', '.heif', '.bmp',
  '.ppm', '.pgm', '.pbm',
]

/** Video files `poster predict` reads frame by frame (through ffmpeg). */
export const VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi']

export function isPredictVideo(name: string): boolean {
  return VIDEO_EXTENSIONS.includes(extOf(name))
}

/** An input predict takes: an image or a video. */
export function isPredictImage(name: string): boolean {
  return PREDICT_EXTENSIONS.includes(extOf(name)) || isPredictVideo(name)
}

export interface DiscoverOptions {
  recursive?: boolean
  /** The split recorded on each item; 'predict' by default. */
  split?: string
}

export interface Discovered {
  items: DatasetItem[]
  /** Things left out on purpose, counted by reason. */
  excluded: Array<{reason: string; count: number}>
  notes: string[]
}

export async function discoverImages(inputs: string[], opts: DiscoverOptions = {}): Promise<Discovered> {
  if (inputs.length === 0) throw new Error('no inputs: give image files or folders')
  const split = opts.split ?? 'predict'
  const recursive = opts.recursive ?? false
  const found: Array<{abs: string; rel: string; real: string; raw?: Buffer; notRegular?: string}> = []
  const notes: string[] = []
  const excluded = new Map<string, number>()
  const exclude = (reason: string, n = 1): void => {
    if (n > 0) excluded.set(reason, (excluded.get(reason) ?? 0) + n)
  }
  let subfoldersNotWalked = 0

  for (const input of inputs) {
    const st = await statOrUndefined(input)
    if (!st) {
      let why = 'no such file or folder'
      try {
        await fs.lstat(input)
        why = 'a symlink whose target does not exist'
      } catch {
        // not there at all
      }
      throw new Error(`input "${input}": ${why}`)
    }
    const shown = toPosix(path.normalize(input)).replace(/(.)\/+$/, '$1')
    if (!st.isDirectory()) {
      if (!isPredictImage(input)) {
        exclude(`not an image extension poster reads (${PREDICT_EXTENSIONS.join(' ')}) nor a video (${VIDEO_EXTENSIONS.join(' ')})`)
        continue
      }
      const special = st.isFile() ? {} : {notRegular: specialKind(st)}
      found.push({abs: path.resolve(input), rel: shown, real: await fs.realpath(input), ...special})
    } else {
      let walked: Awaited<ReturnType<typeof walkFiles>>
      try {
        walked = await walkFiles(path.resolve(input), {recursive, accept: isPredictImage, rawNames: true})
      } catch (e) {
        throw new Error(`input "${input}": cannot read the folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
      }
      const prefix = shown === '.' ? '' : shown
      for (const f of walked.files) {
        found.push({abs: f.abs, rel: prefix ? path.posix.join(prefix, f.rel) : f.rel, real: f.real, raw: f.raw, notRegular: f.notRegular})
      }
      for (const u of walked.unreadable) {
        const rel = toPosix(path.relative(path.resolve(input), u.path))
        notes.push(`${prefix ? path.posix.join(prefix, rel) : rel}/: cannot read this folder (${u.code}); its images are not listed`)
      }
      if (walked.linkedDirsSkipped > 0) {
        notes.push(`${input}: ${plural(walked.linkedDirsSkipped, 'symlinked folder')} already listed through another path (a cycle or a second link) not entered again`)
      }
      if (walked.brokenLinks > 0) exclude('broken symlink', walked.brokenLinks)
      if (!recursive) {
        const dirs = (await fs.readdir(input, {withFileTypes: true})).filter(
          (e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()),
        )
        for (const d of dirs) {
          if (d.isDirectory() || (await statOrUndefined(path.join(input, d.name)))?.isDirectory()) subfoldersNotWalked++
        }
      }
    }
  }

  found.sort((a, b) => codeUnitCompare(a.rel, b.rel) || codeUnitCompare(a.abs, b.abs))
  const seen = new Set<string>()
  const items: DatasetItem[] = []
  let dup = 0
  for (const f of found) {
    if (seen.has(f.real)) {
      dup++
      continue
    }
    seen.add(f.real)
    const item: DatasetItem = {path: f.abs, relPath: f.rel, split}
    if (f.raw) item.rawPath = f.raw
    if (f.notRegular) item.notRegular = f.notRegular
    items.push(item)
  }
  if (dup > 0) exclude('same file reached twice (repeated input or symlink)', dup)
  if (subfoldersNotWalked > 0) {
    notes.push(`${plural(subfoldersNotWalked, 'sub-folder')} not searched; pass --recursive to include them`)
  }
  const excludedList = [...excluded].map(([reason, count]) => ({reason, count}))
  if (items.length === 0) {
    const detail = [
      ...excludedList.map((e) => `${e.count} ${e.reason}`),
      ...notes,
    ]
    throw new Error(
      `no images found in ${inputs.map((i) => `"${i}"`).join(', ')} ` +
        `(looked for ${[...PREDICT_EXTENSIONS, ...VIDEO_EXTENSIONS].join(' ')}${recursive ? ', recursively' : ''})` +
        (detail.length ? `: ${detail.join('; ')}` : ''),
    )
  }
  return {items, excluded: excludedList, notes}
}
