/**
 * The official POSTER++ (POSTER V2) checkpoints, by name, with the figures the paper reports for them.
 * Source: the README of https://github.com/Talented-Q/POSTER_V2 ("Checkpoints" table).
 */
import {AFFECTNET7, AFFECTNET8, CAERS, RAFDB, type LabelSet} from '../datasets/labels.js'

export interface ModelEntry {
  /** Registry name, as typed after `--model`. */
  name: string
  /** Human-readable dataset name, as the paper writes it. */
  title: string
  /** Google Drive file id of the released `.pth`. */
  driveId: string
  numClasses: 7 | 8
  /** Class order the checkpoint was trained with. */
  labelSet: LabelSet
  /** The benchmark (Dataset.benchmark) this checkpoint is scored on. */
  dataset: string
  /** Top-1 accuracy the paper/README reports, in percent (92.21 means 92.21 %). */
  paperTop1?: number
}

/** Facts about the architecture as the paper reports them. */
export const PAPER = {
  title: 'POSTER V2: A simpler and stronger facial expression recognition network',
  repo: 'https://github.com/Talented-Q/POSTER_V2',
  /** Forward cost of one 224×224 image, in GFLOPs. */
  gflops: 8.4,
  /** Parameters, in millions. */
  paramsM: 43.7,
} as const

export const MODELS: Readonly<Record<string, ModelEntry>> = Object.freeze({
  rafdb: {
    name: 'rafdb',
    title: 'RAF-DB',
    driveId: '1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv',
    numClasses: 7,
    labelSet: RAFDB,
    dataset: 'rafdb',
    paperTop1: 92.21,
  },
  affectnet7: {
    name: 'affectnet7',
    title: 'AffectNet (7 cls)',
    driveId: '1c_gp5UdlcMjIB2dZtdhXFfHOQg1OqU-D',
    numClasses: 7,
    labelSet: AFFECTNET7,
    dataset: 'affectnet7',
    paperTop1: 67.49,
  },
  affectnet8: {
    name: 'affectnet8',
    title: 'AffectNet (8 cls)',
    driveId: '1tdYH12vgWnIWfupuBkP3jmWS0pJtDxvh',
    numClasses: 8,
    labelSet: AFFECTNET8,
    dataset: 'affectnet8',
    paperTop1: 63.77,
  },
  caers: {
    name: 'caers',
    title: 'CAER-S',
    driveId: '1Q7RDJxVPTkDH2rlhiAiOpSbIo1wUOqPv',
    numClasses: 7,
    labelSet: CAERS,
    dataset: 'caers',
    // The official README's checkpoint table gives 93.00 for CAER-S.
    paperTop1: 93.0,
  },
})

/** Registry names, in table order. */
export function modelNames(): string[] {
  return Object.keys(MODELS)
}

/** Lower-case and drop everything but letters and digits, and a trailing "cls": "AffectNet (7 cls)" → "affectnet7". */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '').replace(/cls$/, '')
}

/** The registry entry for a name ("rafdb", "RAF-DB", "affectnet-7", "AffectNet (8 cls)", "caer-s"), or undefined. */
export function findModel(name: string): ModelEntry | undefined {
  const key = normalize(name)
  if (key.length === 0) return undefined
  return Object.values(MODELS).find((m) => m.name === key || normalize(m.title) === key)
}

/** The registry entry for a name; throws listing the known names when there is none. */
export function getModel(name: string): ModelEntry {
  const entry = findModel(name)
  if (!entry) throw new Error(`unknown model "${name}"; known models: ${modelNames().join(', ')}`)
  return entry
}

/**
 * The paper's top-1 accuracy on a benchmark, in percent (92.21 for rafdb), for showing the paper figure beside
 * a measured one; undefined when the paper gives none. Benchmarks: rafdb, affectnet7, affectnet8 (and caers).
 * Note that eval's metrics hold accuracy as a fraction: compare `metrics.accuracy * 100` with this.
 */
export function paperAccuracy(benchmark: string): number | undefined {
  const key = normalize(benchmark)
  return Object.values(MODELS).find((m) => normalize(m.dataset) === key || normalize(m.title) === key)?.paperTop1
}
