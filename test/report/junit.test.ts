import {describe, expect, it} from 'vitest'
import {junitXml, describeCheck} from '../../src/report/junit.js'
import type {CheckResult} from '../../src/report/types.js'
import {wellFormedProblems} from './sample.js'

const pass: CheckResult = {name: 'rafdb/accuracy', baseline: 0.9221, now: 0.9230, verdict: 'pass', message: 'tolerance 0.50 pp'}
const fail: CheckResult = {
  name: 'affectnet<7> & "friends"',
  baseline: 0.6722,
  now: 0.655,
  verdict: 'fail',
  message: "dropped 1.72 pp > tolerance 0.50 pp\n'see' report",
  group: 'affectnet7',
}
const nll: CheckResult = {name: 'nll', baseline: 0.31, now: 0.35, verdict: 'fail', unit: 'number'}
const skip: CheckResult = {name: 'ece', verdict: 'skip', message: 'no baseline figure'}

describe('junitXml', () => {
  it('a passing check', () => {
    const xml = junitXml([pass], {timestamp: '2024-05-01T12:00:00'})
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<testsuites name="poster check" tests="1" failures="0" errors="0" skipped="0" time="0.000">\n' +
        '  <testsuite name="poster check" tests="1" failures="0" errors="0" skipped="0" time="0.000" timestamp="2024-05-01T12:00:00">\n' +
        '    <testcase name="rafdb/accuracy" classname="poster check" time="0.000">\n' +
        '      <system-out>baseline 92.21%, now 92.30%, delta +0.09 pp\ntolerance 0.50 pp</system-out>\n' +
        '    </testcase>\n' +
        '  </testsuite>\n' +
        '</testsuites>\n',
    )
    expect(wellFormedProblems(xml)).toEqual([])
  })

  it('a failing check, escaped', () => {
    const xml = junitXml([pass, fail, nll, skip], {suiteName: 'gate & <ci>', timestamp: 't', systemOut: 'a < b'})
    expect(wellFormedProblems(xml)).toEqual([])
    expect(xml).toContain('<testsuites name="gate &amp; &lt;ci&gt;" tests="4" failures="2" errors="0" skipped="1"')
    expect(xml).toContain(
      '<testcase name="affectnet&lt;7&gt; &amp; &quot;friends&quot;" classname="affectnet7" time="0.000">',
    )
    expect(xml).toContain(
      '<failure message="affectnet&lt;7&gt; &amp; &quot;friends&quot;: dropped 1.72 pp &gt; tolerance 0.50 pp&#10;&apos;see&apos; report ' +
        '(baseline 67.22%, now 65.50%, delta -1.72 pp)" type="RegressionCheck">' +
        'dropped 1.72 pp &gt; tolerance 0.50 pp\n&apos;see&apos; report\nbaseline 67.22%, now 65.50%, delta -1.72 pp</failure>',
    )
    expect(xml).toContain('<failure message="nll: check failed (baseline 0.3100, now 0.3500, delta +0.0400)"')
    expect(xml).toContain('<skipped message="no baseline figure"/>')
    expect(xml).toContain('<system-out>a &lt; b</system-out>')
    expect(xml.match(/<testcase /g)!.length).toBe(4)
    expect(xml.match(/<failure /g)!.length).toBe(2)
  })

  it('control characters cannot break the document', () => {
    const xml = junitXml([{name: 'bad\u0001name\u0000', verdict: 'fail', message: 'x\u001by'}], {timestamp: 't'})
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/)
    expect(wellFormedProblems(xml)).toEqual([])
  })

  it('describeCheck with missing values', () => {
    expect(describeCheck({name: 'x', verdict: 'skip'})).toBe('baseline n/a, now n/a, delta –')
  })
})
