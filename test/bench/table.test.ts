import {describe, expect, it} from 'vitest'

import {formatBytes, formatDuration, formatNumber, formatRatio, formatTable, TABLE_COLUMNS} from '../../src/bench/table.js'

describe('bench table formatting', () => {
  it('formats numbers to about 3 significant digits without exponents', () => {
    expect(formatNumber(1234.4)).toBe('1234')
    expect(formatNumber(123.4)).toBe('123')
    expect(formatNumber(12.345)).toBe('12.3')
    expect(formatNumber(1.2345)).toBe('1.23')
    expect(formatNumber(0.012345)).toBe('0.0123')
    expect(formatNumber(0)).toBe('0')
    expect(formatNumber(undefined)).toBe('—')
    expect(formatNumber(Number.NaN)).toBe('—')
  })

  it('formats durations, sizes and ratios', () => {
    expect(formatDuration(0.5)).toBe('500 ms')
    expect(formatDuration(2.345)).toBe('2.35 s')
    expect(formatDuration(undefined)).toBe('—')
    expect(formatBytes(181_000_000)).toBe('181.0 MB')
    expect(formatRatio(0.8567)).toBe('×0.86')
    expect(formatRatio(undefined)).toBe('—')
  })

  it('aligns every column, right-aligns the numbers, escapes pipes', () => {
    const table = formatTable([
      {measurement: 'model-only', batch: 1, imagesPerSecond: 3.2, msPerImage: 312.5, peakRssMb: 545.4, notes: 'session 751 ms'},
      {measurement: 'model-only', batch: 32, imagesPerSecond: 11.04, msPerImage: 90.6, peakRssMb: 1446, notes: 'a | b'},
      {measurement: 'PyTorch baseline', notes: 'skipped'},
    ])
    const lines = table.split('\n')
    expect(lines).toHaveLength(5)
    // Header, then a Markdown separator row with alignment colons.
    for (const c of TABLE_COLUMNS) expect(lines[0]).toContain(c)
    expect(lines[1]).toMatch(/^\|:-+\|-+:\|-+:\|-+:\|-+:\|:-+\|$/)
    // Same width everywhere, and the cell borders line up.
    const width = [...lines[0]!].length
    for (const l of lines) expect([...l].length).toBe(width)
    const bars = (l: string) => [...l].flatMap((ch, i) => (ch === '|' && l[i - 1] !== '\\' ? [i] : []))
    expect(bars(lines[2]!)).toEqual(bars(lines[0]!))
    expect(lines[2]).toMatch(/\|\s+1 \|\s+3\.20 \|\s+313 \|\s+545 \| session 751 ms/)
    expect(lines[3]).toContain('a \\| b')
    expect(lines[4]).toMatch(/\| PyTorch baseline\s+\|\s+— \|\s+— \|\s+— \|\s+— \| skipped/)
  })
})
