/** Every input source poster reads, as a list of {path, relPath, label?, split}. */

import {loadAffectnet} from './affectnet.js'
import {detectFormat} from './detect.js'
import {checkLimit} from './fsutil.js'
import {loadImageFolder} from './image-folder.js'
import {loadManifest} from './manifest.js'
import {loadRafdb} from './rafdb.js'
import {DATASET_FORMATS, type Dataset, type DatasetFormat, type LoadOptions} from './types.js'

export {DATASET_FORMATS, type Dataset, type DatasetFormat, type DatasetItem, type DuplicateGroup, type DuplicateReport, type LoadOptions, type RowProblem} from './types.js'
export {describeGroup, findDuplicates, REPEAT_REASON, type Listing} from './duplicates.js'
export {loadAffectnet, findAffectnetLayout, AFFECTNET_CODE_NAMES, AFFECTNET_VAL_SIZES} from './affectnet.js'
export {detectFormat, type Detection} from './detect.js'
export {discoverImages, isPredictImage, PREDICT_EXTENSIONS, type DiscoverOptions, type Discovered} from './folder.js'
export {loadImageFolder, interpretClassFolders, IMG_EXTENSIONS, type ClassInterpretation} from './image-folder.js'
export {loadManifest, type ManifestOptions} from './manifest.js'
export {parseNpy, readNpy, npyScalar, type NpyArray, type NpyValue} from './npy.js'
export {loadRafdb, findRafdbBase, RAFDB_LABEL_FILE, RAFDB_SPLIT_SIZES} from './rafdb.js'
export {fnv1a32, shardOf, resolveShard, selectShard, formatShard, type Shard} from './shard.js'

export interface LoadDatasetOptions extends LoadOptions {
  format?: 'auto' | DatasetFormat
  /**
   * For csv manifests: a `--labels` value or list of names in class-index order (see manifest.ts). Other layouts
   * name their own classes and ignore it.
   */
  labels?: string | string[]
}

/**
 * Read a dataset. `format` 'auto' (the default) detects the layout and adds what it found to the notes. `limit`
 * keeps the first N items in dataset order (noted).
 */
export async function loadDataset(root: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const {format = 'auto', labels, ...load} = opts
  checkLimit(load.limit)
  let fmt: DatasetFormat
  let target = root
  const detectNotes: string[] = []
  if (format === 'auto') {
    const d = await detectFormat(root)
    fmt = d.format
    target = d.root
    detectNotes.push(`--format auto: ${fmt} (${d.notes.join('; ')})`)
  } else if ((DATASET_FORMATS as readonly string[]).includes(format)) {
    fmt = format
  } else {
    throw new Error(`unknown --format "${String(format)}"; expected auto, ${DATASET_FORMATS.join(', ')}`)
  }
  let ds: Dataset
  switch (fmt) {
    case 'rafdb':
      ds = await loadRafdb(target, load)
      break
    case 'affectnet':
      ds = await loadAffectnet(target, load)
      break
    case 'imagefolder':
      ds = await loadImageFolder(target, load)
      break
    case 'csv':
      ds = await loadManifest(target, {...load, ...(labels !== undefined ? {labels} : {})})
      break
  }
  ds.notes.unshift(...detectNotes)
  return ds
}
