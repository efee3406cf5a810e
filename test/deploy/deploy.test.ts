/**
 * The files in deploy/ and the Dockerfile, tested as far as a machine without Docker, Kubernetes, Slurm or GitHub
 * can: each is validated against its schema or linter (offline: the schemas ship in the npm packages), and its
 * command lines are executed here with the environment the engine would set, the merge step included, which must
 * give the same file as one unsharded run. What cannot be tried here (building and running the image, a real
 * cluster's scheduling and volumes, GitHub's runners and cache) is said in deploy/*\/README.md.
 */
import {spawn, spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {builtinModules} from 'node:module'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {validateWorkflow} from '@action-validator/core'
import {validate as validateDockerfile} from 'dockerfile-utils'
import {PersistentVolumeClaim} from 'kubernetes-models/v1/PersistentVolumeClaim'
import {Job} from 'kubernetes-models/batch/v1/Job'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parseAllDocuments} from 'yaml'

import {RAFDB} from '../../src/datasets/labels.js'
import {writePng} from '../image/helpers.js'
import {slurmArray} from '../helpers/slurm.js'
import {SEVEN_CLASS_SPEC, SEVEN_COLORS, writeTinyModel} from '../helpers/tiny-model.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DEPLOY = path.join(ROOT, 'deploy')
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8')

let work: string
/** A folder on PATH holding `poster` (the built CLI), as the image and the cluster nodes have it. */
let binDir: string
let images: string
let model: string
let unsharded: string

function solidPng(rgb: readonly number[], size = 8): Buffer {
  const row = new Uint8Array(size * 3)
  for (let x = 0; x < size; x++) row.set(rgb, x * 3)
  return writePng({width: size, height: size, bitDepth: 8, colourType: 2, rows: Array.from({length: size}, () => row)})
}

function run(cmd: string, args: string[], opts: {env?: Record<string, string>; cwd?: string} = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: opts.cwd ?? work,
    env: {...process.env, PATH: `${binDir}:${process.env.PATH}`, NO_COLOR: '1', ...opts.env},
  })
}

/** run(), without blocking: engines start pods and array tasks side by side. */
function runAsync(cmd: string, args: string[], opts: {env?: Record<string, string>; cwd?: string} = {}): Promise<{status: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd: opts.cwd ?? work, env: {...process.env, PATH: `${binDir}:${process.env.PATH}`, NO_COLOR: '1', ...opts.env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (status) => resolve({status, stdout, stderr}))
  })
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'poster-deploy-'))
  binDir = path.join(work, 'bin')
  mkdirSync(binDir)
  writeFileSync(path.join(binDir, 'poster'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin', 'run.js')}" "$@"\n`)
  chmodSync(path.join(binDir, 'poster'), 0o755)
  images = path.join(work, 'data', 'faces')
  // 21 images in nested folders, so --recursive and several shards matter.
  for (let i = 0; i < 21; i++) {
    const dir = path.join(images, `set${i % 3}`, i % 2 ? 'b' : 'a')
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, `face${String(i).padStart(2, '0')}.png`), solidPng(SEVEN_COLORS[i % 7]!))
  }
  mkdirSync(path.join(work, 'models'))
  model = await writeTinyModel(path.join(work, 'models', 'poster-rafdb.onnx'), SEVEN_CLASS_SPEC)
  const ref = path.join(work, 'unsharded.csv')
  const r = run('poster', ['predict', images, '--recursive', '--model', model, '--out', ref])
  expect(r.status, r.stderr).toBe(0)
  unsharded = readFileSync(ref, 'utf8')
  expect(unsharded.trim().split('\n')).toHaveLength(22)
})

afterAll(() => {
  if (work) rmSync(work, {recursive: true, force: true})
})

/** The property names an interface declares in a kubernetes-models .d.ts (its own source of truth). */
function declaredKeys(dts: string): Set<string> {
  const text = readFileSync(path.join(ROOT, 'node_modules', 'kubernetes-models', dts), 'utf8')
  return new Set([...text.matchAll(/^ {4}"([^"]+)"\??:/gm)].map((m) => m[1]!))
}

/** Unknown fields (the schema allows any, so a typo such as `completionMod` would pass it silently). */
function unknownFields(job: Record<string, unknown>): string[] {
  const out: string[] = []
  const check = (obj: unknown, keys: Set<string>, where: string) => {
    for (const k of Object.keys((obj as object) ?? {})) if (!keys.has(k)) out.push(`${where}.${k}`)
  }
  const spec = job.spec as Record<string, unknown>
  const template = spec.template as Record<string, unknown>
  const pod = template.spec as Record<string, unknown>
  check(job, new Set(['apiVersion', 'kind', 'metadata', 'spec']), 'job')
  check(spec, declaredKeys('batch/v1/JobSpec.d.ts'), 'spec')
  check(template, declaredKeys('v1/PodTemplateSpec.d.ts'), 'spec.template')
  check(pod, declaredKeys('v1/PodSpec.d.ts'), 'pod')
  for (const c of pod.containers as Array<Record<string, unknown>>) {
    check(c, declaredKeys('v1/Container.d.ts'), 'container')
    for (const m of (c.volumeMounts as object[]) ?? []) check(m, declaredKeys('v1/VolumeMount.d.ts'), 'volumeMount')
    for (const e of (c.env as object[]) ?? []) check(e, declaredKeys('v1/EnvVar.d.ts'), 'env')
  }
  for (const v of (pod.volumes as object[]) ?? []) check(v, declaredKeys('v1/Volume.d.ts'), 'volume')
  return out
}

function yamlDocs(file: string): Array<Record<string, unknown>> {
  const docs = parseAllDocuments(read(file))
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`)
  return docs.map((d) => d.toJS() as Record<string, unknown>)
}

type Container = {command?: string[]; args: string[]; env?: Array<{name: string; value: string}>; volumeMounts: Array<{name: string; mountPath: string}>}
const containerOf = (job: Record<string, unknown>): Container =>
  ((job.spec as {template: {spec: {containers: Container[]}}}).template.spec.containers)[0]!

/** Container paths → folders here: each volume mount is a folder of this test. */
function mountMap(c: Container, out: string): (s: string) => string {
  const host: Record<string, string> = {'/data': path.join(work, 'data'), '/models': path.join(work, 'models'), '/out': out, '/cache': path.join(work, 'cache')}
  return (s) => c.volumeMounts.reduce((acc, m) => acc.replaceAll(m.mountPath + '/', host[m.mountPath]! + '/'), s)
}

describe('deploy/k8s: an Indexed Job and its merge Job', () => {
  const [predict] = yamlDocs('deploy/k8s/predict-job.yaml')
  const [merge] = yamlDocs('deploy/k8s/merge-job.yaml')
  const claims = yamlDocs('deploy/k8s/volumes.yaml')

  it('validate against the Kubernetes Job and PersistentVolumeClaim schemas, with no unknown field', () => {
    for (const job of [predict!, merge!]) {
      expect(() => new Job(job as ConstructorParameters<typeof Job>[0]).validate()).not.toThrow()
      expect(unknownFields(job)).toEqual([])
    }
    for (const c of claims) expect(() => new PersistentVolumeClaim(c as ConstructorParameters<typeof PersistentVolumeClaim>[0]).validate()).not.toThrow()
    // The validator does catch mistakes (so the checks above can fail):
    const broken = structuredClone(predict!) as {spec: {completions: unknown}}
    broken.spec.completions = 'eight'
    expect(() => new Job(broken as ConstructorParameters<typeof Job>[0]).validate()).toThrow(/completions must be integer/)
    expect(unknownFields({...predict!, spec: {...(predict!.spec as object), completionMod: 'Indexed'}})).toEqual(['spec.completionMod'])
  })

  it('are consistent: Indexed, --shards = completions = parallelism = the merge\'s -of-N, claims that volumes.yaml creates', () => {
    const spec = predict!.spec as {completionMode: string; completions: number; parallelism: number}
    expect(spec.completionMode).toBe('Indexed')
    const args = containerOf(predict!).args
    expect(Number(args[args.indexOf('--shards') + 1])).toBe(spec.completions)
    expect(spec.parallelism).toBe(spec.completions)
    expect(containerOf(merge!).args.join(' ')).toContain(`-of-${spec.completions}.csv`)
    const claimed = (j: Record<string, unknown>) =>
      ((j.spec as {template: {spec: {volumes: Array<{persistentVolumeClaim?: {claimName: string}}>}}}).template.spec.volumes)
        .flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []))
    const made = claims.map((c) => (c.metadata as {name: string}).name)
    for (const name of [...claimed(predict!), ...claimed(merge!)]) expect(made).toContain(name)
    const image = (j: Record<string, unknown>) => ((j.spec as {template: {spec: {containers: Array<{image: string}>}}}).template.spec.containers)[0]!.image
    expect(image(merge!)).toBe(image(predict!))
  })

  it('run as Kubernetes runs them (JOB_COMPLETION_INDEX per pod, the image\'s poster entrypoint), the merge gives the unsharded file', async () => {
    const out = path.join(work, 'k8s-out')
    mkdirSync(out)
    const pod = containerOf(predict!)
    const map = mountMap(pod, out)
    const completions = (predict!.spec as {completions: number}).completions
    const env = Object.fromEntries((pod.env ?? []).map((e) => [e.name, e.value]))
    const pods = await Promise.all(
      Array.from({length: completions}, (_, index) =>
        runAsync('poster', pod.args.map(map), {env: {...env, JOB_COMPLETION_INDEX: String(index), HOSTNAME: `poster-predict-${index}-x`}}),
      ),
    )
    pods.forEach((r, index) => {
      expect(r.status, r.stderr).toBe(0)
      expect(r.stderr).toMatch(new RegExp(`shard ${index + 1}/${completions} \\(from JOB_COMPLETION_INDEX=${index} with --shards ${completions}\\)`))
    })
    expect(readdirSync(out).filter((f) => f.endsWith('.csv')).sort()).toEqual(Array.from({length: completions}, (_, i) => `part-${i + 1}-of-${completions}.csv`))
    const m = containerOf(merge!)
    expect(m.command).toEqual(['sh', '-c'])
    const r = run('sh', ['-c', map(m.args[0]!)])
    expect(r.status, r.stderr).toBe(0)
    expect(readFileSync(path.join(out, 'predictions.csv'), 'utf8')).toBe(unsharded)
    // A pod's retry continues its shard (--resume): running index 0 again changes nothing.
    const again = run('poster', pod.args.map(map), {env: {JOB_COMPLETION_INDEX: '0'}})
    expect(again.status, again.stderr).toBe(0)
    expect(run('sh', ['-c', map(m.args[0]!)]).status).toBe(0)
    expect(readFileSync(path.join(out, 'predictions.csv'), 'utf8')).toBe(unsharded)
  })

  it('run.sh starts the merge Job only after the predict Job is Complete, and never after it Failed', () => {
    const fake = path.join(work, 'kubectl-bin')
    mkdirSync(fake, {recursive: true})
    const log = path.join(work, 'kubectl.log')
    // A kubectl that records its calls; predict reports Running twice, then the state in FAKE_PREDICT_END.
    writeFileSync(path.join(fake, 'kubectl'), `#!/bin/sh
echo "$*" >> "${log}"
case "$1 $3" in
  "get poster-predict") n=$(grep -c '^get job poster-predict' "${log}"); if [ "$n" -le 2 ]; then echo ""; else echo "$FAKE_PREDICT_END"; fi ;;
  "get poster-merge") echo "Complete" ;;
esac
`)
    chmodSync(path.join(fake, 'kubectl'), 0o755)
    const go = (end: string) => {
      rmSync(log, {force: true})
      const r = spawnSync(path.join(DEPLOY, 'k8s', 'run.sh'), [], {encoding: 'utf8', env: {...process.env, PATH: `${fake}:${process.env.PATH}`, POSTER_POLL_SECONDS: '0', FAKE_PREDICT_END: end}})
      return {status: r.status, calls: readFileSync(log, 'utf8').trim().split('\n').map((l) => l.replace(/ -o .*$/, '').replace(DEPLOY, 'deploy'))}
    }
    const ok = go('Complete')
    expect(ok.status).toBe(0)
    expect(ok.calls).toEqual([
      'delete job poster-predict poster-merge --ignore-not-found',
      'apply -f deploy/k8s/predict-job.yaml',
      'get job poster-predict', 'get job poster-predict', 'get job poster-predict',
      'apply -f deploy/k8s/merge-job.yaml',
      'get job poster-merge',
      'logs job/poster-merge',
    ])
    const failed = go('Failed')
    expect(failed.status).toBe(1)
    expect(failed.calls.some((c) => c.includes('merge-job.yaml'))).toBe(false)
  })
})

describe('deploy/slurm: a job array and a merge that waits for it', () => {
  /** A fake sbatch that records each submission and answers --parsable with a job id, as Slurm does. */
  function fakeSbatch(): {dir: string; submissions: () => Array<{args: string[]; id: string}>} {
    const dir = path.join(work, 'sbatch-bin')
    mkdirSync(dir, {recursive: true})
    const log = path.join(dir, 'submissions.jsonl')
    rmSync(log, {force: true})
    writeFileSync(path.join(dir, 'sbatch'), `#!${process.execPath}
const fs = require('node:fs')
const log = ${JSON.stringify(log)}
const n = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\\n').length : 0
const id = String(7001 + n)
fs.appendFileSync(log, JSON.stringify({args: process.argv.slice(2), id}) + '\\n')
process.stdout.write(process.argv.includes('--parsable') ? id + ';cluster\\n' : 'Submitted batch job ' + id + '\\n')
`)
    chmodSync(path.join(dir, 'sbatch'), 0o755)
    return {dir, submissions: () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {args: string[]; id: string})}
  }

  /** What Slurm does with a batch script: its #SBATCH options, merged with the command line's. */
  function sbatchOption(script: string, args: string[], name: string): string | undefined {
    const fromArgs = args.find((a) => a.startsWith(`--${name}=`))
    if (fromArgs) return fromArgs.slice(name.length + 3)
    const line = readFileSync(script, 'utf8').split('\n').find((l) => l.startsWith(`#SBATCH --${name}=`))
    return line?.slice(`#SBATCH --${name}=`.length)
  }

  /** Run every task of an array submission as Slurm would: one process per index with its SLURM_* variables. */
  async function runArray(sub: {args: string[]; id: string}, env: Record<string, string>): Promise<number[]> {
    const script = sub.args.at(-1)!
    const cpus = sbatchOption(script, sub.args, 'cpus-per-task') ?? '1'
    const tasks = slurmArray(sbatchOption(script, sub.args, 'array')!)
    const done = await Promise.all(
      tasks.map((slurm, i) => runAsync('bash', [script], {env: {...env, ...slurm, SLURM_ARRAY_JOB_ID: sub.id, SLURM_JOB_ID: String(Number(sub.id) + 1 + i), SLURM_CPUS_PER_TASK: cpus}})),
    )
    for (const r of done) expect(r.stderr).not.toMatch(/error/i)
    return done.map((r) => r.status ?? -1)
  }

  it('submit.sh queues the array, then the merge with --dependency=afterok on the array job; run so, the merge gives the unsharded file', async () => {
    const out = path.join(work, 'slurm-out')
    const sbatch = fakeSbatch()
    const env = {POSTER_INPUT: images, POSTER_MODEL: model, POSTER_OUT: out}
    const r = run(path.join(DEPLOY, 'slurm', 'submit.sh'), ['4'], {env: {...env, PATH: `${sbatch.dir}:${binDir}:${process.env.PATH}`}})
    expect(r.status, r.stderr).toBe(0)
    const [array, merge] = sbatch.submissions()
    expect(array!.args).toEqual(['--parsable', '--array=0-3', '--export=ALL', path.join(DEPLOY, 'slurm', 'predict-array.sbatch')])
    expect(merge!.args).toEqual(['--parsable', `--dependency=afterok:${array!.id}`, '--export=ALL,POSTER_SHARDS=4', path.join(DEPLOY, 'slurm', 'merge.sbatch')])
    expect(r.stdout).toMatch(new RegExp(`predict array: job ${array!.id} \\(4 tasks\\); merge: job ${merge!.id}, after all of them succeed`))
    // afterok: the merge runs once every task has succeeded.
    expect(await runArray(array!, env)).toEqual([0, 0, 0, 0])
    expect(readdirSync(out).filter((f) => f.endsWith('.csv')).sort()).toEqual(['part-1-of-4.csv', 'part-2-of-4.csv', 'part-3-of-4.csv', 'part-4-of-4.csv'])
    const m = run('bash', [merge!.args.at(-1)!], {env: {...env, POSTER_SHARDS: '4', SLURM_JOB_ID: merge!.id}})
    expect(m.status, m.stderr).toBe(0)
    expect(readFileSync(path.join(out, 'predictions.csv'), 'utf8')).toBe(unsharded)
  })

  it('a sparse array (--array=0,2,4, Slurm reports STEP 1) covers every shard once: the merge still gives the unsharded file', async () => {
    const out = path.join(work, 'slurm-sparse')
    const env = {POSTER_INPUT: images, POSTER_MODEL: model, POSTER_OUT: out}
    mkdirSync(out)
    const sub = {args: ['--array=0,2,4', path.join(DEPLOY, 'slurm', 'predict-array.sbatch')], id: '8001'}
    expect(await runArray(sub, env)).toEqual([0, 0, 0])
    expect(readdirSync(out).filter((f) => f.endsWith('.csv')).sort()).toEqual(['part-1-of-3.csv', 'part-2-of-3.csv', 'part-3-of-3.csv'])
    const m = run('bash', [path.join(DEPLOY, 'slurm', 'merge.sbatch')], {env: {...env, POSTER_SHARDS: '3'}})
    expect(m.status, m.stderr).toBe(0)
    expect(readFileSync(path.join(out, 'predictions.csv'), 'utf8')).toBe(unsharded)
  })

  it('a merge started while a shard is missing fails, naming the images no shard covered', () => {
    const out = path.join(work, 'slurm-missing')
    mkdirSync(out)
    const env = {POSTER_INPUT: images, POSTER_MODEL: model, POSTER_OUT: out}
    const task = slurmArray('0-2')[1]!
    expect(run('bash', [path.join(DEPLOY, 'slurm', 'predict-array.sbatch')], {env: {...env, ...task}}).status).toBe(0)
    const m = run('bash', [path.join(DEPLOY, 'slurm', 'merge.sbatch')], {env: {...env, POSTER_SHARDS: '3'}})
    expect(m.status).toBe(1)
    expect(m.stderr).toMatch(/missing/)
  })
})

describe('deploy/github/accuracy.yml: the accuracy gate and how its baseline is made', () => {
  const text = read('deploy/github/accuracy.yml')
  const workflow = parseAllDocuments(text)[0]!.toJS() as {
    env: Record<string, string>
    jobs: Record<string, {env: Record<string, string>; steps: Array<{id?: string; run?: string; uses?: string; with?: Record<string, string>}>}>
  }

  it('is a valid GitHub Actions workflow (the SchemaStore schema, offline)', () => {
    expect(validateWorkflow(text).errors).toEqual([])
    expect(validateWorkflow(text.replace('runs-on: [self-hosted, datasets]', 'runs_on: [self-hosted, datasets]')).errors).not.toEqual([])
  })

  it('makes the baseline on the default branch and restores it in pull requests, from the same cache key family', () => {
    const save = workflow.jobs.baseline!.steps.find((s) => s.uses?.startsWith('actions/cache/save'))!
    const restore = workflow.jobs.gate!.steps.find((s) => s.uses?.startsWith('actions/cache/restore'))!
    expect(save.with!.path).toBe('runs/baseline')
    expect(restore.with!.path).toBe('runs/baseline')
    expect(save.with!.key).toMatch(/^poster-baseline-/)
    expect(restore.with!['restore-keys']).toBe('poster-baseline-')
    expect(text).toMatch(/How the baseline is made/)
  })

  it('its poster steps, run here in order as the runner would, pass on an unchanged model and fail (exit 3) on a regression', async () => {
    // A RAF-DB tree (EmoLabel list + Image/aligned), 28 test images the tiny model gets right.
    const raf = path.join(work, 'RAF-DB', 'basic')
    mkdirSync(path.join(raf, 'EmoLabel'), {recursive: true})
    mkdirSync(path.join(raf, 'Image', 'aligned'), {recursive: true})
    const lines: string[] = []
    for (let i = 0; i < 28; i++) {
      const stem = `test_${String(i + 1).padStart(4, '0')}`
      lines.push(`${stem}.jpg ${(i % 7) + 1}`)
      writeFileSync(path.join(raf, 'Image', 'aligned', `${stem}_aligned.jpg`), solidPng(SEVEN_COLORS[i % 7]!))
    }
    writeFileSync(path.join(raf, 'EmoLabel', 'list_patition_label.txt'), lines.join('\n') + '\n')
    // The checkout: the repository's bin/ (node bin/run.js), a fresh runs/ folder.
    const checkout = path.join(work, 'checkout')
    mkdirSync(checkout)
    symlinkSync(path.join(ROOT, 'bin'), path.join(checkout, 'bin'))
    const steps = (job: string) => workflow.jobs[job]!.steps.filter((s) => s.id?.startsWith('poster-'))
    const runStep = (job: string, id: string, modelPath: string, env: Record<string, string> = {}) => {
      const step = steps(job).find((s) => s.id === id)!
      return run('bash', ['-e', '-c', step.run!], {cwd: checkout, env: {...workflow.env, RAFDB_DIR: raf, POSTER_MODEL: modelPath, ...env}})
    }
    expect(steps('baseline').map((s) => s.id)).toEqual(['poster-baseline'])
    expect(steps('gate').map((s) => s.id)).toEqual(['poster-evaluate', 'poster-check'])

    const none = runStep('gate', 'poster-evaluate', model)
    expect(none.status).toBe(1)
    expect(none.stdout).toMatch(/no baseline yet: run this workflow on the default branch first/)

    // The subset is stratified: 2 per class gives 14 of the 28 images, 2 of each class.
    const small = runStep('baseline', 'poster-baseline', model, {POSTER_PER_CLASS: '2'})
    expect(small.status, small.stderr).toBe(0)
    const smallMetrics = JSON.parse(readFileSync(path.join(checkout, 'runs', 'baseline', 'metrics.json'), 'utf8'))
    expect(smallMetrics.n_images).toBe(14)
    expect(smallMetrics.per_class.map((c: {support: number}) => c.support)).toEqual([2, 2, 2, 2, 2, 2, 2])
    rmSync(path.join(checkout, 'runs', 'baseline'), {recursive: true})
    const base = runStep('baseline', 'poster-baseline', model)
    expect(base.status, base.stderr).toBe(0)
    expect(JSON.parse(readFileSync(path.join(checkout, 'runs', 'baseline', 'metrics.json'), 'utf8')).n_images).toBe(28)
    // (the cache save/restore steps carry runs/baseline from one job to the other; here it is the same folder)
    expect(runStep('gate', 'poster-evaluate', model).status).toBe(0)
    const pass = runStep('gate', 'poster-check', model)
    expect(pass.status, pass.stderr).toBe(0)
    expect(pass.stdout).toMatch(/verdict: pass/)
    expect(existsSync(path.join(checkout, 'check.xml'))).toBe(true)

    // A model that confuses two classes: a real regression.
    rmSync(path.join(checkout, 'runs', 'pr'), {recursive: true})
    const worse = await writeTinyModel(path.join(work, 'models', 'worse.onnx'), {...SEVEN_CLASS_SPEC, labels: [RAFDB.names[1]!, RAFDB.names[0]!, ...RAFDB.names.slice(2)]})
    expect(runStep('gate', 'poster-evaluate', worse).status).toBe(0)
    const fail = runStep('gate', 'poster-check', worse)
    expect(fail.status).toBe(3)
    expect(fail.stdout).toMatch(/verdict: REGRESSION/)
  })
})

describe('Dockerfile', () => {
  const text = read('Dockerfile')
  const instructions = text.split('\n').filter((l) => /^[A-Z]+\s/.test(l))
  const stages = text.split(/^FROM /m).slice(1)

  it('lints clean (dockerfile-utils, the linter of the Dockerfile language server)', () => {
    expect(validateDockerfile(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([])
    expect(validateDockerfile('FROM node\nCOPY a\n').length).toBeGreaterThan(0)
  })

  it('is multi-stage, installs with npm ci without downloading CUDA, runs as a non-root user with the model cache as a volume', () => {
    expect(stages).toHaveLength(2)
    expect(stages[0]).toMatch(/npm ci --prefer-offline/)
    expect(stages[0]).toMatch(/ONNXRUNTIME_NODE_INSTALL=\$\{ONNXRUNTIME_NODE_INSTALL\}/)
    expect(text).toMatch(/ARG ONNXRUNTIME_NODE_INSTALL=skip/)
    expect(stages[0]).toMatch(/npm prune --omit=dev/)
    const final = stages[1]!
    expect(final).toMatch(/^USER node$/m)
    expect(final).toMatch(/^VOLUME \["\/cache"\]$/m)
    expect(final).toMatch(/POSTER_CACHE=\/cache/)
    expect(final).not.toMatch(/npm (ci|install)/)
    expect(instructions.at(-1)).toBe('CMD ["--help"]')
  })

  it('copies only what exists, and .dockerignore keeps none of it out', () => {
    const ignored = read('.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'))
    const sources = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1))
    expect(sources).toEqual(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src'])
    for (const s of sources) {
      expect(existsSync(path.join(ROOT, s)), s).toBe(true)
      expect(ignored, s).not.toContain(s)
    }
  })

  it('the runtime needs only dependencies (npm prune --omit=dev is safe): every package dist/ imports is in dependencies', () => {
    const pkg = JSON.parse(read('package.json')) as {dependencies: Record<string, string>}
    const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(path.join(dir, n)).isDirectory() ? files(path.join(dir, n)) : n.endsWith('.js') ? [path.join(dir, n)] : []))
    const imported = new Set<string>()
    for (const f of [...files(path.join(ROOT, 'dist')), path.join(ROOT, 'bin', 'run.js')]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/(?:from\s+|import\()\s*['"]([^'"./][^'"]*)['"]/g)) {
        const spec = m[1]!
        if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)
      }
    }
    expect([...imported].filter((p) => !(p in pkg.dependencies))).toEqual([])
    expect(imported.size).toBeGreaterThan(5)
  })

  it('the image\'s layout works: /app with the manifest, poster on PATH as a link to bin/run.js', () => {
    const app = path.join(work, 'app')
    mkdirSync(app)
    for (const p of ['package.json', 'bin', 'dist']) cpSync(path.join(ROOT, p), path.join(app, p), {recursive: true})
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'))
    expect(spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest', app], {cwd: app}).status).toBe(0)
    const bin = path.join(work, 'image-bin')
    mkdirSync(bin)
    symlinkSync(path.join(app, 'bin', 'run.js'), path.join(bin, 'poster'))
    const env = {...process.env, PATH: `${bin}:${process.env.PATH}`, POSTER_CACHE: path.join(work, 'image-cache')}
    const help = spawnSync('poster', ['--help'], {encoding: 'utf8', env, cwd: '/'})
    expect(help.status, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/\$ poster eval/)
    const list = spawnSync('poster', ['cache', 'list', '--json'], {encoding: 'utf8', env, cwd: '/'})
    expect(JSON.parse(list.stdout)).toEqual({dir: path.join(work, 'image-cache'), bytes: 0, entries: []})
  })
})

describe('README', () => {
  it('points to the deploy files instead of inline examples that do not run', () => {
    const readme = read('README.md')
    for (const f of ['Dockerfile', 'deploy/k8s/predict-job.yaml', 'deploy/k8s/merge-job.yaml', 'deploy/slurm/submit.sh', 'deploy/github/accuracy.yml']) {
      expect(readme, f).toContain(f)
    }
    expect(readme).not.toMatch(/image: node:20/)
    expect(readme).not.toMatch(/\/mnt\/datasets/)
  })
})
