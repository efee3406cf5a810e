/**
 * The only module that imports onnxruntime-node. It is imported lazily (`await import`) so that commands
 * which run no model start without loading the native runtime.
 */
import {existsSync} from 'node:fs'
import {mkdir, rename, rm} from 'node:fs/promises'
import {dirname} from 'node:path'
import {arch, cpus} from 'node:os'

import type {InferenceSession as OrtSession, Tensor as OrtTensor} from 'onnxruntime-node'

import {INPUT_NUMEL, INPUT_SIZE} from '../basics.js'
import {defaultThreads} from './threads.js'

export type Device = 'cpu' | 'cuda' | 'webgpu'
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu']

export interface SessionOptions {
  device?: Device
  /** Intra-op threads; default: the CPUs this process may use (threads.ts). */
  threads?: number
  /**
   * Where to keep ORT's optimised graph between runs (a faster second start). It must be unique to the model's
   * content, the onnxruntime version and the CPU, since the optimised graph is specific to all three.
   */
  optimizedCache?: string
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
  run(batch: Float32Array, n: number, opts?: {landmarks?: boolean}): Promise<RunOutputs>
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

function providerHelp(device: Device, cause: string): string {
  if (device === 'cuda') {
    return (
      `the CUDA execution provider is not available (${cause}). onnxruntime-node ships only the CPU and WebGPU ` +
      'providers; install the CUDA 12 binaries with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node` ' +
      '(needs CUDA 12 and cuDNN 9 on the library path), or use --device cpu.'
    )
  }
  if (device === 'webgpu') {
    return `the WebGPU execution provider could not start (${cause}). Use --device cpu.`
  }
  return cause
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
  }
  const cache = device === 'cpu' ? opts.optimizedCache : undefined
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
  let session: OrtSession
  try {
    session = await createSession(modelPath, device, opts)
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error)
    if (device !== 'cpu' && /provider|cuda|webgpu|dawn|shared librar/i.test(msg)) {
      throw new RuntimeError(providerHelp(device, msg.split('\n')[0]))
    }
    throw new RuntimeError(`cannot load ONNX model ${modelPath}: ${msg.split('\n')[0]}`)
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
    release: () => session.release(),
  }
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
  run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>>
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
    async run(feeds) {
      const ortFeeds: Record<string, OrtTensor> = {}
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new Tensor('float32', t.data, [...t.dims])
      const out = await session.run(ortFeeds)
      const result: Record<string, FloatTensor> = {}
      for (const [name, t] of Object.entries(out)) result[name] = {data: t.data as Float32Array, dims: [...t.dims]}
      return result
    },
    release: () => session.release(),
  }
}
