/**
 * The optional PyTorch baseline of `poster bench`: the official POSTER++ code (a checkout of Talented-Q/POSTER_V2)
 * in PyTorch eager, eval mode, with the same deterministic weights as the converted graph. The Python script is
 * embedded here (dist/ only holds tsc output) and written to a temporary file at run time.
 *
 * Enabled by POSTER_BENCH_PYTHON (an interpreter with torch + numpy) and POSTER_BENCH_OFFICIAL (the checkout).
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * The official model needs timm and thop only for names it imports (DropPath, trunc_normal_, to_2tuple, profile,
 * and placeholders vit_model.py redefines), so small stand-ins are registered instead of requiring those packages.
 * Its constructor torch.load()s pretrained IR-50 / MobileFaceNet files that are not in the repository: during
 * construction torch.load returns an empty state dict and load_state_dict does nothing; the deterministic weights
 * are then loaded with strict=True, so every parameter and buffer is accounted for.
 */
export const PYTHON_BASELINE_SCRIPT = String.raw`
import sys, os, json, time, types, argparse, resource, warnings, collections
warnings.filterwarnings('ignore')
import numpy as np
import torch
import torch.nn as nn

def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m

class _DropPath(nn.Module):
    # Stochastic depth is the identity in eval mode, the only mode benchmarked.
    def __init__(self, p=0.0):
        super().__init__()
        self.p = p
    def forward(self, x):
        return x

def _pair(x):
    return x if isinstance(x, (tuple, list)) else (x, x)

def install_stubs():
    try:
        import timm.models.layers  # noqa: F401  (a real timm, when installed, is used as is)
    except Exception:
        _module('timm')
        _module('timm.models')
        _module('timm.models.layers', DropPath=_DropPath, to_2tuple=_pair,
                trunc_normal_=lambda t, **k: nn.init.trunc_normal_(t, **k))
        _module('timm.models.registry', register_model=lambda f: f)
        _module('timm.models.vision_transformer', _cfg=lambda **k: k, Mlp=nn.Module, Block=nn.Module)
    try:
        import thop  # noqa: F401
    except Exception:
        _module('thop', profile=lambda *a, **k: (0, 0))

def blas_library():
    # Which BLAS the process actually mapped (Debian's torch uses whatever libblas.so.3 points to).
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({line.split()[-1] for line in f if 'blas' in line.lower() and '.so' in line})
        return ', '.join(os.path.realpath(l) for l in libs) or 'none mapped'
    except OSError:
        return 'unknown'

def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

M32 = np.uint64(0xFFFFFFFF)

def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode('utf-8'):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h

def uniform(seed, n):
    x = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(seed)) & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & M32
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / 4294967296.0 * 2.0 - 1.0

def build_model(args):
    install_stubs()
    sys.path.insert(0, args.official)
    mod = __import__('models.PosterV2_%dcls' % args.classes, fromlist=['pyramid_trans_expr2'])
    real_load, real_lsd = torch.load, nn.Module.load_state_dict
    torch.load = lambda *a, **k: {'state_dict': {}}
    nn.Module.load_state_dict = lambda self, *a, **k: None
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr  # the constructor prints; keep stdout clean
    try:
        model = mod.pyramid_trans_expr2(img_size=224, num_classes=args.classes)
    finally:
        torch.load, nn.Module.load_state_dict = real_load, real_lsd
        sys.stdout = saved_stdout
    own = model.state_dict()
    weights = collections.OrderedDict()
    for e in json.load(open(args.manifest)):
        key = e['key']
        if e['center'] is None:
            weights[key] = own[key].clone()  # integer buffers: num_batches_tracked, relative_position_index
        else:
            n = int(np.prod(e['shape'])) if e['shape'] else 1
            u = uniform(fnv1a32(args.seed + ':' + key), n)
            weights[key] = torch.from_numpy((e['center'] + e['scale'] * u).astype(np.float32).reshape(e['shape']))
    model.load_state_dict(weights, strict=True)
    model.eval()
    return model, weights

def deterministic_input(batch):
    u = uniform(fnv1a32('parity-input-v1'), batch * 3 * 224 * 224)
    return torch.from_numpy((2.0 * u).astype(np.float32).reshape(batch, 3, 224, 224))

def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['prepare', 'bench', 'export'])
    p.add_argument('--official', required=True)
    p.add_argument('--manifest', required=True)
    p.add_argument('--result', required=True)
    p.add_argument('--classes', type=int, default=7)
    p.add_argument('--seed', default='poster-parity-v1')
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--images', type=int, default=32)
    p.add_argument('--checkpoint', default='')
    p.add_argument('--out', default='')
    p.add_argument('--parity-batch', type=int, default=2)
    p.add_argument('--budget-s', type=float, default=0.0)
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    t0 = time.perf_counter()
    model, weights = build_model(args)
    build_s = time.perf_counter() - t0
    out = {'mode': args.mode, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'build_s': build_s,
           'parameters': int(sum(v.numel() for v in weights.values() if v.is_floating_point()))}
    if args.mode == 'prepare':
        with torch.inference_mode():
            out['logits'] = model(deterministic_input(args.parity_batch)).reshape(-1).tolist()
        out['blas'] = blas_library()
        if args.checkpoint:
            sd = collections.OrderedDict(('module.' + k, v) for k, v in weights.items())
            torch.save({'epoch': 0, 'state_dict': sd, 'best_acc': 0.0}, args.checkpoint)
            out['checkpoint_bytes'] = os.path.getsize(args.checkpoint)
    elif args.mode == 'bench':
        torch.manual_seed(0)
        x = torch.randn(args.batch, 3, 224, 224)
        target = max(1, -(-args.images // args.batch))
        with torch.inference_mode():
            # Eager mode has little to warm up; one image is enough and keeps batch 32 affordable.
            w0 = time.perf_counter()
            model(x[:1])
            out['warmup_ms'] = (time.perf_counter() - w0) * 1000
            lat = []
            s0 = time.perf_counter()
            while len(lat) < target:
                c0 = time.perf_counter()
                model(x)
                lat.append((time.perf_counter() - c0) * 1000)
                if args.budget_s > 0 and time.perf_counter() - s0 >= args.budget_s:
                    break
            seconds = time.perf_counter() - s0
        calls = len(lat)
        images = calls * args.batch
        out.update({'batch': args.batch, 'images': images, 'calls': calls, 'seconds': seconds,
                    'images_per_s': images / seconds, 'ms_per_image': seconds * 1000 / images,
                    'call_ms_median': float(np.median(lat))})
    else:
        x = torch.zeros(args.batch, 3, 224, 224)
        e0 = time.perf_counter()
        with torch.no_grad():
            torch.onnx.export(model, x, args.out, input_names=['input'], output_names=['logits'],
                              opset_version=14, do_constant_folding=True)
        out.update({'batch': args.batch, 'export_s': time.perf_counter() - e0, 'bytes': os.path.getsize(args.out)})
    out['peak_rss_mb'] = peak_rss_mb()
    with open(args.result, 'w') as f:
        json.dump(out, f)

if __name__ == '__main__':
    main()
`

export interface PythonEnv {
  python: string
  official: string
}

/** The baseline's settings from the environment, or why it is skipped. */
export function pythonBaselineEnv(env: Record<string, string | undefined> = process.env): PythonEnv | {skipped: string} {
  const python = env.POSTER_BENCH_PYTHON?.trim()
  const official = env.POSTER_BENCH_OFFICIAL?.trim()
  if (!python || !official) return {skipped: 'POSTER_BENCH_PYTHON and POSTER_BENCH_OFFICIAL are not both set'}
  if (!existsSync(join(official, 'models', 'PosterV2_7cls.py'))) {
    return {skipped: `POSTER_BENCH_OFFICIAL=${official} has no models/PosterV2_7cls.py (expected a Talented-Q/POSTER_V2 checkout)`}
  }
  return {python, official}
}

export interface PythonCommon {
  manifest: string
  classes: number
  threads: number
}

export interface PythonPrepareResult {
  mode: 'prepare'
  torch: string
  threads: number
  build_s: number
  parameters: number
  logits: number[]
  /** The BLAS shared libraries the Python process mapped. */
  blas: string
  checkpoint_bytes?: number
  peak_rss_mb: number
}

export interface PythonBenchResult {
  mode: 'bench'
  torch: string
  threads: number
  build_s: number
  batch: number
  images: number
  calls: number
  warmup_ms: number
  seconds: number
  images_per_s: number
  ms_per_image: number
  call_ms_median: number
  peak_rss_mb: number
}

export interface PythonExportResult {
  mode: 'export'
  torch: string
  batch: number
  export_s: number
  bytes: number
  peak_rss_mb: number
}

/** A temporary folder holding the script; remove() when done. */
export class PythonBaseline {
  private constructor(readonly env: PythonEnv, readonly dir: string, readonly script: string, readonly common: PythonCommon) {}

  static async create(env: PythonEnv, common: Omit<PythonCommon, 'manifest'> & {manifest: unknown}): Promise<PythonBaseline> {
    const dir = await mkdtemp(join(tmpdir(), 'poster-bench-py-'))
    const script = join(dir, 'poster_bench_baseline.py')
    await writeFile(script, PYTHON_BASELINE_SCRIPT)
    const manifest = join(dir, 'manifest.json')
    await writeFile(manifest, JSON.stringify(common.manifest))
    return new PythonBaseline(env, dir, script, {manifest, classes: common.classes, threads: common.threads})
  }

  prepare(opts: {checkpoint?: string; parityBatch: number}): Promise<PythonPrepareResult> {
    const args = ['--parity-batch', String(opts.parityBatch)]
    if (opts.checkpoint) args.push('--checkpoint', opts.checkpoint)
    return this.run<PythonPrepareResult>('prepare', args)
  }

  /** At most `images` images (whole batches), stopping after the call that passes `budgetSeconds`; at least one call. */
  bench(opts: {batch: number; images: number; budgetSeconds?: number}): Promise<PythonBenchResult> {
    const args = ['--batch', String(opts.batch), '--images', String(opts.images)]
    if (opts.budgetSeconds) args.push('--budget-s', String(opts.budgetSeconds))
    return this.run<PythonBenchResult>('bench', args)
  }

  export(opts: {batch: number; out: string}): Promise<PythonExportResult> {
    return this.run<PythonExportResult>('export', ['--batch', String(opts.batch), '--out', opts.out])
  }

  async remove(): Promise<void> {
    await rm(this.dir, {recursive: true, force: true})
  }

  private async run<T>(mode: string, extra: string[], timeoutMs = 30 * 60_000): Promise<T> {
    const result = join(this.dir, `result-${mode}-${Date.now()}.json`)
    const args = [
      this.script, mode,
      '--official', this.env.official,
      '--manifest', this.common.manifest,
      '--classes', String(this.common.classes),
      '--threads', String(this.common.threads),
      '--result', result,
      ...extra,
    ]
    const {code, stderr} = await new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
      const child = spawn(this.env.python, args, {stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, PYTHONDONTWRITEBYTECODE: '1'}})
      let err = ''
      child.stderr.on('data', (d: Buffer) => {
        err = (err + d.toString('utf8')).slice(-8000)
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      child.on('error', reject)
      child.on('close', (c) => {
        clearTimeout(timer)
        resolve({code: c, stderr: err})
      })
    })
    try {
      return JSON.parse(await readFile(result, 'utf8')) as T
    } catch {
      const tail = stderr.trim().split('\n').slice(-3).join(' ')
      throw new Error(`PyTorch baseline (${mode}) failed with exit code ${code}: ${tail}`)
    } finally {
      await rm(result, {force: true})
    }
  }
}
