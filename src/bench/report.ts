/** Turns a BenchResult into the printed header and table rows. */
import {describeRangeCandidate} from '../convert/int8-settings.js'
import {relativeSpread, type Summary} from './stats.js'
import {formatBytes, formatDuration, formatNumber, formatRatio, formatTable, type TableRow} from './table.js'
import type {BenchResult, ModelEntry} from './types.js'
import {facesRows} from './faces.js'
import {datasetCheckRows} from './dataset.js'
import {videoRows} from './video.js'

function spread(s: Summary): string {
  return s.n > 1 ? `, spread ±${((relativeSpread(s) / 2) * 100).toFixed(0)}% over ${s.n}` : ''
}

function modelRow(label: string, m: ModelEntry): TableRow {
  return {
    measurement: label,
    batch: m.batch,
    imagesPerSecond: m.imagesPerSecond.median,
    msPerImage: m.msPerImage,
    peakRssMb: m.peakRssMb,
    notes: `${m.images} img, session ${formatDuration(m.sessionMs.median / 1000)}, warm-up ${formatDuration(m.warmupMs / 1000)}, run() ${formatDuration(m.callMsMedian / 1000)}${spread(m.imagesPerSecond)}`,
  }
}

export function benchRows(r: BenchResult): TableRow[] {
  const rows: TableRow[] = []
  const graph = r.model.source === 'deterministic' ? 'POSTER++ ONNX' : 'model ONNX'
  const device = r.settings.device ?? 'cpu'
  const on = device === 'cpu' ? 'CPU' : `${device}${r.settings.dtype === 'fp16' ? ' fp16' : ''}`
  for (const m of r.modelOnly) rows.push(modelRow(`model-only (${graph}, ${on})`, m))
  if (r.sessionMs) {
    rows.push({
      measurement: 'session creation',
      notes: `${formatDuration(r.sessionMs.median / 1000)} median (min ${formatDuration(r.sessionMs.min / 1000)}, max ${formatDuration(r.sessionMs.max / 1000)}) over ${r.sessionMs.n} model-only children; not in model-only images/s`,
    })
  }
  for (const p of r.preprocess) {
    rows.push({
      measurement: `decode+preprocess ${p.size.replace('x', '×')} JPEG`,
      batch: 'seq',
      imagesPerSecond: p.imagesPerSecond.median,
      msPerImage: p.msPerImage,
      peakRssMb: p.peakRssMb,
      notes: `decode ${formatNumber(p.decodeMs)} + resize ${formatNumber(p.resizeMs)} + tensor ${formatNumber(p.tensorMs)} ms; ${p.concurrency} in flight: ${formatNumber(p.concurrentImagesPerSecond.median)} img/s${spread(p.imagesPerSecond)}`,
    })
  }
  for (const e of r.eval) {
    rows.push({
      measurement: `eval ${e.size.replace('x', '×')} JPEG (${e.images} img${device === 'cpu' ? '' : `, ${on}`})`,
      batch: e.batch,
      imagesPerSecond: e.imagesPerSecond.median,
      msPerImage: e.msPerImage,
      peakRssMb: e.peakRssMb,
      notes:
        `${formatRatio(e.ratioToModel)} of model-only; setup ${formatDuration(e.setupSeconds)}, ` +
        `batches ${formatDuration(e.classifySeconds)} (${formatNumber(e.classifyImagesPerSecond)} img/s, ${formatRatio(e.classifyRatioToModel)}), ` +
        `reports ${formatDuration(e.finishSeconds)}${spread(e.imagesPerSecond)}`,
    })
  }
  if (r.predict) {
    const p = r.predict
    const columns = p.landmarks ? `+landmarks, ${p.columns} columns` : `${p.columns} columns, no landmarks${p.landmarksNote ? ` (${p.landmarksNote})` : ''}`
    rows.push({
      measurement: `predict ${p.images} × ${p.size.replace('x', '×')} JPEG folder`,
      batch: p.batch,
      imagesPerSecond: p.imagesPerSecond.median,
      msPerImage: p.msPerImage,
      peakRssMb: p.peakRssMb,
      notes:
        `${p.rows} CSV rows checked (${columns}, ${formatBytes(p.csvBytes)}); setup ${formatDuration(p.setupSeconds)}, ` +
        `batches ${formatDuration(p.batchSeconds)} (${formatNumber(p.batchImagesPerSecond)} img/s, ${formatRatio(p.batchRatioToModel)} of model-only), ` +
        `close ${formatDuration(p.finishSeconds)}; ${p.imagesPerSecond.n} run${p.imagesPerSecond.n > 1 ? 's' : ''}${spread(p.imagesPerSecond)}`,
    })
  }
  rows.push(...videoRows(r.video))
  rows.push(...facesRows(r.faces))
  rows.push(...datasetCheckRows(r.datasetCheck))
  for (const c of r.convert) {
    const split =
      c.readSeconds !== undefined ? ` (read ${formatDuration(c.readSeconds)}, build ${formatDuration(c.buildSeconds)}, write ${formatDuration(c.writeSeconds)})` : ''
    rows.push({
      measurement: c.source === 'checkpoint' ? `convert .pth → ONNX ${c.dtype}` : `build+write ONNX ${c.dtype} (no .pth)`,
      peakRssMb: c.peakRssMb,
      notes: `${formatDuration(c.seconds.median)}${split}, ${formatBytes(c.bytes)}${c.source === 'deterministic' ? ', deterministic weights, no checkpoint read' : ''}${spread(c.seconds)}`,
    })
  }
  if (r.int8) rows.push(...int8Rows(r))
  if (r.fp16) {
    const f = r.fp16
    rows.push({
      measurement: 'fp16 vs fp32 logits',
      batch: f.batch,
      peakRssMb: f.peakRssMb,
      notes: `fp16 ${formatBytes(f.fp16Bytes)} vs fp32 ${formatBytes(f.fp32Bytes)}; max |Δlogit| ${f.maxAbsDiff.toExponential(2)}; top-1 agrees ${(f.argmaxAgreement * 100).toFixed(0)}%`,
    })
  }
  const pt = r.pytorch
  if (pt.skipped || (pt.error && pt.eager.length === 0)) {
    rows.push({measurement: 'PyTorch baseline', notes: pt.skipped ? `skipped: ${pt.skipped}` : `failed: ${pt.error}`})
  } else {
    for (const t of pt.eager) {
      rows.push({
        measurement: `PyTorch eager (official, torch ${pt.torch ?? '?'})`,
        batch: t.batch,
        imagesPerSecond: t.imagesPerSecond.median,
        msPerImage: t.msPerImage,
        peakRssMb: t.peakRssMb,
        notes: `ONNX model-only is ${formatRatio(t.onnxSpeedup)} of this; ${t.images} img, ${pt.threads ?? '?'} threads, 1-image warm-up ${formatDuration(t.warmupMs / 1000)}${spread(t.imagesPerSecond)}`,
      })
    }
    if (pt.exported) {
      const row = modelRow('torch.onnx.export graph (ORT, CPU)', pt.exported)
      row.notes = `export ${formatDuration(pt.export?.export_s)}, ${formatBytes(pt.export?.bytes)}; converted graph is ${formatRatio(pt.convertedOverExported)} of this; ${row.notes}`
      rows.push(row)
    } else if (pt.exportSkipped) {
      rows.push({measurement: 'torch.onnx.export graph (ORT, CPU)', notes: `skipped: ${pt.exportSkipped}`})
    }
    if (pt.parityMaxAbsDiff !== undefined) {
      rows.push({measurement: 'PyTorch vs converted ONNX logits', batch: 2, notes: `max |Δlogit| ${pt.parityMaxAbsDiff.toExponential(2)} (deterministic input, fp32)`})
    }
  }
  for (const e of r.errors) rows.push({measurement: `FAILED ${e.measurement}`, notes: e.message.slice(0, 200)})
  return rows
}

export function benchHeader(r: BenchResult): string {
  const m = r.machine
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')
  return [
    `poster bench ${r.tool.version} — ${r.created_at}`,
    `CPU     ${m.cpu}, ${m.cores} logical cores (${m.availableParallelism} available), ${m.memoryGiB} GiB RAM, ${m.platform} ${m.arch}`,
    ...(r.gpu ? [`GPU     ${r.gpu.name ?? 'unnamed (no nvidia-smi / vulkaninfo)'}: ${r.gpu.provider}${r.settings.dtype === 'fp16' ? ', float16 compute (--dtype fp16)' : ''}`] : []),
    `Runtime Node ${m.node}, onnxruntime-node ${m.onnxruntime} (${r.gpu ? r.gpu.provider : 'CPU EP'}, ${r.settings.threads} intra-op threads), sharp ${m.sharp} / libvips ${m.libvips}`,
    `Load    ${load(r.load.start)} at start (1/5/15 min), ${load(r.load.end)} at end`,
    `Model   ${r.model.path} (${formatBytes(r.model.bytes)}): ${r.model.note}`,
    `Method  median of ${r.settings.runs} run${r.settings.runs > 1 ? 's' : ''}, each measurement in a fresh process (peak RSS = its maxRSS); ` +
      `model-only: random input, ${r.settings.modelImages}+ images after one untimed warm-up batch; eval: evaluate() end to end incl. session creation and report files` +
      (r.predict ? `; predict: predict() end to end incl. discovery and session creation, CSV streamed to a temp file, run ${r.settings.predictRuns === 1 ? 'once' : `${r.settings.predictRuns} times`}` : '') +
      (r.settings.quick ? '; --quick' : ''),
    ...(r.pytorch.torch
      ? [`PyTorch torch ${r.pytorch.torch}, ${r.pytorch.threads ?? '?'} threads, eager, eval mode, inference_mode; BLAS: ${r.pytorch.blas ?? 'unknown'}`]
      : []),
  ].join('\n')
}

export function benchReport(r: BenchResult): string {
  return `${benchHeader(r)}\n\n${formatTable(benchRows(r))}\n\ntotal ${formatDuration(r.seconds)}`
}

const INT8_KERNELS = ['QLinearConv', 'QLinearMatMul', 'MatMulIntegerToFloat', 'QGemm', 'QLinearAdd', 'QLinearMul', 'QLinearLeakyRelu']

/** int8 vs float32 rows: the paired speeds per batch, the conversion, what it agreed on. */
function int8Rows(r: BenchResult): TableRow[] {
  const e = r.int8!
  const rows: TableRow[] = []
  const flags = r.machine.cpuFlags ?? []
  const vnni = flags.some((f) => f === 'avx512_vnni' || f.startsWith('avx_vnni'))
  for (const b of e.batches) {
    rows.push({
      measurement: 'model-only int8 (POSTER++ untrained, CPU)',
      batch: b.batch,
      imagesPerSecond: b.int8ImagesPerSecond.median,
      msPerImage: 1000 / b.int8ImagesPerSecond.median,
      peakRssMb: b.peakRssMb,
      notes:
        `×${b.speedup.median.toFixed(2)} float32 (median of ${b.calls} paired calls${b.speedup.n > 1 ? `, runs ${b.speedup.min.toFixed(2)}–${b.speedup.max.toFixed(2)}` : ''}); ` +
        `float32 beside it ${formatNumber(b.float32ImagesPerSecond.median)} img/s; RSS is both sessions`,
    })
  }
  const c = e.conversion
  if (c) {
    const rep = c.report
    const ops = rep ? INT8_KERNELS.filter((k) => rep.optimizedOps[k]).map((k) => `${rep.optimizedOps[k]} ${k}`).join(', ') : ''
    const held = rep?.candidates.find((x) => x.method === rep.method && x.percentile === rep.percentile)?.heldout
    rows.push({
      measurement: 'convert int8 (deterministic weights)',
      peakRssMb: c.peakRssMb,
      notes:
        `${formatDuration(c.seconds)}, ${formatBytes(c.bytes)}${c.float32Bytes ? ` (float32 ${formatBytes(c.float32Bytes)})` : ''}` +
        (rep ? `; ${rep.calibration.images} calibration images, ranges ${describeRangeCandidate(rep)}` : '') +
        (held ? `; held-out top-1 agreement ${(held.top1 * 100).toFixed(0)}%, mean |Δlogit| ${held.logitMeanAbs.toFixed(4)}` : ''),
    })
    if (ops) rows.push({measurement: 'int8 kernels onnxruntime runs', notes: ops})
  }
  rows.push({
    measurement: 'CPU',
    notes: `${r.machine.cpu}; ${flags.join(' ') || 'flags unknown'}; ${vnni ? 'VNNI: int8 dot products in one instruction' : 'no VNNI: int8 runs on AVX2 u8×s8 (--weight-bits 7 avoids its saturation)'}`,
  })
  return rows
}
