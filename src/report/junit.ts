/** JUnit XML for `poster check`: one testcase per check, a <failure> for each failed one, <skipped/> for skipped. */

import {checkDelta} from './markdown.js'
import {deltaPp, fixed, pct, signed} from './format.js'
import {escapeXml, escapeXmlAttr} from './xml.js'
import type {CheckResult} from './types.js'

export interface JunitOptions {
  /** testsuite name; default "poster check". */
  suiteName?: string
  /** ISO timestamp for the testsuite; default now. */
  timestamp?: string
  /** Extra text for <system-out> (e.g. the markdown table). */
  systemOut?: string
}

function value(c: CheckResult, v: number | undefined): string {
  if (v === undefined) return 'n/a'
  return (c.unit ?? 'percent') === 'percent' ? pct(v, 2) : fixed(v, 4)
}

/** The human-readable comparison for a check: "baseline 92.21%, now 91.00%, delta −1.21 pp". */
export function describeCheck(c: CheckResult): string {
  const d = checkDelta(c)
  const dText = (c.unit ?? 'percent') === 'percent' ? deltaPp(d, 2, '-') : signed(d, 4, '-')
  return `baseline ${value(c, c.baseline)}, now ${value(c, c.now)}, delta ${dText}`
}

const secs = (t: number | undefined): string => fixed(t ?? 0, 3)

/** A complete JUnit XML document. */
export function junitXml(checks: readonly CheckResult[], options: JunitOptions = {}): string {
  const suite = options.suiteName ?? 'poster check'
  const failures = checks.filter((c) => c.verdict === 'fail').length
  const skipped = checks.filter((c) => c.verdict === 'skip').length
  const time = checks.reduce((s, c) => s + (c.time ?? 0), 0)
  const ts = options.timestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, '')
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>']
  const counts = `tests="${checks.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(time)}"`
  lines.push(`<testsuites name="${escapeXmlAttr(suite)}" ${counts}>`)
  lines.push(`  <testsuite name="${escapeXmlAttr(suite)}" ${counts} timestamp="${escapeXmlAttr(ts)}">`)
  for (const c of checks) {
    const head =
      `    <testcase name="${escapeXmlAttr(c.name)}" classname="${escapeXmlAttr(c.group ?? suite)}" ` +
      `time="${secs(c.time)}"`
    const detail = describeCheck(c)
    if (c.verdict === 'pass') {
      lines.push(`${head}>`)
      lines.push(`      <system-out>${escapeXml(detail + (c.message ? `\n${c.message}` : ''))}</system-out>`)
      lines.push('    </testcase>')
    } else if (c.verdict === 'skip') {
      lines.push(`${head}>`)
      lines.push(`      <skipped message="${escapeXmlAttr(c.message ?? 'skipped')}"/>`)
      lines.push('    </testcase>')
    } else {
      const message = `${c.name}: ${c.message ?? 'check failed'} (${detail})`
      lines.push(`${head}>`)
      lines.push(
        `      <failure message="${escapeXmlAttr(message)}" type="RegressionCheck">${escapeXml(
          `${c.message ?? 'check failed'}\n${detail}`,
        )}</failure>`,
      )
      lines.push('    </testcase>')
    }
  }
  if (options.systemOut) lines.push(`    <system-out>${escapeXml(options.systemOut)}</system-out>`)
  lines.push('  </testsuite>')
  lines.push('</testsuites>')
  return lines.join('\n') + '\n'
}
