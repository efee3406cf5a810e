import {Flags} from '@oclif/core'

import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import {parseDuration, type RemovalResult} from '../../models/cache-entries.js'

export default class CachePrune extends PosterCommand {
  static override summary = "Remove cache entries of no further use, and with --older-than those not used for that long."

  static override description = `Always removed: optimised graphs whose model file is gone, files left by interrupted runs (partial downloads, temporary files), stale locks. With --older-than, also every entry poster has not used for that long (a model's last use is when a run last opened it). Refused while another poster process is downloading or converting into the cache.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'Only what is certainly useless', command: '<%= config.bin %> cache prune'},
    {description: 'Also what no run used in 30 days', command: '<%= config.bin %> cache prune --older-than 30d'},
  ]

  static override flags = {
    'older-than': Flags.custom<number>({
      description: 'also remove entries not used for this long: 30d, 12h, 90m, 2w (a bare number is days)',
      parse: async (input) => parseDuration(input),
    })(),
  }

  async run(): Promise<RemovalResult & {dir: string}> {
    const {flags} = await this.parse(CachePrune)
    const [{cacheDir}, {pruneCache}, {entryLines, formatSize, totalLine}] = await Promise.all([
      import('../../models/cache.js'),
      import('../../models/cache-entries.js'),
      import('../../cli/cache-table.js'),
    ])
    const dir = cacheDir()
    const result = await pruneCache(dir, {olderThanMs: flags['older-than']})
    if (!this.jsonEnabled()) {
      for (const line of entryLines(result.removed, dir)) this.log(`removed ${line}`)
      this.log(`Removed ${result.removed.length} entries, ${formatSize(result.bytesFreed)}; kept ${totalLine(result.kept, dir)}`)
    }
    return {dir, ...result}
  }
}
