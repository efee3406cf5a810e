/** How `poster cache` shows entries: size, last use, what it is, where. */
import type {CacheEntry} from '../models/cache-entries.js'

export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`
  return `${bytes} B`
}

export function entryLines(entries: readonly CacheEntry[], dir: string): string[] {
  const rel = (p: string) => (p.startsWith(dir + '/') ? p.slice(dir.length + 1) : p)
  return entries.map((e) => `${formatSize(e.bytes).padStart(9)}  ${e.lastUsed.slice(0, 10)}  ${e.what}\n${' '.repeat(23)}${e.paths.map(rel).join(', ')}`)
}

export function totalLine(entries: readonly CacheEntry[], dir: string): string {
  const total = entries.reduce((a, e) => a + e.bytes, 0)
  return `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}, ${formatSize(total)} in ${dir}`
}
