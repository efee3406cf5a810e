/**
 * The files of `poster dataset info --out DIR` (info.json, the class-balance chart as SVG and PNG) and of
 * `poster dataset check --out DIR` (check.json, report.html with the pairs' thumbnails), each written atomically.
 * Apart from the tools themselves (dataset-tools/), which compute and know nothing of their reports.
 */
import path from 'node:path'

import type {CheckRun, ImageRef} from '../dataset-tools/check.js'
import type {DatasetInfo} from '../dataset-tools/info.js'
import {classBalanceSvg} from './dataset-charts.js'

/** Write check.json and report.html (pairs with thumbnails) into `dir`, each atomically. */
export async function writeCheckFiles(run: CheckRun, dir: string, opts: {maxPairs?: number} = {}): Promise<{json: string; html: string}> {
  const [{mkdir}, {writeFileAtomic}, {thumbnailJpegDataUri}, {renderCheckHtml, thumbKey}] = await Promise.all([
    import('node:fs/promises'),
    import('../basics.js'),
    import('../image/sharp.js'),
    import('./dataset-check-html.js'),
  ])
  const out = path.resolve(dir)
  await mkdir(out, {recursive: true})
  const max = opts.maxPairs ?? 200
  const r = run.result
  const refs: ImageRef[] = [
    ...r.leakage.pairs.slice(0, max).flatMap((l) => [l.train, l.held_out]),
    ...r.problems.exact_duplicates.slice(0, max).flatMap((g) => g.images.slice(0, 3)),
    ...r.problems.near_duplicates.slice(0, max).flatMap((x) => [x.a, x.b]),
  ]
  const thumbs = new Map<string, string>()
  for (const ref of refs) {
    const key = thumbKey(ref)
    if (thumbs.has(key)) continue
    const file = run.pathOf(ref)
    if (!file) continue
    try {
      thumbs.set(key, await thumbnailJpegDataUri(file, 160))
    } catch {
      // A thumbnail is decoration; the pair is listed without it.
    }
  }
  const files = {json: path.join(out, 'check.json'), html: path.join(out, 'report.html')}
  await writeFileAtomic(files.json, JSON.stringify(r, null, 2) + '\n')
  await writeFileAtomic(files.html, renderCheckHtml(r, thumbs, {maxPairs: max}))
  return files
}

/** The class-balance chart as SVG. */
export function infoChartSvg(info: DatasetInfo): string {
  return classBalanceSvg(
    info.labels,
    info.splits.map((s) => ({split: s.split, counts: s.classes.map((c) => c.images), official: s.classes.map((c) => c.official)})),
    `Images per class: ${info.benchmark ?? info.label_set ?? info.format}`,
  )
}

/** Write info.json, class-balance.svg and class-balance.png into `dir` (created), each atomically. */
export async function writeInfoFiles(info: DatasetInfo, dir: string): Promise<{json: string; svg: string; png: string}> {
  const [{mkdir}, {join, resolve}, {writeFileAtomic}, {svgToPng}] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('../basics.js'),
    import('../image/sharp.js'),
  ])
  const out = resolve(dir)
  await mkdir(out, {recursive: true})
  const files = {json: join(out, 'info.json'), svg: join(out, 'class-balance.svg'), png: join(out, 'class-balance.png')}
  const svg = infoChartSvg(info)
  await writeFileAtomic(files.json, JSON.stringify(info, null, 2) + '\n')
  await writeFileAtomic(files.svg, svg)
  await writeFileAtomic(files.png, await svgToPng(svg, {density: 144}))
  return files
}
