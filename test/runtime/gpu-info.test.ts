import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {
  deviceName,
  describeVulkanDevice,
  gpuReport,
  parseCudaDriverVersion,
  parseLdconfig,
  parseNvidiaQuery,
  parseVulkanSummary,
  preferredVulkanDevice,
} from '../../src/runtime/gpu-info.js'

const LAVAPIPE = readFileSync(new URL('../fixtures/gpu/vulkaninfo-lavapipe.txt', import.meta.url), 'utf8')
const NVIDIA_QUERY = '0, NVIDIA H200, 570.86.15, 143771\n1, NVIDIA H200, 570.86.15, 143771\n'
const NVIDIA_BANNER = `+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: 12.8     |
|-----------------------------------------+------------------------+----------------------+`

describe('GPU tool outputs', () => {
  it('reads lavapipe from vulkaninfo --summary', () => {
    const devices = parseVulkanSummary(LAVAPIPE)
    expect(devices).toEqual([
      {
        name: 'llvmpipe (LLVM 15.0.6, 256 bits)',
        type: 'PHYSICAL_DEVICE_TYPE_CPU',
        driverName: 'llvmpipe',
        driverInfo: 'Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)',
        apiVersion: '1.4.305',
      },
    ])
    expect(describeVulkanDevice(devices[0]!)).toBe('llvmpipe (LLVM 15.0.6, 256 bits) (software Vulkan, Mesa 25.0.7)')
    expect(parseVulkanSummary('no devices section')).toEqual([])
  })

  it('prefers a discrete GPU over software Vulkan, as Dawn does', () => {
    const devices = [
      {name: 'llvmpipe', type: 'PHYSICAL_DEVICE_TYPE_CPU'},
      {name: 'NVIDIA H200', type: 'PHYSICAL_DEVICE_TYPE_DISCRETE_GPU', driverInfo: '570.86.15'},
      {name: 'Intel UHD', type: 'PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU'},
    ]
    expect(preferredVulkanDevice(devices)?.name).toBe('NVIDIA H200')
    expect(describeVulkanDevice(devices[1]!)).toBe('NVIDIA H200 (570.86.15)')
  })

  it('reads nvidia-smi\'s query CSV, banner and ldconfig -p', () => {
    expect(parseNvidiaQuery(NVIDIA_QUERY)).toEqual([
      {index: 0, name: 'NVIDIA H200', driver: '570.86.15', memoryMiB: 143771},
      {index: 1, name: 'NVIDIA H200', driver: '570.86.15', memoryMiB: 143771},
    ])
    expect(parseCudaDriverVersion(NVIDIA_BANNER)).toBe('12.8')
    const ld = parseLdconfig('123 libs found in cache `/etc/ld.so.cache\'\n\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9\n\tlibvulkan.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libvulkan.so.1\n')
    expect(ld.get('libcudnn.so.9')).toBe('/usr/lib/x86_64-linux-gnu/libcudnn.so.9')
    expect(ld.size).toBe(2)
  })

  it('assembles a report from whatever tools answer, and names the GPU behind each device', async () => {
    const exec = async (cmd: string, args: string[]) => {
      if (cmd === 'nvidia-smi') return {ok: true, stdout: args.length ? NVIDIA_QUERY : NVIDIA_BANNER}
      if (cmd === 'vulkaninfo') return {ok: false, stdout: '', error: 'vulkaninfo not found'}
      return {ok: true, stdout: '\tlibcudart.so.12 (libc6,x86-64) => /opt/cuda/lib64/libcudart.so.12\n'}
    }
    const r = await gpuReport({exec, env: {VK_ICD_FILENAMES: '/nonexistent/icd.json'}})
    expect(r.nvidia).toEqual({gpus: parseNvidiaQuery(NVIDIA_QUERY), cudaDriverVersion: '12.8'})
    expect(r.vulkan).toBeUndefined()
    expect(r.vulkanNote).toMatch(/vulkan-tools/)
    expect(r.icdFiles).toEqual([])
    expect(r.cudaLibraries.find((l) => l.name === 'libcudart.so.12')).toEqual({name: 'libcudart.so.12', path: '/opt/cuda/lib64/libcudart.so.12'})
    expect(r.cudaLibraries.find((l) => l.name === 'libcudnn.so.9')).toEqual({name: 'libcudnn.so.9'})
    expect(deviceName('cuda', r)).toBe('NVIDIA H200 (driver 570.86.15)')
    expect(deviceName('webgpu', r)).toMatch(/^NVIDIA H200 .*no vulkaninfo/)
    const none = await gpuReport({exec: async (cmd) => ({ok: false, stdout: '', error: `${cmd} not found`}), env: {}})
    expect(none.nvidiaNote).toBe('nvidia-smi not found')
    expect(deviceName('cuda', none)).toBeUndefined()
  })
})
