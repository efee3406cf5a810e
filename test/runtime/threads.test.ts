/** The default thread count: the CPUs this process may use (Slurm, cgroup quota, affinity), never the node's. */
import {spawnSync} from 'node:child_process'
import {cpus} from 'node:os'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {cgroupCpuQuota, defaultThreads} from '../../src/runtime/threads.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

describe('defaultThreads', () => {
  const none = () => undefined
  it('the affinity mask (os.availableParallelism), not every core of the node', () => {
    expect(defaultThreads({env: {}, available: () => 6, cgroupQuota: none})).toBe(6)
  })

  it("Slurm's --cpus-per-task, the cgroup quota rounded up, whichever is smallest", () => {
    expect(defaultThreads({env: {SLURM_CPUS_PER_TASK: '4'}, available: () => 64, cgroupQuota: none})).toBe(4)
    expect(defaultThreads({env: {}, available: () => 64, cgroupQuota: () => 2.5})).toBe(3)
    expect(defaultThreads({env: {SLURM_CPUS_PER_TASK: '8'}, available: () => 6, cgroupQuota: () => 7})).toBe(6)
    for (const bad of ['', '0', '-2', 'four', '1.5']) {
      expect(defaultThreads({env: {SLURM_CPUS_PER_TASK: bad}, available: () => 5, cgroupQuota: none}), bad).toBe(5)
    }
    expect(defaultThreads({env: {}, available: () => 0, cgroupQuota: none})).toBe(1)
  })

  it('reads cgroup v2 cpu.max and cgroup v1 cfs quota/period', () => {
    const files = (m: Record<string, string>) => (p: string) => m[p]
    expect(cgroupCpuQuota(files({'/sys/fs/cgroup/cpu.max': '200000 100000\n'}))).toBe(2)
    expect(cgroupCpuQuota(files({'/sys/fs/cgroup/cpu.max': 'max 100000\n'}))).toBeUndefined()
    expect(cgroupCpuQuota(files({'/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n'}))).toBe(1.5)
    expect(cgroupCpuQuota(files({'/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n'}))).toBeUndefined()
    expect(cgroupCpuQuota(files({}))).toBeUndefined()
  })

  const probe = (env: Record<string, string>, prefix: string[] = []) => {
    const script = "import('./src/runtime/session.ts').then((m) => console.log(m.defaultThreads()))"
    const cmd = [...prefix, process.execPath, '--import', 'tsx', '-e', script]
    const r = spawnSync(cmd[0]!, cmd.slice(1), {cwd: ROOT, encoding: 'utf8', env: {...process.env, ...env}})
    return Number(r.stdout.trim().split('\n').pop())
  }

  it('the session default follows SLURM_CPUS_PER_TASK (a fresh process)', () => {
    expect(probe({SLURM_CPUS_PER_TASK: '1'})).toBe(1)
  })

  const canPin = spawnSync('taskset', ['--version']).status === 0 && cpus().length > 1
  it.skipIf(!canPin)('the session default follows taskset (needs taskset and 2+ cores)', () => {
    expect(probe({SLURM_CPUS_PER_TASK: ''}, ['taskset', '-c', '0'])).toBe(1)
  })
})
