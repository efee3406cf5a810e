/** Slurm's job-array environment, as slurmctld sets it, for tests that play the scheduler. */

/**
 * The variables Slurm sets for each task of `--array=SPEC` (slurmctld's job array creation): COUNT = number of
 * indices, MIN / MAX = smallest / largest, STEP = the number after the first ':' of SPEC (atoi), else 1.
 */
export function slurmArray(spec: string): Array<Record<string, string>> {
  const body = spec.split('%')[0]!
  const ids = new Set<number>()
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part)!
    const [a, b, st] = [Number(m[1]), m[2] === undefined ? Number(m[1]) : Number(m[2]), m[3] === undefined ? 1 : Number(m[3])]
    for (let i = a; i <= b; i += st) ids.add(i)
  }
  const colon = body.indexOf(':')
  const step = colon < 0 ? 1 : parseInt(body.slice(colon + 1), 10)
  const sorted = [...ids].sort((x, y) => x - y)
  return sorted.map((id) => ({
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_COUNT: String(sorted.length),
    SLURM_ARRAY_TASK_MIN: String(sorted[0]),
    SLURM_ARRAY_TASK_MAX: String(sorted.at(-1)),
    SLURM_ARRAY_TASK_STEP: String(step),
  }))
}
