import {describe, expect, it} from 'vitest'
import {checkSummaryLine, checkTableMarkdown, mdEscape, reportMarkdown} from '../../src/report/markdown.js'
import {deltaPp, fixed, int, pct} from '../../src/report/format.js'
import {CONTEXT, METRICS, NAMES, COUNTS, metricsFrom} from './sample.js'

describe('format helpers', () => {
  it('percent, pp, integers', () => {
    expect(pct(0.92213)).toBe('92.21%')
    expect(pct(undefined)).toBe('–')
    expect(deltaPp(-0.0121)).toBe('−1.21 pp')
    expect(deltaPp(0.00004)).toBe('±0.00 pp')
    expect(deltaPp(0.0031)).toBe('+0.31 pp')
    expect(int(1234567)).toBe('1,234,567')
    expect(fixed(-0.0000001, 3)).toBe('0.000')
    expect(fixed(1e22, 1)).toBe('10000000000000000000000.0')
  })
})

describe('reportMarkdown', () => {
  const md = reportMarkdown(CONTEXT, METRICS)

  it('summary figures', () => {
    expect(md).toContain('| Model | `models/poster_rafdb.onnx` |')
    expect(md).toContain(`| SHA-256 | \`${'ab'.repeat(32)}\` |`)
    expect(md).toContain('| Dataset | RAF-DB |')
    expect(md).toContain('| Split | test |')
    expect(md).toContain(`| Images | ${int(METRICS.n_images + 2)} (${int(METRICS.n_images)} scored, 2 failed) |`)
    const acc = pct(METRICS.accuracy)
    expect(md).toContain(`| Accuracy | **${acc}** (95% CI ${fixed((METRICS.accuracy - 0.0091) * 100, 2)}–`)
    expect(md).toContain(`· paper 92.21%, ${deltaPp(METRICS.accuracy - 0.9221)} (POSTER++ paper, Table 4) |`)
    expect(md).toContain(`| Mean class accuracy | ${pct(METRICS.mean_class_accuracy)} |`)
    expect(md).toContain(`| Macro-F1 | ${pct(METRICS.macro_f1)} |`)
    expect(md).toContain('| NLL | 0.3123 |')
    expect(md).toContain('| ECE | 2.10% (15 bins) |')
  })

  it('per-class table has one row per class with the right numbers', () => {
    const section = md.slice(md.indexOf('## Per class'), md.indexOf('## Confusion'))
    expect(section).toContain('| Class | Precision | Recall | F1 | Support |\n| --- | ---: | ---: | ---: | ---: |')
    for (const c of METRICS.per_class) {
      expect(section).toContain(`| ${c.name} | ${pct(c.precision)} | ${pct(c.recall)} | ${pct(c.f1)} | ${int(c.support)} |`)
    }
    // Happiness: 1150 / 1185 recall.
    expect(section).toContain('| Happiness | ')
    expect(section).toContain(' | 97.05% | ')
  })

  it('confusion table: counts and row shares, diagonal bold', () => {
    const section = md.slice(md.indexOf('## Confusion'))
    expect(section).toContain(`| true \\\\ pred | ${NAMES.join(' | ')} |`)
    expect(section).toContain('| Surprise | **288 (87.5%)** | 5 (1.5%) | 3 (0.9%) | 10 (3.0%) | 4 (1.2%) | 2 (0.6%) | 17 (5.2%) |')
    expect(section).toContain('| Happiness | 5 (0.4%) | 0 (0.0%) | 4 (0.3%) | **1,150 (97.0%)** |')
    expect(section.split('\n').filter((l) => l.startsWith('| ')).length).toBe(2 + COUNTS.length)
  })

  it('warnings, no paper figure, escaping of table-breaking names', () => {
    const m = metricsFrom(['a|b', 'c*d'], [[1, 0], [0, 1]])
    const out = reportMarkdown({...CONTEXT, paperAccuracy: undefined, warnings: ['labels <reordered>']}, m)
    expect(out).not.toContain('paper')
    expect(out).toContain('> ⚠️ **Warning:** labels \\<reordered\\>')
    expect(out).toContain('| a\\|b | 100.00% |')
    expect(out).toContain('| c\\*d | ')
    expect(mdEscape('x\ny|z')).toBe('x y\\|z')
  })
})

describe('checkTableMarkdown', () => {
  it('figure | baseline | now | delta | verdict', () => {
    const md = checkTableMarkdown(
      [
        {name: 'rafdb/accuracy', baseline: 0.9221, now: 0.923, verdict: 'pass'},
        {name: 'affectnet7/accuracy', baseline: 0.6722, now: 0.655, verdict: 'fail', message: 'dropped more than 0.50 pp'},
        {name: 'rafdb/nll', baseline: 0.31, now: 0.35, verdict: 'pass', unit: 'number'},
        {name: 'rafdb/ece', verdict: 'skip', message: 'no baseline'},
      ],
      {title: 'poster check'},
    )
    expect(md).toBe(
      '### poster check\n\n' +
        '| Figure | Baseline | Now | Delta | Verdict |\n' +
        '| --- | ---: | ---: | ---: | --- |\n' +
        '| rafdb/accuracy | 92.21% | 92.30% | +0.09 pp | ✅ pass |\n' +
        '| affectnet7/accuracy | 67.22% | 65.50% | −1.72 pp | ❌ fail: dropped more than 0.50 pp |\n' +
        '| rafdb/nll | 0.3100 | 0.3500 | +0.0400 | ✅ pass |\n' +
        '| rafdb/ece | – | – | – | ⏭️ skipped: no baseline |\n\n' +
        '**1 of 4 checks failed (1 skipped).**\n',
    )
  })

  it('tally lines', () => {
    expect(checkSummaryLine([])).toBe('No checks were run.')
    expect(checkSummaryLine([{name: 'a', verdict: 'pass'}])).toBe('All 1 check passed.')
    expect(checkSummaryLine([{name: 'a', verdict: 'pass'}, {name: 'b', verdict: 'pass', delta: 0}])).toBe('All 2 checks passed.')
  })
})
