import {describe, expect, it} from 'vitest'

import {describePlacement, placementFromProfile} from '../../src/runtime/placement.js'
import {missingLibrary, providerHelp, shortCause} from '../../src/runtime/provider-help.js'
import {cudaProviderInstalled, openSession, probeDevice, runtimeBinaryDir} from '../../src/runtime/session.js'

const ADAPTER_ERROR =
  "/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n    at stack"
const CUBLAS_ERROR =
  '/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: No such file or directory'

describe('provider messages', () => {
  it('shortens onnxruntime errors to their cause', () => {
    expect(shortCause(ADAPTER_ERROR)).toBe('Failed to get a WebGPU adapter: No supported adapters')
    expect(shortCause(CUBLAS_ERROR)).toBe(
      'Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: No such file or directory',
    )
    expect(shortCause('Error: plain\nsecond')).toBe('plain')
    expect(missingLibrary(CUBLAS_ERROR)).toBe('libcublasLt.so.12')
    expect(missingLibrary(ADAPTER_ERROR)).toBeUndefined()
  })

  it('says exactly how to install the CUDA provider when it is missing, and what it needs when it is there', () => {
    const missing = providerHelp('cuda', 'Failed to load shared library', {cudaProviderInstalled: false})
    expect(missing).toContain('`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`')
    expect(missing).toContain('CUDA 12.x and cuDNN 9.x')
    expect(missing).toContain('poster doctor')
    const broken = providerHelp('cuda', CUBLAS_ERROR, {cudaProviderInstalled: true})
    expect(broken).toContain('installed but did not start')
    expect(broken).toContain('libcublasLt.so.12 was not found')
    expect(broken).toContain('CUDA 12.x and cuDNN 9.x')
  })

  it('names the Vulkan driver to install when WebGPU finds no adapter', () => {
    const m = providerHelp('webgpu', ADAPTER_ERROR)
    expect(m).toContain('(Failed to get a WebGPU adapter: No supported adapters)')
    expect(m).toContain('libvulkan1')
    expect(m).toContain('bookworm-backports')
  })
})

describe('placement from an onnxruntime profile', () => {
  const ev = (name: string, provider: string, op: string, dur = 10) => ({cat: 'Node', name: `${name}_kernel_time`, dur, args: {provider, op_name: op}})
  const W = 'WebGpuExecutionProvider'
  const C = 'CPUExecutionProvider'

  it('counts distinct nodes per provider over several runs and lists the ops that fell back', () => {
    const events = [
      {cat: 'Session', name: 'model_loading_uri', dur: 5},
      ev('conv1', W, 'Conv', 100), ev('conv2', W, 'Conv', 50), ev('nms', C, 'NonMaxSuppression', 7), ev('topk', C, 'TopK', 3), ev('topk2', C, 'TopK', 3),
      // a second run of the same nodes
      ev('conv1', W, 'Conv', 100), ev('nms', C, 'NonMaxSuppression', 7),
      {cat: 'Node', name: 'conv1_fence_before', args: {provider: W}},
    ]
    const p = placementFromProfile(events, W)
    expect(p.nodes).toBe(5)
    expect(p.providers).toEqual([
      {provider: C, nodes: 3, ms: 0.02},
      {provider: W, nodes: 2, ms: 0.25},
    ])
    expect(p.fallbacks).toEqual([
      {op: 'TopK', provider: C, nodes: 2, examples: ['topk', 'topk2']},
      {op: 'NonMaxSuppression', provider: C, nodes: 1, examples: ['nms']},
    ])
    expect(describePlacement(p, W)).toBe(`5 nodes, 2 on ${W}; fell back: TopK ×2 on ${C}, NonMaxSuppression ×1 on ${C}`)
    expect(describePlacement(placementFromProfile([ev('a', W, 'Add')], W), W)).toBe(`1 nodes, all on ${W}`)
    expect(() => placementFromProfile({}, W)).toThrow(/JSON array/)
  })
})

describe('probing the devices', () => {
  it('runs the probe graph on the CPU provider', async () => {
    const p = await probeDevice('cpu')
    expect(p).toMatchObject({device: 'cpu', provider: 'CPUExecutionProvider', bundled: true, installed: true, loads: true, ranOn: ['CPUExecutionProvider']})
  })

  it('reports CUDA as not installed, with the install command, when its provider files are absent', async (ctx) => {
    if (cudaProviderInstalled()) return ctx.skip(`the CUDA provider is installed in ${runtimeBinaryDir()}`)
    const p = await probeDevice('cuda')
    expect(p).toMatchObject({device: 'cuda', bundled: false, installed: false, loads: false})
    expect(p.help).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci')
    await expect(openSession('/nonexistent.onnx', {device: 'cuda'})).rejects.toThrow(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/)
  })
})
