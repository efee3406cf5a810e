import {describe, expect, it} from 'vitest'
import {
  calibrationSvg,
  confusionSvg,
  luminance,
  perClassBarsSvg,
  sequentialColor,
  textColorOn,
} from '../../src/report/charts.js'
import {int} from '../../src/report/format.js'
import {BINS, COUNTS, METRICS, NAMES, wellFormedProblems} from './sample.js'

function svgHeader(svg: string): {width: number; height: number; viewBox: string} {
  const m = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="(\d+)" height="(\d+)" viewBox="([^"]+)"/.exec(svg)
  expect(m).not.toBeNull()
  return {width: Number(m![1]), height: Number(m![2]), viewBox: m![3]!}
}

function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)].map((m) => m[1]!)
}

describe('colour scale', () => {
  it('runs light to dark monotonically; text switches to white on dark cells', () => {
    let prev = Infinity
    for (let t = 0; t <= 1.0001; t += 0.05) {
      const l = luminance(sequentialColor(t))
      expect(l).toBeLessThan(prev)
      prev = l
    }
    expect(sequentialColor(0)).toBe('#f7fbff')
    expect(sequentialColor(1)).toBe('#08306b')
    expect(textColorOn(sequentialColor(0))).toBe('#1a1a1a')
    expect(textColorOn(sequentialColor(1))).toBe('#ffffff')
    expect(textColorOn(sequentialColor(0.2))).toBe('#1a1a1a')
    expect(textColorOn(sequentialColor(0.9))).toBe('#ffffff')
  })
})

describe('confusionSvg', () => {
  const svg = confusionSvg(NAMES, COUNTS, METRICS.confusion.normalized)

  it('is well-formed with explicit size and sans-serif', () => {
    expect(wellFormedProblems(svg)).toEqual([])
    const h = svgHeader(svg)
    expect(h.viewBox).toBe(`0 0 ${h.width} ${h.height}`)
    expect(svg).toContain('font-family="sans-serif"')
  })

  it('has every class name on both axes, every count and percentage, axis titles and a legend', () => {
    const t = texts(svg)
    for (const n of NAMES) expect(t.filter((x) => x === n).length).toBe(2)
    for (const row of COUNTS) for (const c of row) expect(t).toContain(int(c))
    expect(t).toContain('87.5%')
    expect(t).toContain('97.0%')
    expect(t).toContain('True')
    expect(t).toContain('Predicted')
    for (const l of ['0%', '25%', '50%', '75%', '100%']) expect(t).toContain(l)
    expect(t).toContain('n=1,185')
    expect(svg.match(/<g class="cell">/g)!.length).toBe(49)
  })

  it('white text on the dark diagonal cell, dark text on light cells', () => {
    expect(svg).toMatch(/<text [^>]*fill="#ffffff">97\.0%<\/text>/)
    expect(svg).toMatch(/<text [^>]*fill="#1a1a1a">0\.0%<\/text>/)
  })

  it('long and hostile names are escaped and rotated', () => {
    const names = ['A rather long class name', 'x<y & "z"', 'Ärger']
    const s = confusionSvg(names, [[1, 0, 0], [0, 2, 0], [0, 0, 0]])
    expect(wellFormedProblems(s)).toEqual([])
    expect(s).toContain('x&lt;y &amp; &quot;z&quot;')
    expect(s).toContain('Ärger')
    expect(s).toMatch(/transform="rotate\(-45 /)
    expect(() => confusionSvg(['a'], [[1, 2]])).toThrow()
  })
})

describe('calibrationSvg', () => {
  const svg = calibrationSvg(BINS, 0.02104)

  it('is well-formed, has ECE in the title, ticks, axis titles, legend', () => {
    expect(wellFormedProblems(svg)).toEqual([])
    svgHeader(svg)
    const t = texts(svg)
    expect(t[0]).toBe('Reliability diagram · ECE 2.10%')
    for (const tick of ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']) expect(t.filter((x) => x === tick).length).toBe(2)
    expect(t).toContain('Accuracy')
    expect(t).toContain('Gap to confidence')
    expect(t).toContain('Perfect calibration')
    expect(svg).toContain('stroke-dasharray')
  })

  it('one bar group and a count per non-empty bin', () => {
    const nonEmpty = BINS.filter((b) => b.count > 0)
    expect(svg.match(/<g class="bin">/g)!.length).toBe(nonEmpty.length)
    const t = texts(svg)
    for (const b of nonEmpty) expect(t).toContain(int(b.count))
  })
})

describe('perClassBarsSvg', () => {
  const svg = perClassBarsSvg(METRICS.per_class)

  it('is well-formed; three bars per class; names, supports and legend', () => {
    expect(wellFormedProblems(svg)).toEqual([])
    svgHeader(svg)
    expect(svg.match(/<g class="bar">/g)!.length).toBe(3 * NAMES.length)
    const t = texts(svg)
    for (const c of METRICS.per_class) {
      expect(t).toContain(c.name)
      expect(t).toContain(`n=${int(c.support)}`)
    }
    for (const s of ['Recall', 'Precision', 'F1']) expect(t).toContain(s)
    expect(t).toContain('97') // Happiness recall 97.05%
  })

  it('many classes: labels rotate and carry the support', () => {
    const many = Array.from({length: 20}, (_, i) => ({name: `Class number ${i}`, precision: 0.5, recall: 0.6, f1: 0.55, support: 10 + i}))
    const s = perClassBarsSvg(many)
    expect(wellFormedProblems(s)).toEqual([])
    expect(s).toContain('Class number 19 (n=29)')
  })
})
