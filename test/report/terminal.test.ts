import {afterEach, describe, expect, it} from 'vitest'
import {abbreviateNames, colorLevel, terminalSummary} from '../../src/report/terminal.js'
import {int, pct} from '../../src/report/format.js'
import {CONTEXT, COUNTS, METRICS, NAMES, metricsFrom} from './sample.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g
const strip = (s: string): string => s.replace(ANSI, '')

describe('terminalSummary', () => {
  const saved = process.env.NO_COLOR
  afterEach(() => {
    if (saved === undefined) delete process.env.NO_COLOR
    else process.env.NO_COLOR = saved
  })

  it('plain output: headline, aligned per-class table, aligned confusion matrix', () => {
    const out = terminalSummary(CONTEXT, METRICS, {color: false, width: 120})
    expect(out).not.toMatch(ANSI)
    expect(out).toContain(`Accuracy  ${pct(METRICS.accuracy)}`)
    expect(out).toContain('paper 92.21%')
    expect(out).toContain(`Images ${int(METRICS.n_images)} scored, 2 failed`)
    const lines = out.split('\n')
    const header = lines.findIndex((l) => l.startsWith('Class'))
    expect(lines[header]).toBe('Class      Precision    Recall        F1   Support')
    const table = lines.slice(header, header + 1 + NAMES.length)
    // Every row is as wide as the header: columns aligned.
    for (const l of table) expect(l.length).toBe(lines[header]!.length)
    expect(table[4]).toContain('Happiness')
    expect(table[4]).toContain(pct(METRICS.per_class[3]!.recall))
    // Confusion matrix: full names fit at 120 columns; rows aligned under the header.
    const cm = lines.findIndex((l) => l.startsWith('Confusion matrix'))
    const cmLines = lines.slice(cm + 1, cm + 2 + NAMES.length)
    expect(cmLines[0]).toContain('Surprise')
    expect(cmLines[0]).toContain('Happiness')
    for (const l of cmLines) expect(l.length).toBe(cmLines[0]!.length)
    expect(cmLines[4]!.split(/\s+/).slice(1).map(Number)).toEqual(COUNTS[3])
  })

  it('narrow terminals abbreviate column headers, still unique and aligned', () => {
    const out = terminalSummary(CONTEXT, METRICS, {color: false, width: 60})
    const lines = out.split('\n')
    const cm = lines.findIndex((l) => l.startsWith('Confusion matrix'))
    const head = lines[cm + 1]!
    expect(head).not.toContain('Happiness')
    expect(head).toContain('Hap')
    for (const l of lines.slice(cm + 1, cm + 2 + NAMES.length)) {
      expect(l.length).toBe(head.length)
      expect(l.length).toBeLessThanOrEqual(60)
    }
  })

  it('class numbers when prefixes cannot be told apart', () => {
    expect(abbreviateNames(['Class A', 'Class B'], 1, 10)).toEqual({headers: ['0', '1'], colW: 1, legend: true})
    expect(abbreviateNames(['Alpha', 'Beta'], 2, 100)).toEqual({headers: ['Alpha', 'Beta'], colW: 5, legend: false})
    const m = metricsFrom(['Class A', 'Class B'], [[3, 1], [0, 4]])
    const out = terminalSummary({...CONTEXT, paperAccuracy: undefined}, m, {color: false, width: 20})
    expect(out).toContain('0=Class A  1=Class B')
    expect(out).not.toContain('paper')
  })

  it('colour on request; off with color:false; NO_COLOR honoured by default', () => {
    const coloured = terminalSummary(CONTEXT, METRICS, {color: true, width: 120})
    expect(coloured).toMatch(ANSI)
    expect(strip(coloured)).toBe(terminalSummary(CONTEXT, METRICS, {color: false, width: 120}))
    process.env.NO_COLOR = '1'
    expect(colorLevel()).toBe(0)
    expect(terminalSummary(CONTEXT, METRICS, {width: 120})).not.toMatch(ANSI)
    expect(colorLevel(true)).toBeGreaterThan(0)
    expect(colorLevel(false)).toBe(0)
  })

  it('warnings are shown', () => {
    const out = terminalSummary({...CONTEXT, warnings: ['label order differs']}, METRICS, {color: false})
    expect(out).toContain('⚠ label order differs')
  })
})
