import {describe, expect, it} from 'vitest'

import {fnv1a32, formatShard, resolveShard, selectShard, shardOf, type Shard} from '../../src/datasets/shard.js'
import {slurmArray} from '../helpers/slurm.js'

describe('fnv1a32 / shardOf', () => {
  it('matches the FNV-1a 32 reference values over UTF-8', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
    // UTF-8, not UTF-16: 'é' is two bytes c3 a9
    let h = 0x811c9dc5
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193) >>> 0
    expect(fnv1a32('é')).toBe(h)
  })

  it('partitions: shards are disjoint, cover everything, and are roughly even', () => {
    const paths = Array.from({length: 2000}, (_, i) => `test/${i % 7}/img_${i}.jpg`)
    for (const n of [1, 2, 3, 8]) {
      const parts = Array.from({length: n}, (_, k) => selectShard(paths.map((relPath) => ({relPath})), {index: k, count: n, source: 't'}))
      const all = parts.flat().map((x) => x.relPath)
      expect(all.length).toBe(paths.length)
      expect(new Set(all).size).toBe(paths.length)
      for (const p of parts) expect(p.length).toBeGreaterThan((paths.length / n) * 0.8)
    }
  })

  it('is stable: a path always lands in the same shard, whatever else is listed', () => {
    expect(shardOf('test/0001.jpg', 4)).toBe(fnv1a32('test/0001.jpg') % 4)
    const k = shardOf('a/b,c "d".jpg', 5)
    expect(shardOf('a/b,c "d".jpg', 5)).toBe(k)
    expect(() => shardOf('x', 0)).toThrow(/positive integer/)
  })
})

describe('resolveShard', () => {
  it('is undefined when nothing asks for sharding', () => {
    expect(resolveShard({}, {})).toBeUndefined()
    // An Indexed Job index alone does not shard: --shards opts in.
    expect(resolveShard({}, {JOB_COMPLETION_INDEX: '2'})).toBeUndefined()
  })

  it('takes --shard K/N (1-based)', () => {
    const s = resolveShard({shard: '2/4'}, {})!
    expect(s).toMatchObject({index: 1, count: 4})
    expect(formatShard(s)).toBe('2/4')
    expect(resolveShard({shard: '1/1'}, {SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '9'})).toMatchObject({index: 0, count: 1})
    expect(resolveShard({shard: '3/3', shards: 3}, {})).toMatchObject({index: 2, count: 3})
  })

  it('rejects bad --shard values', () => {
    for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0', '-1/4', '1.5/4', '']) {
      expect(() => resolveShard({shard: bad}, {}), bad).toThrow(/--shard/)
    }
    expect(() => resolveShard({shard: '1/4', shards: 3}, {})).toThrow(/disagree/)
    expect(() => resolveShard({shards: 0}, {})).toThrow(/--shards/)
    expect(() => resolveShard({shards: 2.5}, {})).toThrow(/--shards/)
  })

  it('uses JOB_COMPLETION_INDEX with --shards (Kubernetes Indexed Job)', () => {
    expect(resolveShard({shards: 4}, {JOB_COMPLETION_INDEX: '0'})).toMatchObject({index: 0, count: 4})
    expect(resolveShard({shards: 4}, {JOB_COMPLETION_INDEX: '3'})).toMatchObject({index: 3, count: 4})
    expect(() => resolveShard({shards: 4}, {JOB_COMPLETION_INDEX: '4'})).toThrow(/out of range/)
    expect(() => resolveShard({shards: 4}, {JOB_COMPLETION_INDEX: 'x'})).toThrow(/JOB_COMPLETION_INDEX/)
  })

  it('uses SLURM array variables, with MIN and STEP offsets', () => {
    expect(resolveShard({}, {SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3'})).toMatchObject({index: 0, count: 3})
    // --array=1-8
    expect(resolveShard({}, {SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8', SLURM_ARRAY_TASK_MIN: '1'})).toMatchObject({index: 7, count: 8})
    // --array=0-14:2 → 8 tasks
    expect(
      resolveShard({}, {SLURM_ARRAY_TASK_ID: '6', SLURM_ARRAY_TASK_COUNT: '8', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '2'}),
    ).toMatchObject({index: 3, count: 8})
    // count from --shards when SLURM does not give it
    expect(resolveShard({shards: 2}, {SLURM_ARRAY_TASK_ID: '1'})).toMatchObject({index: 1, count: 2})
  })

  it('rejects inconsistent SLURM variables', () => {
    expect(() => resolveShard({}, {SLURM_ARRAY_TASK_ID: '1'})).toThrow(/SLURM_ARRAY_TASK_COUNT/)
    expect(() => resolveShard({}, {SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '3'})).toThrow(/array of 3/)
    expect(() => resolveShard({}, {SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1'})).toThrow(/does not fit/)
    expect(() => resolveShard({shards: 4}, {SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3'})).toThrow(/disagrees/)
    expect(() => resolveShard({}, {SLURM_ARRAY_TASK_ID: 'one', SLURM_ARRAY_TASK_COUNT: '3'})).toThrow(/SLURM_ARRAY_TASK_ID/)
  })

  it('--shards without an index variable is an error (except 1)', () => {
    expect(() => resolveShard({shards: 3}, {})).toThrow(/JOB_COMPLETION_INDEX.*SLURM_ARRAY_TASK_ID/)
    expect(resolveShard({shards: 1}, {})).toMatchObject({index: 0, count: 1})
  })
})

describe('Slurm job arrays as Slurm numbers them', () => {
  it('the helper sets what slurmctld sets (a list reports STEP 1, a range its step)', () => {
    expect(slurmArray('0,2,4')[1]).toEqual({SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '4', SLURM_ARRAY_TASK_STEP: '1'})
    expect(slurmArray('1-7:2%2').map((e) => e.SLURM_ARRAY_TASK_ID)).toEqual(['1', '3', '5', '7'])
    expect(slurmArray('1-7:2%2')[0]!.SLURM_ARRAY_TASK_STEP).toBe('2')
  })

  it('a sparse list --array=0,2,4: task 2 is shard 2/3 (not 3/3), and task 4 is shard 3/3', () => {
    const [t0, t2, t4] = slurmArray('0,2,4').map((e) => resolveShard({}, e)!)
    expect([t0, t2, t4].map((s) => `${s.index + 1}/${s.count}`)).toEqual(['1/3', '2/3', '3/3'])
    expect(t2.source).toBe('SLURM_ARRAY_TASK_ID=2, step 2, COUNT=3')
  })

  it('every array either maps its tasks onto shards 1..N exactly once, or fails in at least one task: never silently', () => {
    const mapped: Record<string, string> = {}
    for (const spec of ['0-15', '1-8', '0-14:2', '0,2,4', '1,3,5,7', '0-15%4', '3', '10-40:10', '0,1,5', '0-6:2,10', '0-0:2,1,4', '2-3,9']) {
      const outcomes = slurmArray(spec).map((env) => {
        try {
          return resolveShard({}, env)!
        } catch (e) {
          return e as Error
        }
      })
      const shards = outcomes.filter((o): o is Shard => !(o instanceof Error))
      const failed = outcomes.length - shards.length
      if (failed === 0) {
        const n = outcomes.length
        expect(shards.every((s) => s.count === n), spec).toBe(true)
        expect(shards.map((s) => s.index).sort((a, b) => a - b), spec).toEqual(Array.from({length: n}, (_, i) => i))
        mapped[spec] = 'mapped'
      } else {
        mapped[spec] = 'refused'
      }
    }
    expect(mapped).toEqual({
      '0-15': 'mapped', '1-8': 'mapped', '0-14:2': 'mapped', '0,2,4': 'mapped', '1,3,5,7': 'mapped', '0-15%4': 'mapped',
      '3': 'mapped', '10-40:10': 'mapped', '0,1,5': 'refused', '0-6:2,10': 'refused', '0-0:2,1,4': 'refused', '2-3,9': 'refused',
    })
  })

  it('an uneven array is refused with what to do instead', () => {
    expect(() => resolveShard({}, slurmArray('0,1,5')[0]!)).toThrow(/3 tasks from 0 to 5 .* not evenly spaced .*--shard K\/N/)
    expect(() => resolveShard({shards: 16}, slurmArray('3,7')[0]!)).toThrow(/--shards 16 disagrees with SLURM_ARRAY_TASK_COUNT=2.*--shard "\$\(\(SLURM_ARRAY_TASK_ID \+ 1\)\)\/16"/)
  })
})
