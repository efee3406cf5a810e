import {EXIT_CODES_HELP, PosterCommand} from '../../cli/base.js'
import type {CacheEntry} from '../../models/cache-entries.js'

export interface CacheListJson {
  dir: string
  bytes: number
  entries: CacheEntry[]
}

export default class CacheList extends PosterCommand {
  static override summary = "List what poster's cache holds: each entry's size, last use and what it is."

  static override description = `The cache ($POSTER_CACHE, else $XDG_CACHE_HOME/poster, else ~/.cache/poster) holds downloaded checkpoints, converted models, onnxruntime's optimised graphs (one per model, as big as the model), the demo model, poster bench's data, a hash index, and what interrupted runs left. Biggest first.

${EXIT_CODES_HELP}`

  static override examples = [
    {description: 'What is in the cache, and how big', command: '<%= config.bin %> cache list'},
    {description: 'As JSON, for scripts', command: '<%= config.bin %> cache list --json'},
  ]

  async run(): Promise<CacheListJson> {
    await this.parse(CacheList)
    const [{cacheDir}, {listCache}, {entryLines, totalLine}] = await Promise.all([
      import('../../models/cache.js'),
      import('../../models/cache-entries.js'),
      import('../../cli/cache-table.js'),
    ])
    const dir = cacheDir()
    const entries = await listCache(dir)
    if (!this.jsonEnabled()) {
      for (const line of entryLines(entries, dir)) this.log(line)
      this.log(totalLine(entries, dir))
    }
    return {dir, bytes: entries.reduce((a, e) => a + e.bytes, 0), entries}
  }
}
