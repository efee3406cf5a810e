/**
 * `--format auto`: decide which layout a path holds, from the files a layout requires, and say what was found.
 * Checked in this order (the first that fits wins):
 *   csv          the path is a file ending in .csv
 *   rafdb        EmoLabel/list_patition_label.txt in the folder or in its basic/ sub-folder
 *   affectnet    training.csv or validation.csv (in the folder or Manually_Annotated_file_lists/), or
 *                train_set/annotations or val_set/annotations, or images/ + annotations/ holding *_exp.npy
 *   imagefolder  split folders (train, valid, val, validation, test) holding class folders, or class folders
 *                holding images
 */

import path from 'node:path'

import {findAffectnetLayout} from './affectnet.js'
import {isImageFolderImage, splitFolders} from './image-folder.js'
import {findRafdbBase} from './rafdb.js'
import {readdirSafe, statOrUndefined, subdirs, walkFiles} from './fsutil.js'
import type {DatasetFormat} from './types.js'

export interface Detection {
  format: DatasetFormat
  /** The path to hand to that format's loader. */
  root: string
  variant?: string
  /** What was found, in words. */
  notes: string[]
}

const LOOKED_FOR = [
  'a .csv manifest file',
  'EmoLabel/list_patition_label.txt (RAF-DB, also under basic/)',
  'training.csv / validation.csv or train_set/annotations, val_set/annotations (AffectNet)',
  'train/ valid/ val/ test/ folders of class folders, or class folders of images (ImageFolder)',
]

/** Whether `dir` holds an image: its own entries first (cheap), then its sub-folders. */
async function hasImages(dir: string): Promise<boolean> {
  const own = await readdirSafe(dir)
  if (own.some((e) => !e.name.startsWith('.') && e.isFile() && isImageFolderImage(e.name))) return true
  if (!own.some((e) => e.isDirectory() || e.isSymbolicLink())) return false
  const w = await walkFiles(dir, {recursive: true, accept: isImageFolderImage})
  return w.files.length > 0
}

export async function detectFormat(input: string): Promise<Detection> {
  const abs = path.resolve(input)
  const st = await statOrUndefined(abs)
  if (!st) throw new Error(`dataset path not found: ${abs}`)

  if (st.isFile()) {
    if (path.extname(abs).toLowerCase() === '.csv') {
      return {format: 'csv', root: abs, notes: [`${abs}: CSV manifest`]}
    }
    throw new Error(`cannot tell the dataset layout of ${abs}: it is a file but not a .csv manifest. Looked for: ${LOOKED_FOR.join('; ')}`)
  }
  if (!st.isDirectory()) throw new Error(`${abs} is neither a file nor a folder`)

  const rafBase = await findRafdbBase(abs)
  if (rafBase) {
    return {
      format: 'rafdb',
      root: abs,
      notes: [`RAF-DB basic: found ${path.relative(abs, path.join(rafBase, 'EmoLabel', 'list_patition_label.txt')) || 'EmoLabel/list_patition_label.txt'}`],
    }
  }

  const aff = await findAffectnetLayout(abs)
  if (aff) {
    const what =
      aff.variant === 'csv'
        ? `AffectNet file lists in ${path.relative(abs, aff.dir) || '.'}/ (training.csv / validation.csv)`
        : 'AffectNet images/ + annotations/ (*_exp.npy) release'
    return {format: 'affectnet', root: abs, variant: aff.variant, notes: [what]}
  }

  const splits = await splitFolders(abs)
  for (const s of splits) {
    const classes = await subdirs(path.join(abs, s.name))
    for (const c of classes) {
      if (await hasImages(path.join(abs, s.name, c))) {
        return {
          format: 'imagefolder',
          root: abs,
          notes: [`ImageFolder: split folders ${splits.map((x) => `${x.name}/`).join(', ')} holding class folders`],
        }
      }
    }
  }
  const classes = await subdirs(abs)
  if (splits.length === 0 && classes.length > 0) {
    for (const c of classes) {
      if (await hasImages(path.join(abs, c))) {
        return {
          format: 'imagefolder',
          root: abs,
          notes: [`ImageFolder: class folders ${classes.slice(0, 8).join(', ')}${classes.length > 8 ? ', ...' : ''} (one split)`],
        }
      }
    }
  }

  const entries = (await readdirSafe(abs)).map((e) => e.name + (e.isDirectory() ? '/' : '')).sort()
  const shown = entries.slice(0, 10).join(', ') + (entries.length > 10 ? `, ... (${entries.length} entries)` : '')
  throw new Error(
    `cannot tell the dataset layout of ${abs}. Looked for: ${LOOKED_FOR.join('; ')}. ` +
      `Found: ${entries.length ? shown : 'an empty folder'}. Pass --format (rafdb, affectnet, imagefolder, csv).`,
  )
}
