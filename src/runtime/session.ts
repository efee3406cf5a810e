/**
 * The only module that imports onnxruntime-node. It is imported lazily (`await import`) so that commands
 * which run no model start without loading the native runtime.
 */
import {existsSync} from 'node:fs'
import {mkdir, readdir, rename, rm, stat} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {basename, dirname, join} from 'node:path'
import {arch, cpus, platform} from 'node:os'

import type {InferenceSession as OrtSession, Tensor as OrtTensor} from 'onnxruntime-node'

import {INPUT_NUMEL, INPUT_SIZE} from '../basics.js'
import {CUDA_PROVIDER_FILES, type Device, providerHelp, shortCause} from './provider-help.js'
import {defaultThreads} from './threads.js'

export {DEVICES, GPU_DEVICES, PROVIDER_NAMES, type Device} from './provider-help.js'

export interface SessionOptions {
  device?: Device
  /** Intra-op threads; default: the CPUs this process may use (threads.ts). */
  threads?: number
  /**
   * Where to keep ORT's optimised graph between runs (a faster second start). It must be unique to the model's
   * content, the onnxruntime version and the CPU, since the optimised graph is specific to all three.
   */
  optimizedCache?: string
  /**
   * Record onnxruntime's profile (every node run: its provider, op and time) into `<profilePrefix>_<date>.json`;
   * `endProfiling()` returns the file. For tests and `poster doctor`: it slows every run a little.
   */
  profilePrefix?: string
}

export interface TensorSignature {
  name: string
  type: string
  shape: Array<number | string>
}

export interface ModelSignature {
  inputs: TensorSignature[]
  outputs: TensorSignature[]
}

export interface RunOutputs {
  /** Row-major [n, C]. */
  logits: Float32Array
  /** Row-major [n, 68, 2] when the model has a `landmarks` output and it was asked for. */
  landmarks?: Float32Array
}

export class RuntimeError extends Error {}

/** A loaded ONNX model: one image input [N,3,224,224], a logits output [N,C], optionally landmarks. */
export interface LoadedSession {
  readonly signature: ModelSignature
  readonly inputName: string
  readonly logitsName: string
  readonly landmarksName?: string
  readonly providers: string[]
  readonly device: Device
  run(batch: Float32Array, n: number, opts?: {landmarks?: boolean}): Promise<RunOutputs>
  /** With `profilePrefix`: stop profiling and return the profile's path (undefined without profiling). */
  endProfiling(): Promise<string | undefined>
  release(): Promise<void>
}

let ortModule: typeof import('onnxruntime-node') | undefined
async function ort(): Promise<typeof import('onnxruntime-node')> {
  ortModule ??= await import('onnxruntime-node')
  return ortModule
}

/** Execution providers for a device, with the message a user needs when one is not installed. */
export function executionProviders(device: Device): string[] {
  switch (device) {
    case 'cpu':
      return ['cpu']
    case 'cuda':
      return ['cuda', 'cpu']
    case 'webgpu':
      return ['webgpu', 'cpu']
  }
}

function describeShape(shape: ReadonlyArray<number | string>): string {
  return `[${shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : String(d))).join(', ')}]`
}

function signatureOf(session: OrtSession): ModelSignature {
  const toSig = (m: OrtSession.ValueMetadata): TensorSignature =>
    m.isTensor ? {name: m.name, type: String(m.type), shape: [...m.shape]} : {name: m.name, type: 'non-tensor', shape: []}
  return {inputs: session.inputMetadata.map(toSig), outputs: session.outputMetadata.map(toSig)}
}

/**
 * Check the model is an image classifier poster can feed: one float32 input [N,3,224,224] (N symbolic or any
 * number), a 2-D float32 output. Returns the names to use, or throws saying what was expected and found.
 */
export function validateSignature(sig: ModelSignature): {input: string; logits: string; landmarks?: string} {
  if (sig.inputs.length !== 1) {
    throw new RuntimeError(
      `expected a model with one image input [N, 3, 224, 224]; found ${sig.inputs.length} inputs: ` +
        sig.inputs.map((i) => `${i.name} ${describeShape(i.shape)}`).join(', '),
    )
  }
  const input = sig.inputs[0]
  const dims = input.shape
  const fixedOk = (d: number | string, want: number) => typeof d === 'string' || d === want || d < 0
  const shapeOk = dims.length === 4 && fixedOk(dims[1], 3) && fixedOk(dims[2], INPUT_SIZE) && fixedOk(dims[3], INPUT_SIZE)
  if (input.type !== 'float32' || !shapeOk) {
    throw new RuntimeError(
      `expected the model input to be float32 [N, 3, 224, 224]; found ${input.name}: ${input.type} ${describeShape(dims)}`,
    )
  }
  const twoD = sig.outputs.filter((o) => o.type === 'float32' && o.shape.length === 2)
  const logits = sig.outputs.find((o) => o.name === 'logits') ?? twoD[0]
  if (!logits || logits.shape.length !== 2) {
    throw new RuntimeError(
      'expected a float32 logits output [N, C]; found outputs ' +
        sig.outputs.map((o) => `${o.name}: ${o.type} ${describeShape(o.shape)}`).join(', '),
    )
  }
  const landmarks = sig.outputs.find((o) => o.name === 'landmarks')
  return {input: input.name, logits: logits.name, landmarks: landmarks?.name}
}

export {defaultThreads} from './threads.js'

/**
 * Create the session. On CPU with an `optimizedCache` path, the graph ORT optimised on an earlier start is loaded
 * as is (on 2 cores: 95 ms instead of 520 ms, same outputs); the first start writes it (to a temporary name,
 * renamed when complete, so a killed start leaves nothing half-written). A cache file that fails to load is
 * removed and the model is optimised again; a cache that cannot be written is simply not used.
 */
async function createSession(modelPath: string, device: Device, opts: SessionOptions): Promise<OrtSession> {
  const {InferenceSession} = await ort()
  const base: OrtSession.SessionOptions = {
    executionProviders: executionProviders(device),
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    // The memory pattern pre-plans one block for every intermediate of a run: at batch 32 POSTER++ peaked at
    // 1.74 GB with it and 1.14 GB without, and ran no slower (88 vs 81-83 ms/image on 2 cores).
    enableMemPattern: false,
    logSeverityLevel: 3,
    ...(opts.profilePrefix ? {enableProfiling: true, profileFilePrefix: opts.profilePrefix} : {}),
  }
  const cache = device === 'cpu' && !opts.profilePrefix ? opts.optimizedCache : undefined
  if (!cache) return InferenceSession.create(modelPath, base)
  if (existsSync(cache)) {
    try {
      return await InferenceSession.create(cache, {...base, graphOptimizationLevel: 'disabled'})
    } catch {
      await rm(cache, {force: true}).catch(() => {})
    }
  }
  const tmp = `${cache}.tmp-${process.pid}`
  try {
    await mkdir(dirname(cache), {recursive: true})
    const session = await InferenceSession.create(modelPath, {...base, optimizedModelFilePath: tmp})
    await rename(tmp, cache).catch(() => rm(tmp, {force: true}))
    return session
  } catch {
    await rm(tmp, {force: true}).catch(() => {})
    return InferenceSession.create(modelPath, base)
  }
}

export async function openSession(modelPath: string, opts: SessionOptions = {}): Promise<LoadedSession> {
  const device = opts.device ?? 'cpu'
  const {Tensor} = await ort()
  if (device === 'cuda' && !cudaProviderInstalled()) {
    // Asking onnxruntime anyway only adds its own red log line about a missing libonnxruntime_providers_shared.so.
    throw new RuntimeError(providerHelp('cuda', 'no libonnxruntime_providers_cuda.so next to the onnxruntime binding', {cudaProviderInstalled: false}))
  }
  let session: OrtSession
  try {
    session = await createSession(modelPath, device, opts)
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error)
    if (device !== 'cpu' && /provider|cuda|webgpu|dawn|adapter|vulkan|shared (librar|object)/i.test(msg)) {
      throw new RuntimeError(providerHelp(device, msg, {cudaProviderInstalled: cudaProviderInstalled()}))
    }
    throw new RuntimeError(`cannot load ONNX model ${modelPath}: ${shortCause(msg)}`)
  }
  const signature = signatureOf(session)
  let names: ReturnType<typeof validateSignature>
  try {
    names = validateSignature(signature)
  } catch (error) {
    await session.release()
    throw error
  }

  const inputDims = (n: number) => [n, 3, INPUT_SIZE, INPUT_SIZE]
  return {
    signature,
    inputName: names.input,
    logitsName: names.logits,
    landmarksName: names.landmarks,
    providers: executionProviders(device),
    device,
    async run(batch, n, runOpts) {
      const need = n * INPUT_NUMEL
      const view = batch.length === need ? batch : batch.subarray(0, need)
      const feeds: Record<string, OrtTensor> = {[names.input]: new Tensor('float32', view, inputDims(n))}
      const fetch = [names.logits]
      if (runOpts?.landmarks && names.landmarks) fetch.push(names.landmarks)
      const out = await session.run(feeds, fetch)
      const logits = out[names.logits]
      const result: RunOutputs = {logits: logits.data as Float32Array}
      if (runOpts?.landmarks && names.landmarks) result.landmarks = out[names.landmarks].data as Float32Array
      return result
    },
    async endProfiling() {
      if (!opts.profilePrefix) return undefined
      session.endProfiling()
      return newestProfile(opts.profilePrefix)
    },
    release: () => session.release(),
  }
}

/** The profile onnxruntime wrote for `prefix` (it appends `_<date>.json`): the newest such file. */
async function newestProfile(prefix: string): Promise<string | undefined> {
  const dir = dirname(prefix)
  const stem = `${basename(prefix)}_`
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.startsWith(stem) && f.endsWith('.json'))
  let best: {path: string; mtime: number} | undefined
  for (const f of files) {
    const path = join(dir, f)
    const {mtimeMs} = await stat(path)
    if (!best || mtimeMs > best.mtime) best = {path, mtime: mtimeMs}
  }
  return best?.path
}

/** Where onnxruntime-node keeps its native binding and provider libraries for this platform. */
export function runtimeBinaryDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node')
  return join(dirname(dirname(main)), 'bin', 'napi-v6', platform(), arch())
}

/**
 * Whether `ONNXRUNTIME_NODE_INSTALL=cuda12` put the CUDA provider's libraries next to the binding (linux x64, the
 * one platform where onnxruntime-node installs them that way; elsewhere onnxruntime itself is asked).
 */
export function cudaProviderInstalled(dir?: string): boolean {
  if (dir === undefined && (platform() !== 'linux' || arch() !== 'x64')) return true
  const at = dir ?? runtimeBinaryDir()
  return CUDA_PROVIDER_FILES.every((f) => existsSync(join(at, f)))
}

/** A key for optimised-graph caches: onnxruntime version, CPU model and architecture. */
export async function runtimeFingerprint(): Promise<string> {
  const {env} = await ort()
  const cpu = (cpus()[0]?.model ?? 'cpu').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')
  return `ort${env.versions.common}-${arch()}-${cpu}`
}

/** A tensor handed to or returned by a generic model: float32 values and their dimensions. */
export interface FloatTensor {
  data: Float32Array
  dims: readonly number[]
}

/** Any ONNX model with float32 inputs and outputs (the face detector), through the same runtime as POSTER++. */
export interface GenericModel {
  readonly inputs: TensorSignature[]
  readonly outputs: TensorSignature[]
  /** Run on `feeds`; `fetch` names the outputs wanted (default: all of them). */
  run(feeds: Record<string, FloatTensor>, fetch?: readonly string[]): Promise<Record<string, FloatTensor>>
  release(): Promise<void>
}

/**
 * Open an auxiliary model, from a file or from ONNX bytes (a graph rewritten in memory). Always on the CPU
 * provider: the detector is small (a few ms per image) and runs beside POSTER++ on whatever device that uses;
 * `threads` bounds its share of the cores.
 */
export async function openGenericModel(model: string | Uint8Array, opts: {threads?: number} = {}): Promise<GenericModel> {
  const {InferenceSession, Tensor} = await ort()
  let session: OrtSession
  const shown = typeof model === 'string' ? model : `(${model.length} bytes in memory)`
  try {
    const options: OrtSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    }
    session = typeof model === 'string' ? await InferenceSession.create(model, options) : await InferenceSession.create(model, options)
  } catch (error) {
    throw new RuntimeError(`cannot load ONNX model ${shown}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`)
  }
  const sig = signatureOf(session)
  return {
    inputs: sig.inputs,
    outputs: sig.outputs,
    async run(feeds, fetch) {
      const ortFeeds: Record<string, OrtTensor> = {}
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new Tensor('float32', t.data, [...t.dims])
      const out = fetch ? await session.run(ortFeeds, [...fetch]) : await session.run(ortFeeds)
      const result: Record<string, FloatTensor> = {}
      for (const [name, t] of Object.entries(out)) result[name] = {data: t.data as Float32Array, dims: [...t.dims]}
      return result
    },
    release: () => session.release(),
  }
}

/** What `poster doctor` says about one device: is its provider there, does it start, do nodes run on it. */
export interface DeviceProbe {
  device: Device
  provider: string
  /** onnxruntime-node ships this provider in its npm package. */
  bundled: boolean
  /** Its libraries are present (bundled ones always; CUDA after `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`). */
  installed: boolean
  /** A session on this device was created and ran a small graph. */
  loads: boolean
  /** The providers that ran the probe graph's nodes (a provider that starts but places nothing shows here). */
  ranOn: string[]
  /** onnxruntime's cause, shortened; and what to do about it. */
  error?: string
  help?: string
  /** Time to create the session and run the probe graph once, ms. */
  ms: number
}

/** onnxruntime-node's version and the providers its build knows (bundled or installable). */
export async function runtimeInfo(): Promise<{version: string; backends: Array<{name: string; bundled: boolean}>}> {
  const o = await ort()
  return {version: o.env.versions.common, backends: o.listSupportedBackends().map((b) => ({name: b.name, bundled: b.bundled}))}
}

/**
 * Create a session for `device` on a small graph (MatMul, Add, Relu on [2,64]) and run it once with profiling on,
 * so the answer says both whether the provider starts and whether it really ran the nodes.
 */
export async function probeDevice(device: Device): Promise<DeviceProbe> {
  const {InferenceSession, Tensor, listSupportedBackends} = await ort()
  const {PROVIDER_NAMES} = await import('./provider-help.js')
  const provider = PROVIDER_NAMES[device]
  const ortName = executionProviders(device)[0]!
  const bundled = listSupportedBackends().find((b) => b.name === ortName)?.bundled ?? false
  const installed = device === 'cuda' ? cudaProviderInstalled() : bundled
  const {probeModelBytes} = await import('./probe-model.js')
  const {mkdtemp} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const dir = await mkdtemp(join(tmpdir(), 'poster-probe-'))
  const t0 = performance.now()
  if (device === 'cuda' && !installed) {
    const cause = 'no libonnxruntime_providers_cuda.so next to the onnxruntime binding'
    await rm(dir, {recursive: true, force: true}).catch(() => {})
    return {device, provider, bundled, installed, loads: false, ranOn: [], error: cause, help: providerHelp(device, cause, {cudaProviderInstalled: false}), ms: 0}
  }
  try {
    const {bytes, input, dims} = probeModelBytes()
    const session = await InferenceSession.create(bytes, {
      executionProviders: executionProviders(device),
      logSeverityLevel: 3,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'probe'),
    })
    try {
      await session.run({x: new Tensor('float32', input, dims)})
      session.endProfiling()
    } finally {
      await session.release()
    }
    const ms = performance.now() - t0
    const file = await newestProfile(join(dir, 'probe'))
    const {readFile} = await import('node:fs/promises')
    const {placementFromProfile} = await import('./placement.js')
    const placement = file ? placementFromProfile(JSON.parse(await readFile(file, 'utf8')), provider) : undefined
    return {device, provider, bundled, installed, loads: true, ranOn: placement?.providers.map((p) => p.provider) ?? [], ms}
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error)
    const help = device === 'cpu' ? undefined : providerHelp(device, msg, {cudaProviderInstalled: installed})
    return {device, provider, bundled, installed, loads: false, ranOn: [], error: shortCause(msg), help, ms: performance.now() - t0}
  } finally {
    await rm(dir, {recursive: true, force: true}).catch(() => {})
  }
}

/** Options of the CPU sessions below: the same graph optimisation and threading as openSession. */
function cpuOptions(threads: number | undefined): OrtSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads ?? defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableMemPattern: false,
    logSeverityLevel: 3,
  }
}

/**
 * Write the graph onnxruntime actually runs on this CPU (after its fusions: QDQ → QLinearConv, ...) to `outPath`
 * (session option optimizedModelFilePath); the session is released at once.
 */
export async function writeOptimizedModel(modelPath: string, outPath: string, opts: {threads?: number} = {}): Promise<void> {
  const {InferenceSession} = await ort()
  let session: OrtSession
  try {
    session = await InferenceSession.create(modelPath, {...cpuOptions(opts.threads), optimizedModelFilePath: outPath})
  } catch (error) {
    throw new RuntimeError(`cannot load ONNX model ${modelPath}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`)
  }
  await session.release()
}

/** One node's time in an onnxruntime profile, summed over the profiled runs. */
export interface ProfiledOp {
  op: string
  /** Microseconds over all profiled runs. */
  us: number
  /** Node executions counted. */
  calls: number
}

/**
 * Run `model` `runs` times on `input` ([n, 3, 224, 224]) with onnxruntime's profiler and return the kernel time
 * per op type, slowest first (the first, untimed run is left out of the profile by a warm-up before it starts).
 */
export async function profileModel(
  modelPath: string,
  input: Float32Array,
  n: number,
  opts: {runs?: number; threads?: number; tmpDir: string},
): Promise<ProfiledOp[]> {
  const {InferenceSession, Tensor} = await ort()
  const {readFile, readdir} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const prefix = join(opts.tmpDir, 'ort-profile')
  const session = await InferenceSession.create(modelPath, {...cpuOptions(opts.threads), enableProfiling: true, profileFilePrefix: prefix})
  let file: string | undefined
  try {
    const feeds = {[session.inputNames[0]!]: new Tensor('float32', input.subarray(0, n * INPUT_NUMEL), [n, 3, INPUT_SIZE, INPUT_SIZE])}
    await session.run(feeds) // warm-up: its events are dropped below (first run's kernels include one-time packing)
    const runs = Math.max(1, opts.runs ?? 3)
    for (let i = 0; i < runs; i++) await session.run(feeds)
    session.endProfiling()
  } finally {
    await session.release()
  }
  const found = (await readdir(opts.tmpDir)).filter((f) => f.startsWith('ort-profile') && f.endsWith('.json'))
  file = found.length > 0 ? join(opts.tmpDir, found.sort().at(-1)!) : undefined
  if (!file) throw new RuntimeError('onnxruntime wrote no profile')
  const events = JSON.parse(await readFile(file, 'utf8')) as Array<{cat?: string; name?: string; dur?: number; args?: {op_name?: string}}>
  // Model runs appear as 'model_run' session events; skip the nodes of the first (warm-up) run.
  const runEnds: number[] = []
  events.forEach((e, i) => {
    if (e.cat === 'Session' && e.name === 'model_run') runEnds.push(i)
  })
  const firstRunEnd = runEnds[0] ?? -1
  const byOp = new Map<string, ProfiledOp>()
  events.forEach((e, i) => {
    if (i <= firstRunEnd || e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) return
    const op = e.args?.op_name ?? 'unknown'
    const entry = byOp.get(op) ?? {op, us: 0, calls: 0}
    entry.us += e.dur ?? 0
    entry.calls++
    byOp.set(op, entry)
  })
  return [...byOp.values()].sort((a, b) => b.us - a.us)
}
