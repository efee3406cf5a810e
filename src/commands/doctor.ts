import {Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand} from '../cli/base.js'
import {sharedFlags, statusLine} from '../cli/shared.js'
import type {DoctorReport} from '../pipeline/doctor.js'
import {DEVICES, type Device} from '../runtime/provider-help.js'

export default class Doctor extends PosterCommand {
  static override summary = 'Say which execution providers load here (CPU, CUDA, WebGPU), on which GPU and driver, and what to install for the others.'

  static override description = `Probes each device with a small graph run once, with onnxruntime's profiling on: "ok" means the session started and its nodes ran on that provider (not silently on the CPU). Then asks the tools that know: nvidia-smi (NVIDIA GPUs, driver, the CUDA version the driver supports), vulkaninfo --summary (Vulkan devices, which WebGPU runs on; Debian/Ubuntu package vulkan-tools), the Vulkan driver manifests and loader, and the CUDA 12 / cuDNN 9 libraries the CUDA provider opens.

  cpu     bundled with onnxruntime-node, always there
  webgpu  bundled (Dawn on Vulkan): needs a Vulkan driver and libvulkan1; without a GPU, Mesa 25's software lavapipe
          (Debian bookworm-backports' mesa-vulkan-drivers) runs it, slowly
  cuda    not bundled: ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci fetches it; needs CUDA 12 + cuDNN 9 and an NVIDIA driver

With --model, the model is also opened on every GPU device that loads and run once on a blank image: the ops each provider leaves to the CPU are listed (on software Vulkan this takes ~30 s).

With --device, only that device is probed and the exit code says whether it loads (1 if not), for scripts.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Everything this machine offers', command: '<%= config.bin %> doctor'},
    {description: 'Does CUDA work here? (exit 1 if not)', command: '<%= config.bin %> doctor --device cuda'},
    {description: 'Which ops of the RAF-DB model fall back to the CPU on each GPU provider', command: '<%= config.bin %> doctor --model rafdb'},
    {description: 'As JSON, for scripts', command: '<%= config.bin %> doctor --json'},
  ]

  static override flags = {
    device: Flags.option({description: 'probe only this device; exit 1 if it does not load', options: DEVICES})(),
    model: sharedFlags.model({required: false, description: 'also place this model (an .onnx file, a .pth checkpoint or a registry name) on each GPU device that loads'}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const status = statusLine(this)
    const [{runDoctor, doctorLines}, {resolveModelFile}] = await Promise.all([import('../pipeline/doctor.js'), import('../pipeline/model.js')])
    const modelPath = flags.model ? (await resolveModelFile(flags.model, {onStatus: (_s, m) => status(m)})).onnxPath : undefined
    const devices: Device[] | undefined = flags.device ? [flags.device] : undefined
    const report = await runDoctor({devices, modelPath, onStatus: status})
    if (!this.jsonEnabled()) for (const line of doctorLines(report)) this.log(line)
    const asked = flags.device ? report.devices.find((d) => d.device === flags.device) : undefined
    if (asked && !asked.loads) process.exitCode = 1
    return report
  }
}
