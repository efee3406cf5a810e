/**
 * The only module that imports onnxruntime-node. It is imported lazily (`await import`) so that commands
 * which run no model start without loading the native runtime.
 */
import {existsSync, statSync} from 'node:fs'
import {cpus} from 'node:os'

import type {InferenceSession as OrtSession, Tensor as OrtTensor} from 'onnxruntime-node'

export type Device = 'cpu' | 'cuda' | 'webgpu'
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu']

export interface SessionOptions {
  device?: Device
  /** Intra-op threads; default: one per physical core ORT sees. */
  threads?: number
  /** Save the optimised graph next to the model (MODEL.ort-opt.onnx) and load it next time: a faster second start. */
  optimizedCache?: boolean
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
  const shapeOk = dims.length === 4 && fixedOk(dims[1], 3) && fixedOk(dims[2], 224) && fixedOk(dims[3], 224)
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

export function defaultThreads(): number {
  return Math.max(1, cpus().length)
}

export async function openSession(modelPath: string, opts: SessionOptions = {}): Promise<LoadedSession> {
  const device = opts.device ?? 'cpu'
  const {InferenceSession, Tensor} = await ort()
  const optimizedPath = `${modelPath}.ort-opt.onnx`
  // A cached optimised graph is only trusted when it is newer than the model it was made from.
  const useCached =
    opts.optimizedCache === true &&
    device === 'cpu' &&
    existsSync(optimizedPath) &&
    statSync(optimizedPath).mtimeMs >= statSync(modelPath).mtimeMs
  const options: OrtSession.SessionOptions = {
    executionProviders: executionProviders(device),
    graphOptimizationLevel: useCached ? 'disabled' : 'all',
    intraOpNumThreads: opts.threads ?? defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    logSeverityLevel: 3,
  }
  if (opts.optimizedCache && !useCached && device === 'cpu') options.optimizedModelFilePath = optimizedPath
  let session: OrtSession
  try {
    session = await InferenceSession.create(useCached ? optimizedPath : modelPath, options)
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

  const inputDims = (n: number) => [n, 3, 224, 224]
  return {
    signature,
    inputName: names.input,
    logitsName: names.logits,
    landmarksName: names.landmarks,
    providers: executionProviders(device),
    async run(batch, n, runOpts) {
      const need = n * 3 * 224 * 224
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
