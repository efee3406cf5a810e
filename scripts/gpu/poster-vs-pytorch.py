#!/usr/bin/env python3
"""poster vs PyTorch on the same GPU, in one run (see scripts/gpu/README.md).

Measures, with the same deterministic (untrained) POSTER++ weights on both sides:
  * poster: `poster bench --device D --dtype T` for every GPU device that loads here (cuda, webgpu) in fp32 and
    fp16: model-only images/s at each batch size (and, with --eval, decode+preprocess and whole eval);
  * poster's parity on each device/dtype: logits of the deterministic batch-2 input against the official PyTorch
    model's recorded outputs (test/fixtures/parity/expected-7cls.json);
  * PyTorch: the official Talented-Q/POSTER_V2 model (a checkout given by --official), eager, eval mode, on the
    GPU, in fp32 and under fp16 autocast, at the same batch sizes, and its parity against the same record.
Writes bench-results/gpu-<time>.json and .md and prints the table. Needs Node 20+ with this repository installed
(`npm ci`; `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` for the CUDA provider) and a Python with torch and numpy.
Nothing here is needed by poster itself.
"""
import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / 'test' / 'fixtures' / 'parity' / 'expected-7cls.json'

# Runs in Node from the repository root: logits of the deterministic input (batch 2) on one device and dtype,
# through poster's own session module (dist/), as JSON on stdout.
PARITY_JS = r"""
const [device, dtype] = process.argv.slice(1)
const {existsSync} = await import('node:fs')
const {openSession} = await import('./dist/runtime/session.js')
const {deterministicInput} = await import('./dist/poster/deterministic-weights.js')
const {demoModelPath} = await import('./dist/pipeline/demo.js')
let model = demoModelPath()
if (!existsSync(model)) await (await import('./dist/convert/convert.js')).writeDeterministicModel(model, 7)
if (dtype === 'fp16') {
  const {fp16ComputeCopy} = await import('./dist/models/fp16-copy.js')
  const {sha256File} = await import('./dist/basics.js')
  const {cacheDir} = await import('./dist/models/cache.js')
  model = (await fp16ComputeCopy(model, await sha256File(model), cacheDir())).path
}
const s = await openSession(model, {device})
const r = await s.run(deterministicInput(2).data, 2, {landmarks: true})
await s.release()
process.stdout.write(JSON.stringify({logits: Array.from(r.logits), landmarks: Array.from(r.landmarks ?? [])}))
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def node(args, argv, timeout, parse=True):
    """Run the poster CLI (or node -e) from the repository root; JSON stdout parsed, or {'error': ...}."""
    cmd = [args.node, *argv]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, 'NO_COLOR': '1'})
    except subprocess.TimeoutExpired:
        return {'error': f'timed out after {timeout} s: {" ".join(argv[:4])}'}
    except FileNotFoundError:
        return {'error': f'{args.node} not found (Node 20+ is needed; --node PATH)'}
    if not parse:
        return {'stdout': p.stdout, 'code': p.returncode, 'stderr': p.stderr}
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError:
        tail = ' '.join(l for l in p.stderr.strip().splitlines()[-3:] if not l.startswith('Warning:'))
        return {'error': f'exit {p.returncode}: {tail}'}
    if isinstance(out, dict) and 'error' in out and isinstance(out['error'], dict):
        return {'error': out['error'].get('message', 'failed')}
    return out


def max_abs(a, b):
    return max(abs(x - y) for x, y in zip(a, b)) if a and len(a) == len(b) else None


def top1_agree(a, b, classes=7):
    rows = len(a) // classes
    same = sum(1 for i in range(rows)
               if max(range(classes), key=lambda k: a[i * classes + k]) == max(range(classes), key=lambda k: b[i * classes + k]))
    return same / rows if rows else None


def poster_side(args, expected):
    doctor = node(args, ['bin/run.js', 'doctor', '--json'], 300)
    if 'error' in doctor:
        raise SystemExit(f'poster doctor failed: {doctor["error"]} (did you run npm ci in {ROOT}?)')
    wanted = [d.strip() for d in args.devices.split(',')]
    devices = [d for d in doctor['devices'] if d['device'] in wanted]
    for d in devices:
        log(f'poster {d["device"]}: {"loads" if d["loads"] else "does not load"}{" on " + d["gpu"] if d.get("gpu") else ""}'
            f'{"" if d["loads"] else " — " + (d.get("help") or d.get("error") or "")}')
    runs = []
    parts = 'model,preprocess,eval' if args.eval else 'model'
    for d in [d for d in devices if d['loads']]:
        for dtype in args.dtypes.split(','):
            log(f'poster bench --device {d["device"]} --dtype {dtype} --batch-sizes {args.batches} --parts {parts} ...')
            t0 = time.time()
            with tempfile.TemporaryDirectory() as tmp:
                argv = ['bin/run.js', 'bench', '--device', d['device'], '--dtype', dtype, '--parts', parts,
                        '--batch-sizes', args.batches, '--runs', str(args.runs), '--json', '--out', str(Path(tmp) / 'b.json')]
                if args.quick:
                    argv.append('--quick')
                bench = node(args, argv, args.timeout)
            entry = {'device': d['device'], 'dtype': dtype, 'gpu': d.get('gpu'), 'seconds': round(time.time() - t0, 1)}
            if 'error' in bench:
                entry['error'] = bench['error']
            else:
                entry['modelOnly'] = {str(m['batch']): m['imagesPerSecond']['median'] for m in bench['modelOnly']}
                entry['eval'] = {f'{e["size"]}/{e["batch"]}': e['imagesPerSecond']['median'] for e in bench.get('eval', [])}
                entry['preprocess'] = {p['size']: p['concurrentImagesPerSecond']['median'] for p in bench.get('preprocess', [])}
                entry['benchErrors'] = bench.get('errors', [])
            par = node(args, ['--input-type=module', '-e', PARITY_JS, d['device'], dtype], 1800)
            if 'error' in par:
                entry['parityError'] = par['error']
            else:
                entry['maxAbsLogitVsTorchRecord'] = max_abs(par['logits'], expected['logits'])
                entry['maxAbsLandmarkVsTorchRecord'] = max_abs(par['landmarks'], expected['landmarks'])
                entry['top1AgreesWithRecord'] = top1_agree(par['logits'], expected['logits'])
            log(f'  {json.dumps(entry)}')
            runs.append(entry)
    return doctor, runs


def load_baseline(args, tmp):
    """The official-model builder poster bench uses (src/bench/python.ts), so both sides share the weights."""
    script = node(args, ['--input-type=module', '-e',
                         "process.stdout.write((await import('./dist/bench/python.js')).PYTHON_BASELINE_SCRIPT)"], 120, parse=False)
    manifest = node(args, ['--input-type=module', '-e',
                           "process.stdout.write(JSON.stringify((await import('./dist/poster/deterministic-weights.js')).posterManifest(7)))"],
                    120, parse=False)
    if script.get('code') != 0 or manifest.get('code') != 0:
        raise SystemExit(f'could not read the baseline from dist/: {script.get("stderr") or manifest.get("stderr")}')
    path = Path(tmp) / 'poster_bench_baseline.py'
    path.write_text(script['stdout'])
    (Path(tmp) / 'manifest.json').write_text(manifest['stdout'])
    spec = importlib.util.spec_from_file_location('poster_bench_baseline', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(Path(tmp) / 'manifest.json')


def torch_side(args, expected, batches):
    import torch
    out = {'torch': torch.__version__}
    dev = args.torch_device or ('cuda' if torch.cuda.is_available() else 'cpu')
    out['device'] = dev
    if dev.startswith('cuda'):
        out['gpu'] = torch.cuda.get_device_name(0)
        out['cuda'] = torch.version.cuda
        out['cudnn'] = torch.backends.cudnn.version()
    else:
        log('PyTorch: no CUDA device; measuring on the CPU (not the same device as poster\'s GPU figures)')
    with tempfile.TemporaryDirectory() as tmp:
        base, manifest = load_baseline(args, tmp)
        ns = argparse.Namespace(official=str(Path(args.official).expanduser()), classes=7, manifest=manifest, seed='poster-parity-v1')
        model, _ = base.build_model(ns)
    model = model.to(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev.startswith('cuda') else (lambda: None)
    cuda = dev.startswith('cuda')
    autocast = lambda on: torch.autocast(device_type='cuda', dtype=torch.float16, enabled=on) if cuda else torch.autocast(device_type='cpu', enabled=False)
    # fp16 autocast is a CUDA measurement; on the CPU (a dry run of this script) only fp32 is timed.
    modes = (('fp32', False), ('fp16', True)) if cuda else (('fp32', False),)
    if not cuda:
        out['fp16'] = 'not measured: fp16 autocast is measured on CUDA only'
    with torch.inference_mode():
        x = base.deterministic_input(2).to(dev)
        for name, amp in modes:
            with autocast(amp):
                logits = model(x).float().reshape(-1).tolist()
            out[f'maxAbsLogitVsRecord_{name}'] = max_abs(logits, expected['logits'])
            out[f'top1AgreesWithRecord_{name}'] = top1_agree(logits, expected['logits'])
        speed = {}
        for name, amp in modes:
            speed[name] = {}
            for b in batches:
                try:
                    xb = torch.randn(b, 3, 224, 224, device=dev)
                    with autocast(amp):
                        # Warm-up (cuDNN autotuning, the caching allocator): 3 calls, more until 2 s have passed (at most 10).
                        w0 = time.perf_counter()
                        for k in range(10):
                            model(xb)
                            sync()
                            if k >= 2 and time.perf_counter() - w0 > 2:
                                break
                        calls = max(3, math.ceil(args.images / b))
                        s0 = time.perf_counter()
                        for _ in range(calls):
                            model(xb)
                        sync()
                        secs = time.perf_counter() - s0
                    speed[name][str(b)] = calls * b / secs
                    log(f'PyTorch {name} batch {b}: {calls * b / secs:.1f} images/s')
                except RuntimeError as e:  # out of memory at a large batch: say so, keep the rest
                    speed[name][str(b)] = None
                    out.setdefault('errors', []).append(f'{name} batch {b}: {str(e).splitlines()[0]}')
                    if dev.startswith('cuda'):
                        torch.cuda.empty_cache()
        out['imagesPerSecond'] = speed
    return out


def table(result, batches):
    head = '| | ' + ' | '.join(f'batch {b}' for b in batches) + ' | best | parity (max \\|Δlogit\\| vs PyTorch record) |'
    lines = [head, '|' + ' --- |' * (len(batches) + 3)]
    fmt = lambda v: '—' if v is None else f'{v:.1f}'
    for r in result['poster']:
        name = f'poster {r["device"]} {r["dtype"]}'
        if 'error' in r:
            lines.append(f'| {name} | failed: {r["error"][:120]} |')
            continue
        vals = [r['modelOnly'].get(str(b)) for b in batches]
        best = max((v for v in vals if v is not None), default=None)
        par = r.get('maxAbsLogitVsTorchRecord')
        lines.append(f'| {name} | ' + ' | '.join(fmt(v) for v in vals) + f' | {fmt(best)} | {"—" if par is None else f"{par:.2e}"} |')
    t = result.get('pytorch') or {}
    if t.get('error'):
        lines.append(f'| PyTorch | failed: {t["error"][:160]} |')
        return '\n'.join(lines)
    for name in [n for n in ('fp32', 'fp16') if n in (t.get('imagesPerSecond') or {})]:
        vals = [(t.get('imagesPerSecond') or {}).get(name, {}).get(str(b)) for b in batches]
        best = max((v for v in vals if v is not None), default=None)
        par = t.get(f'maxAbsLogitVsRecord_{name}')
        label = f'PyTorch {t.get("torch", "?")} eager {name if name == "fp32" else "fp16 autocast"} ({t.get("device", "?")})'
        lines.append(f'| {label} | ' + ' | '.join(fmt(v) for v in vals) + f' | {fmt(best)} | {"—" if par is None else f"{par:.2e}"} |')
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--official', required=True, help='a checkout of https://github.com/Talented-Q/POSTER_V2')
    p.add_argument('--node', default=os.environ.get('POSTER_NODE', 'node'), help='Node 20+ binary (default: node on PATH)')
    p.add_argument('--devices', default='cuda,webgpu', help='poster devices to try (default cuda,webgpu: those that load)')
    p.add_argument('--dtypes', default='fp32,fp16')
    p.add_argument('--batches', default='1,8,32,64,128')
    p.add_argument('--runs', type=int, default=3, help='poster bench runs per measurement (median)')
    p.add_argument('--images', type=int, default=256, help='PyTorch images per timed measurement (whole batches, at least 3 calls)')
    p.add_argument('--eval', action='store_true', help='also whole eval and decode+preprocess on each device')
    p.add_argument('--quick', action='store_true', help='poster bench --quick (a smoke run)')
    p.add_argument('--torch-device', default='', help='default cuda when available, else cpu')
    p.add_argument('--no-torch', action='store_true', help='poster only')
    p.add_argument('--timeout', type=int, default=3600, help='seconds per poster bench run')
    p.add_argument('--out', default='', help='JSON path (default bench-results/gpu-<time>.json; .md beside it)')
    args = p.parse_args()
    if not (ROOT / 'dist' / 'commands').is_dir():
        raise SystemExit(f'{ROOT}/dist is missing: run `npm ci` (or `npm run build`) in {ROOT} first')
    if not args.no_torch and not (Path(args.official).expanduser() / 'models' / 'PosterV2_7cls.py').is_file():
        raise SystemExit(f'--official {args.official}: no models/PosterV2_7cls.py (git clone https://github.com/Talented-Q/POSTER_V2)')
    batches = [int(b) for b in args.batches.split(',')]
    expected = json.loads(FIXTURE.read_text())
    expected = {'logits': [v for row in expected['logits'][:2] for v in row], 'landmarks': [v for row in expected['landmarks'][:2] for v in row]}
    started = time.time()
    doctor, runs = poster_side(args, expected)
    result = {
        'created_at': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'host': platform.node(),
        'poster': runs,
        'doctor': {k: doctor.get(k) for k in ('poster', 'node', 'onnxruntime', 'devices', 'gpus')},
        'settings': {'batches': batches, 'runs': args.runs, 'quick': args.quick, 'torchImages': args.images},
    }
    if not args.no_torch:
        try:
            result['pytorch'] = torch_side(args, expected, batches)
        except Exception as e:  # the poster half is still worth writing
            result['pytorch'] = {'error': f'{type(e).__name__}: {e}'}
            log(f'PyTorch side failed: {e}')
    best = lambda vals: max((v for v in vals.values() if v is not None), default=None)
    t32 = best(((result.get('pytorch') or {}).get('imagesPerSecond') or {}).get('fp32', {}))
    for r in runs:
        if t32 and r.get('modelOnly'):
            r['bestOverPytorchFp32'] = best(r['modelOnly']) / t32
    result['seconds'] = round(time.time() - started, 1)
    md = table(result, batches)
    out = Path(args.out) if args.out else ROOT / 'bench-results' / f'gpu-{datetime.now().strftime("%Y%m%d-%H%M%S")}.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + '\n')
    gpu = next((r['gpu'] for r in runs if r.get('gpu')), None) or (result.get('pytorch') or {}).get('gpu') or 'no GPU named'
    text = f'# poster vs PyTorch on {gpu}\n\nmodel-only images/s (medians), deterministic POSTER++ weights, {result["created_at"]}\n\n{md}\n'
    for r in runs:
        if r.get('bestOverPytorchFp32'):
            text += f'\nposter {r["device"]} {r["dtype"]} at its best batch: {r["bestOverPytorchFp32"]:.2f}× PyTorch fp32 eager at its best batch'
    out.with_suffix('.md').write_text(text + '\n')
    print(text)
    log(f'wrote {out} and {out.with_suffix(".md")}')


if __name__ == '__main__':
    main()
