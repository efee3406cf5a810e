/**
 * torchvision ImageFolder layout, as the official POSTER++ scripts read it:
 *
 *   <root>/{train,valid,val,validation,test}/<class>/<image>
 *
 * or the root may be one split folder itself. Class index = position of the class folder name in a plain sort
 * (Python's sorted(): code-point order), exactly as `ImageFolder.find_classes` does; images of a class are in
 * `sorted(os.walk(...))` order with file names sorted, as `make_dataset` does, so item order and indices match
 * what a PyTorch evaluation of the same folder would see.
 *
 * Class names: folders `1`..`7` are RAF-DB codes (Surprise ... Neutral), `0`..`6` AffectNet-7 codes, `0`..`7`
 * AffectNet-8 codes; emotion words (any case, synonyms from labels.ts) keep their folder name, which labels.ts
 * matches to the model by meaning; anything else is kept verbatim. The choice is stated in the notes.
 *
 * Departures from torchvision, both deliberate: hidden files and folders (names starting with '.') are skipped
 * (`.ipynb_checkpoints` would otherwise become a class and macOS `._x.jpg` files would become images), and a
 * symlinked folder whose target was already walked is not walked again (torchvision would loop forever).
 */

import {promises as fs} from 'node:fs'
import path from 'node:path'

import {canonicalEmotion, readNumericLabels} from './labels.js'
import {codePointCompare, extOf, finish, isDir, plural, readdirSafe, subdirs, walkFiles} from './fsutil.js'
import type {Dataset, DatasetItem, LoadOptions} from './types.js'

/** torchvision.datasets.folder.IMG_EXTENSIONS, compared case-insensitively as torchvision does. */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp']

const SPLIT_NAMES = ['train', 'valid', 'val', 'validation', 'test']
const HELD_OUT = ['test', 'valid', 'val', 'validation']

export function isImageFolderImage(name: string): boolean {
  return IMG_EXTENSIONS.includes(extOf(name))
}

/** Split folders directly under `root` (any case), as [name on disk, lower-cased]. */
export async function splitFolders(root: string): Promise<Array<{name: string; key: string}>> {
  return (await subdirs(root))
    .map((name) => ({name, key: name.toLowerCase()}))
    .filter((s) => SPLIT_NAMES.includes(s.key))
}

/**
 * Which split folder to read for `requested`: the folder of that name, else for a held-out split the other
 * held-out names (test, valid, val, validation: datasets rarely have both a test and a validation folder, and the
 * official scripts evaluate on whichever held-out folder there is).
 */
function chooseSplit(
  available: Array<{name: string; key: string}>,
  requested: string | undefined,
  root: string,
  notes: string[],
): {name: string; key: string} {
  const want = (requested ?? 'test').trim().toLowerCase()
  const order = want === 'train' ? ['train'] : HELD_OUT.includes(want) ? [want, ...HELD_OUT.filter((s) => s !== want)] : [want]
  for (const key of order) {
    const hit = available.find((s) => s.key === key)
    if (hit) {
      if (key !== want) notes.push(`no ${want}/ folder; read the held-out folder ${hit.name}/ instead`)
      else if (requested === undefined) notes.push(`split ${hit.name}/ (the default; choose another with --split)`)
      return hit
    }
  }
  throw new Error(
    `no split folder for --split ${requested ?? 'test'} in ${root}; it has ` +
      (available.length ? available.map((s) => `${s.name}/`).join(', ') : 'no train/valid/val/validation/test folders'),
  )
}

export interface ClassInterpretation {
  labels: string[]
  note: string
  /** The label set whose numbering was recognised (rafdb, affectnet7, affectnet8). */
  numbering?: string
}

/** How folder names become class names; see the module comment. */
export function interpretClassFolders(names: string[], classes?: number): ClassInterpretation {
  if (names.length > 0 && names.every((n) => /^[0-7]$/.test(n))) {
    // Folders 0..7 are a dataset's codes, read exactly as a manifest's numeric labels (labels.ts); other numbers
    // (a 10-class digits set) are names like any other.
    const reading = readNumericLabels(names.map(Number), {classes, where: 'the class folders'})
    return {
      labels: names.map((n) => reading.labels[reading.indexOf(Number(n))!]!),
      note: `class folders ${names.join(', ')} read as ${reading.note}`,
      numbering: reading.numbering,
    }
  }
  const canon = names.map((n) => canonicalEmotion(n))
  if (names.length > 0 && canon.every((c) => c !== undefined)) {
    const seen = new Map<string, string>()
    names.forEach((n, i) => {
      const prev = seen.get(canon[i]!)
      if (prev !== undefined) {
        throw new Error(`class folders "${prev}" and "${n}" both mean ${canon[i]}; merge them or rename one`)
      }
      seen.set(canon[i]!, n)
    })
    return {
      labels: [...names],
      note: `class folders are emotion names (${names.map((n, i) => (n.toLowerCase() === canon[i] ? n : `${n}=${canon[i]}`)).join(', ')}), in sorted order; matched to the model by name`,
    }
  }
  return {
    labels: [...names],
    note:
      `class folders ${names.join(', ')} are not RAF-DB/AffectNet codes or emotion names; they are used as class ` +
      'names in sorted order and must match the model\'s labels by name (or pass --labels)',
  }
}

/** Official held-out set sizes, used to decide whether a numbered ImageFolder is the paper's benchmark. */
const BENCHMARK_SIZES: Record<string, number> = {rafdb: 3068, affectnet7: 3500, affectnet8: 4000}

/** torchvision's order: sorted(os.walk()) by folder path, then sorted file names within a folder. */
function torchvisionOrder(a: string, b: string): number {
  const da = path.posix.dirname(a)
  const db = path.posix.dirname(b)
  const fa = da === '.' ? '' : da
  const fb = db === '.' ? '' : db
  return codePointCompare(fa, fb) || codePointCompare(path.posix.basename(a), path.posix.basename(b))
}

export async function loadImageFolder(root: string, opts: LoadOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root)
  if (!(await isDir(absRoot))) throw new Error(`image folder not found: ${absRoot} is not a folder`)
  const notes: string[] = []

  const splits = await splitFolders(absRoot)
  let splitDir: string
  let split: string
  let datasetRoot: string
  if (splits.length > 0) {
    const chosen = chooseSplit(splits, opts.split, absRoot, notes)
    splitDir = path.join(absRoot, chosen.name)
    split = chosen.key
    datasetRoot = absRoot
  } else {
    // The root is one split folder: <root>/<class>/<image>.
    splitDir = absRoot
    const own = path.basename(absRoot).toLowerCase()
    split = SPLIT_NAMES.includes(own) ? own : (opts.split ?? 'test')
    datasetRoot = absRoot
    notes.push(`${absRoot} holds class folders directly; read it as the ${split} split`)
  }

  const classNames = await subdirs(splitDir)
  if (classNames.length === 0) {
    throw new Error(`no class folders in ${splitDir}: expected <class>/<image> sub-folders`)
  }
  const interp = interpretClassFolders(classNames, opts.classes)
  notes.push(interp.note)

  const items: DatasetItem[] = []
  const empty: string[] = []
  let skippedLinks = 0
  // A symlink inside one class that leads back to the split folder or into another class is not followed: it
  // would put the same image under two labels (torchvision would loop forever on the first).
  const exclude = [await fs.realpath(splitDir), ...(await Promise.all(classNames.map((c) => fs.realpath(path.join(splitDir, c)))))]
  for (let ci = 0; ci < classNames.length; ci++) {
    const cls = classNames[ci]!
    const walked = await walkFiles(path.join(splitDir, cls), {recursive: true, accept: isImageFolderImage, exclude})
    skippedLinks += walked.linkedDirsSkipped
    for (const u of walked.unreadable) notes.push(`${path.join(cls, path.relative(path.join(splitDir, cls), u.path))}/: cannot read this folder (${u.code}); its images are not listed`)
    const rels = walked.files.map((f) => f.rel).sort(torchvisionOrder)
    if (rels.length === 0) empty.push(cls)
    const byRel = new Map(walked.files.map((f) => [f.rel, f]))
    for (const rel of rels) {
      const f = byRel.get(rel)!
      items.push({
        path: f.abs,
        relPath: path.posix.join(...(splitDir === datasetRoot ? [] : [path.basename(splitDir)]), cls, rel),
        label: ci,
        split,
        ...(f.notRegular ? {notRegular: f.notRegular} : {}),
      })
    }
  }
  if (empty.length > 0) notes.push(`class folder${empty.length > 1 ? 's' : ''} with no images: ${empty.join(', ')}`)
  if (skippedLinks > 0) notes.push(`${plural(skippedLinks, 'symlinked folder')} not followed (it leads back into the split folder, another class, or a folder already walked)`)
  const loose = (await readdirSafe(splitDir)).filter((e) => !e.isDirectory() && isImageFolderImage(e.name)).length
  if (loose > 0) notes.push(`${plural(loose, 'image')} directly in ${splitDir} ignored (not in a class folder)`)

  let benchmark: string | undefined
  if (interp.numbering && split !== 'train') {
    const expected = BENCHMARK_SIZES[interp.numbering]!
    if (items.length === expected) benchmark = interp.numbering
    else {
      notes.push(
        `numbered like ${interp.numbering} but holds ${items.length} images (the official evaluation set has ` +
          `${expected}); not treated as the paper's benchmark`,
      )
    }
  }

  return finish(
    {
      format: 'imagefolder',
      root: datasetRoot,
      split,
      labels: interp.labels,
      items,
      excluded: [],
      notes,
      ...(benchmark ? {benchmark} : {}),
    },
    opts,
    // Numbered folders: --classes chose the numbering (RAF-DB's 7, AffectNet's 7 or 8), whichever folders are there.
    interp.numbering === undefined,
  )
}
