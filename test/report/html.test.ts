import {describe, expect, it} from 'vitest'
import {isDataImageUri, mostConfidentMistakes, renderHtmlReport} from '../../src/report/html.js'
import {pct} from '../../src/report/format.js'
import type {MistakeExample} from '../../src/report/types.js'
import {BINS, CONTEXT, METRICS, NAMES, wellFormedProblems} from './sample.js'

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

const mistakes: MistakeExample[] = [
  {path: 'test_0001.jpg', trueName: 'Fear', predName: 'Surprise', confidence: 0.81, trueProb: 0.1, thumbnail: PNG},
  {path: 'dir/<odd> & "name".jpg', trueName: 'Sadness', predName: 'Neutral', confidence: 0.97, thumbnail: PNG},
  {path: 'remote.jpg', trueName: 'Anger', predName: 'Disgust', confidence: 0.5, thumbnail: 'https://example.com/x.png'},
]

describe('renderHtmlReport', () => {
  const html = renderHtmlReport({
    context: {...CONTEXT, warnings: ['The dataset numbers its classes in another order than the model <rafdb>; matched by name.']},
    metrics: METRICS,
    calibration: BINS,
    mistakes,
  })

  it('is one well-formed self-contained document', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(wellFormedProblems(html, true)).toEqual([])
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:|\/\/)/i)
    expect(html).not.toMatch(/url\(\s*['"]?(?:https?:|\/\/)/i)
    expect(html).not.toMatch(/<(?:script|link|iframe|object|embed)\b/i)
    expect(html).toContain("default-src 'none'; img-src data:")
    expect(html).not.toContain('example.com')
  })

  it('contains the summary, charts, warning and gallery', () => {
    expect(html).toContain(pct(METRICS.accuracy))
    expect(html).toContain('paper 92.21%')
    expect(html).toContain(pct(METRICS.macro_f1))
    expect(html).toContain('ab'.repeat(32))
    expect(html.match(/<svg /g)!.length).toBe(3)
    expect(html).toContain('Reliability diagram')
    expect(html).toContain('Confusion matrix (row-normalised)')
    expect(html).toContain('Per-class recall, precision and F1')
    for (const n of NAMES) expect(html).toContain(`<td>${n}</td>`)
    expect(html).toContain('class="warn"')
    expect(html).toContain('another order than the model &lt;rafdb&gt;')
    expect(html).toContain('Most confident mistakes')
    expect(html.match(/<figure>/g)!.length).toBe(3)
    expect(html.match(/<img src="data:image\/png;base64,/g)!.length).toBe(2)
    expect(html).toContain('no thumbnail')
    expect(html).toContain('dir/&lt;odd&gt; &amp; &quot;name&quot;.jpg')
    // Most confident first.
    expect(html.indexOf('dir/&lt;odd&gt;')).toBeLessThan(html.indexOf('test_0001.jpg'))
    expect(html).toContain('97.0%')
  })

  it('sections are left out when there is nothing for them', () => {
    const bare = renderHtmlReport({context: {...CONTEXT, paperAccuracy: undefined}, metrics: METRICS})
    expect(wellFormedProblems(bare, true)).toEqual([])
    expect(bare).not.toContain('Reliability diagram')
    expect(bare).not.toContain('Most confident mistakes')
    expect(bare).not.toContain('class="warn"')
    expect(bare).not.toContain('paper ')
    const none = renderHtmlReport({context: CONTEXT, metrics: METRICS, mistakes: []})
    expect(none).toContain('No mistakes to show.')
    const capped = renderHtmlReport({context: CONTEXT, metrics: METRICS, mistakes, maxMistakes: 1})
    expect(capped.match(/<figure>/g)!.length).toBe(1)
    expect(capped).toContain('The 1 most confident of 3 shown.')
  })

  it('the well-formedness checker itself catches breakage', () => {
    expect(wellFormedProblems('<svg><g></svg>')).not.toEqual([])
    expect(wellFormedProblems('<svg><text>a & b</text></svg>')).not.toEqual([])
    expect(wellFormedProblems('<svg a=1/>')).not.toEqual([])
  })
})

describe('helpers', () => {
  it('isDataImageUri accepts only inline raster images', () => {
    expect(isDataImageUri(PNG)).toBe(true)
    expect(isDataImageUri('data:image/jpeg;base64,/9j/4AAQ')).toBe(true)
    expect(isDataImageUri('http://x/y.png')).toBe(false)
    expect(isDataImageUri('data:text/html;base64,PHNjcmlwdD4=')).toBe(false)
    expect(isDataImageUri('data:image/png;base64,abc" onerror="x')).toBe(false)
  })

  it('mostConfidentMistakes', () => {
    const rows = mostConfidentMistakes(
      [
        {path: 'a', status: 'ok', label: 0, pred: 1, confidence: 0.6},
        {path: 'b', status: 'ok', label: 0, pred: 0, confidence: 0.99},
        {path: 'c', status: 'ok', label: 1, probs: [0.9, 0.1], pred: 0},
        {path: 'd', status: 'error', label: 1},
        {path: 'e', status: 'ok', pred: 1, confidence: 0.99},
        {path: 'f', status: 'ok', label: 2, pred: 1, confidence: 0.6},
      ],
      3,
    )
    expect(rows.map((r) => r.path)).toEqual(['c', 'a', 'f'])
  })
})
