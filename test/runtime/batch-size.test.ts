import {describe, expect, it} from 'vitest'

import type {GpuReport} from '../../src/runtime/gpu-info.js'
import {AUTO_BATCH, autoBatchSize, batchFacts, resolveBatchSize} from '../../src/runtime/batch-size.js'

const report = (over: Partial<GpuReport>): GpuReport => ({icdFiles: [], cudaLibraries: [], ...over})
const H200 = {index: 0, name: 'NVIDIA H200', driver: '570.86.15', memoryMiB: 143771}

describe('--batch-size auto', () => {
  it('keeps the command default on the CPU, 8 on software Vulkan, and fills a GPU by its memory', () => {
    expect(autoBatchSize({device: 'cpu'}, 32).size).toBe(32)
    expect(autoBatchSize({device: 'webgpu', software: true, gpu: 'llvmpipe'}, 32)).toEqual({size: 8, why: 'webgpu on software Vulkan (llvmpipe)'})
    const sizes = [4096, 8192, 16384, 24576, 81920, 143771].map((m) => autoBatchSize({device: 'cuda', memoryMiB: m}, 32).size)
    expect(sizes).toEqual([16, 32, 64, 64, 128, 128])
    expect(autoBatchSize({device: 'cuda', memoryMiB: 1024}, 32).size).toBe(AUTO_BATCH.min)
    expect(autoBatchSize({device: 'webgpu', gpu: 'AMD Radeon'}, 32)).toEqual({size: 32, why: 'webgpu (AMD Radeon), memory unknown'})
  })

  it('reads the facts from nvidia-smi and vulkaninfo', () => {
    expect(batchFacts('cuda', report({nvidia: {gpus: [H200]}}))).toEqual({device: 'cuda', gpu: 'NVIDIA H200', memoryMiB: 143771})
    const lavapipe = {name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'PHYSICAL_DEVICE_TYPE_CPU'}
    expect(batchFacts('webgpu', report({vulkan: [lavapipe]}))).toEqual({device: 'webgpu', gpu: lavapipe.name, software: true})
    const vkH200 = {name: 'NVIDIA H200', type: 'PHYSICAL_DEVICE_TYPE_DISCRETE_GPU'}
    expect(batchFacts('webgpu', report({vulkan: [lavapipe, vkH200], nvidia: {gpus: [H200]}}))).toEqual({device: 'webgpu', gpu: 'NVIDIA H200', software: false, memoryMiB: 143771})
    // No vulkaninfo, no nvidia-smi: software unless the machine has a GPU device node.
    expect(batchFacts('webgpu', report({}), () => false)).toEqual({device: 'webgpu', software: true})
    expect(batchFacts('webgpu', report({}), () => true)).toEqual({device: 'webgpu', software: false})
  })

  it('leaves a number as it is, and auto on the CPU at the default, without asking any tool', async () => {
    expect(await resolveBatchSize(16, 'webgpu', 32)).toBe(16)
    expect(await resolveBatchSize(undefined, 'cuda', 32)).toBe(32)
    const said: string[] = []
    expect(await resolveBatchSize('auto', 'cpu', 32, (m) => said.push(m))).toBe(32)
    expect(said).toEqual([])
  })
})
