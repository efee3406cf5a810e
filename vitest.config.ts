import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // oclif writes through process.stdout; vitest must not swallow it or @oclif/test cannot capture it.
    disableConsoleIntercept: true,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Model hashes, conversions and the demo model go to a throwaway cache, never the user's ~/.cache/poster.
    env: {POSTER_CACHE: join(tmpdir(), `poster-test-cache-${process.pid}`)},
  },
})
