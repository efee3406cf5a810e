/**
 * How many CPU threads inference may use by default: the CPUs this process is allowed, not the CPUs the node has.
 * os.cpus() counts every core of the machine, even under taskset, a cpuset cgroup, a container CPU limit or
 * Slurm's --cpus-per-task, and oversubscribing them makes inference slower, not faster.
 */
import {readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'

export interface ThreadSources {
  env?: Record<string, string | undefined>
  /** CPUs in this process's affinity mask (taskset, cpuset cgroups, Slurm's task/affinity). */
  available?: () => number
  /** The cgroup CPU quota in CPUs (docker --cpus, Kubernetes limits.cpu), or undefined when there is none. */
  cgroupQuota?: () => number | undefined
}

/**
 * The smallest of: SLURM_CPUS_PER_TASK when set, the CPU quota of this process's cgroup (rounded up), and the CPUs
 * of its affinity mask (os.availableParallelism()). At least 1.
 */
export function defaultThreads(sources: ThreadSources = {}): number {
  const env = sources.env ?? process.env
  const limits = [(sources.available ?? availableParallelism)()]
  const slurm = Number(env.SLURM_CPUS_PER_TASK?.trim())
  if (Number.isInteger(slurm) && slurm >= 1) limits.push(slurm)
  const quota = (sources.cgroupQuota ?? cgroupCpuQuota)()
  if (quota !== undefined) limits.push(Math.ceil(quota))
  return Math.max(1, Math.min(...limits))
}

/**
 * CPUs allowed by the cgroup CPU controller: cgroup v2 `cpu.max` ("<quota> <period>", or "max" for none), else
 * cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 for none). Undefined when unlimited or unreadable.
 */
export function cgroupCpuQuota(read: (path: string) => string | undefined = readText): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/)
    const q = Number(quota)
    const p = Number(period ?? 100000)
    return quota !== 'max' && q > 0 && p > 0 ? q / p : undefined
  }
  const q = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim())
  const p = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim())
  return q > 0 && p > 0 ? q / p : undefined
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
