import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import type {RemovalResult} from '../../models/cache-entries.js'

export default class CacheClear extends PosterCommand {
  static override summary = "Remove everything poster keeps in its cache (downloads, conversions, optimised graphs)."

  static override description = `Files poster did not make are left alone. Refused while another poster process is downloading or converting into the cache. Registry models are downloaded and converted again on next use.

${EXIT_CODES_HELP}`

  static override examples = [{description: 'Empty the cache', command: '<%= config.bin %> cache clear'}]

  async run(): Promise<RemovalResult & {dir: string}> {
    await this.parse(CacheClear)
    const [{cacheDir}, {clearCache}, {formatSize, totalLine}] = await Promise.all([
      import('../../models/cache.js'),
      import('../../models/cache-entries.js'),
      import('../../cli/cache-table.js'),
    ])
    const dir = cacheDir()
    const result = await clearCache(dir)
    if (!this.jsonEnabled()) {
      this.log(`Removed ${result.removed.length} entries, ${formatSize(result.bytesFreed)}`)
      if (result.kept.length > 0) this.log(`Kept ${totalLine(result.kept, dir)} (not poster's)`)
    }
    return {dir, ...result}
  }
}
