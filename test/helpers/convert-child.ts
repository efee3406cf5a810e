/**
 * `poster convert ARGS` from the TypeScript sources (not dist/), in a child process so that a test can bound its
 * heap and time:  node --max-old-space-size=256 --import tsx test/helpers/convert-child.ts ARGS...
 * Exits as bin/run.js would (oclif's error handler sets the exit code).
 */
import {fileURLToPath} from 'node:url'

import {handle} from '@oclif/core'

import Convert from '../../src/commands/convert.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
try {
  await Convert.run(process.argv.slice(2), {root: ROOT})
} catch (err) {
  await handle(err as Error)
}
