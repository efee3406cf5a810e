/**
 * A worker thread of `poster dataset check`'s scan (scan.ts): reads, SHA-256-hashes, decodes (as eval decodes) and
 * perceptually hashes the images it is sent, a few at a time, and posts back what the check keeps (the SHA-256
 * and 49 hashes) or that the image failed; the main thread decodes failed ones again itself, one at a time, so a
 * failure's reason depends only on its own bytes (libvips keeps one error buffer per process).
 */
import {parentPort} from 'node:worker_threads'

import {scanOne, type ScanTask} from './scan.js'

const port = parentPort!
port.on('message', (msg: {tasks: ScanTask[]} | 'exit') => {
  if (msg === 'exit') {
    port.close()
    return
  }
  void Promise.all(msg.tasks.map((t) => scanOne(t))).then((results) => port.postMessage(results))
})
