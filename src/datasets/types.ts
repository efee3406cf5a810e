/** What every dataset layout reader returns: images in dataset order, labels as indices into `labels`. */

/** Every layout poster reads (`--format`), in the order --format auto tries them. */
export const DATASET_FORMATS = ['rafdb', 'affectnet', 'imagefolder', 'csv'] as const
export type DatasetFormat = (typeof DATASET_FORMATS)[number]

export interface DatasetItem {
  /** Absolute path of the image file. */
  path: string
  /** Path as the user knows it (relative to the dataset root), used in CSVs and reports. */
  relPath: string
  /** Class index into Dataset.labels; undefined for unlabelled inputs. */
  label?: number
  split: string
  /**
   * The annotated face box in pixels of the image (AffectNet's face_x/face_y/face_width/face_height, a manifest's
   * x,y,w,h), for --faces box. Absent when the dataset has no box for this image; a zero or negative size is kept
   * as given and reported by the face stage.
   */
  box?: FaceBox
  /** Why the dataset's box for this image cannot be used (cells partly empty or not numbers). */
  boxError?: string
  /**
   * The file's path as bytes, set only when it is not valid UTF-8 (predict discovery): `path` and `relPath` then
   * show the invalid bytes as `\xHH`, so open the file through this.
   */
  rawPath?: Buffer
  /**
   * Set by discovery when the file is not a regular file (a FIFO, socket or device, or a link to one): it is
   * listed so that it gets an error row, and never opened (reading it can block forever or never end).
   */
  notRegular?: string
}

/** A face box as annotated: left, top, width, height in pixels. */
export interface FaceBox {
  x: number
  y: number
  w: number
  h: number
}

export interface Dataset {
  format: DatasetFormat
  /** Variant inside the format, e.g. 'aligned' / 'original' for RAF-DB, 'csv' / 'npy' for AffectNet. */
  variant?: string
  root: string
  split: string
  /** Class names in the dataset's own index order. */
  labels: string[]
  items: DatasetItem[]
  /** Rows left out on purpose (e.g. AffectNet codes 8-10), counted by reason. */
  excluded: Array<{reason: string; count: number}>
  /** Human-readable facts about what was detected, shown by `--format auto`. */
  notes: string[]
  /** Which paper benchmark this is, when it is one (rafdb, affectnet7, affectnet8). */
  benchmark?: string
  /** True when items carry annotated face boxes (AffectNet's CSV release, a manifest with x,y,w,h). */
  hasBoxes?: boolean
  /** Images the list names more than once (see duplicates.ts); absent when none. */
  duplicates?: DuplicateReport
  /**
   * With LoadOptions.collect: rows of the list that could not be used (a label outside the set, an empty path, a
   * line that cannot be parsed), each left out and named here instead of stopping the load.
   */
  rowProblems?: RowProblem[]
  /** With LoadOptions.collect: files the list names whose rows were left out on purpose (AffectNet codes 8-10). */
  excludedPaths?: string[]
}

/** Images listed more than once in one list file. */
export interface DuplicateReport {
  /** The list file. */
  file: string
  /** Listings dropped as exact repeats (same image, same label and box). */
  repeatedListings: number
  repeats: DuplicateGroup[]
  /** Images listed with different labels (or face boxes). */
  conflicts: DuplicateGroup[]
}

export interface DuplicateGroup {
  relPath: string
  /** Lines of the list, in order; the first is the listing kept. */
  lines: number[]
  /** The label of each listing, as written (with its name). */
  labels: string[]
  conflict: boolean
  /** The face box of each listing, as written, where the list has boxes. */
  boxes?: string[]
}

/** A row of a dataset's list that could not be used (collected instead of thrown, LoadOptions.collect). */
export interface RowProblem {
  kind: 'label' | 'row'
  /** `<file> line <n>` */
  where: string
  /** The image the row names, when it names one (absolute path). */
  path?: string
  relPath?: string
  message: string
}

export interface LoadOptions {
  split?: string
  /** 7 or 8 for AffectNet; for other layouts a check against the folder/label count. */
  classes?: number
  limit?: number
  /**
   * Collect row-level problems (labels outside the set, unusable rows, images listed twice with different labels)
   * in Dataset.rowProblems / Dataset.duplicates instead of stopping, and list the files of excluded rows in
   * Dataset.excludedPaths: what `poster dataset check` needs to report every problem at once.
   */
  collect?: boolean
}
