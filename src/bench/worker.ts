/**
 * Child-process entry of `poster bench`: runs one measurement job (JSON in argv[2]) and writes the measurement,
 * plus this process's peak RSS, as JSON to the job's result file. One job per process, so each peak RSS belongs
 * to one measurement. Spawned by child.ts; not meant to be run by hand.
 */
import {writeFile} from 'node:fs/promises'

import {runJob, type BenchJob} from './measure.js'

interface WorkerRequest {
  job: BenchJob
  resultFile: string
}

const request = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest
try {
  const measurement = await runJob(request.job)
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  await writeFile(request.resultFile, JSON.stringify({ok: true, measurement, peakRssMb}))
  process.exit(0)
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  await writeFile(request.resultFile, JSON.stringify({ok: false, error: message})).catch(() => {})
  process.stderr.write(`${error instanceof Error && error.stack ? error.stack : message}\n`)
  process.exit(1)
}
