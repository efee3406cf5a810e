/**
 * poster doctor as a shell runs it (the built CLI): --json holds every device's probe and the GPU tools' answers;
 * --device makes the exit code say whether that device loads; --model places a model on each GPU that loads.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import type {DoctorReport} from '../../src/pipeline/doctor.js'
import {cudaProviderInstalled} from '../../src/runtime/session.js'
import {SEVEN_CLASS_SPEC, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'poster-doctor-'))
afterAll(() => rmSync(work, {recursive: true, force: true}))

function poster(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n ›\s+/g, ' ')}
}

describe('poster doctor', () => {
  it('reports every device with --json: the CPU always loads, and CUDA says how to install it when absent', () => {
    const r = poster(['doctor', '--json'])
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout) as DoctorReport
    expect(report.onnxruntime).toBe('1.30.0')
    expect(report.devices.map((d) => d.device)).toEqual(['cpu', 'cuda', 'webgpu'])
    const cpu = report.devices[0]!
    expect(cpu).toMatchObject({loads: true, ranOn: ['CPUExecutionProvider']})
    expect(report.backends).toContainEqual({name: 'webgpu', bundled: true})
    expect(report.cudaRequirement).toEqual({cuda: 12, cudnn: 9, install: 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci'})
    expect(report.gpus.cudaLibraries.map((l) => l.name)).toContain('libcudnn.so.9')
    const cuda = report.devices[1]!
    if (!cudaProviderInstalled()) {
      expect(cuda).toMatchObject({installed: false, loads: false})
      expect(cuda.help).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci')
    }
    const webgpu = report.devices[2]!
    // Either it ran the probe on WebGPU, or it says why not and what to install.
    if (webgpu.loads) expect(webgpu.ranOn).toContain('WebGpuExecutionProvider')
    else expect(webgpu.help).toMatch(/Vulkan/)
  })

  it('--device: exit 0 when the device loads, 1 with the install line when it does not', () => {
    const cpu = poster(['doctor', '--device', 'cpu'])
    expect(cpu.status).toBe(0)
    expect(cpu.stdout).toMatch(/^ {2}cpu {5}ok \(CPUExecutionProvider/m)
    expect(cpu.stdout).not.toMatch(/^ {2}cuda/m)
    if (!cudaProviderInstalled()) {
      const cuda = poster(['doctor', '--device', 'cuda'])
      expect(cuda.status).toBe(1)
      expect(cuda.stdout).toContain('not installed')
      expect(cuda.stdout).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci')
      expect(cuda.stdout).toContain('CUDA provider needs CUDA 12 + cuDNN 9')
    }
    expect(poster(['doctor', '--device', 'tpu']).status).toBe(2)
  })

  it('--model places the model on each GPU device that loads (none on a machine without one)', async () => {
    const model = await writeTinyModel(join(work, 'tiny.onnx'), {...SEVEN_CLASS_SPEC, landmarks: true})
    const r = poster(['doctor', '--model', model, '--json'])
    expect(r.status).toBe(0)
    const report = JSON.parse(r.stdout) as DoctorReport
    const gpus = report.devices.filter((d) => d.device !== 'cpu' && d.loads).map((d) => d.device)
    expect(report.model?.path).toBe(model)
    expect(report.model?.placements.map((p) => p.device)).toEqual(gpus)
    for (const p of report.model!.placements) {
      expect(p.ok).toBe(true)
      // ReduceMean, MatMul x2, Add, Sigmoid, Reshape: six nodes, each ran somewhere.
      expect(p.placement!.nodes).toBeGreaterThanOrEqual(5)
    }
  })
})
