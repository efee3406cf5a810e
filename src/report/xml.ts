/** XML/HTML text helpers shared by the JUnit, SVG and HTML writers. */

// Characters XML 1.0 cannot carry at all (C0 controls other than TAB, LF, CR; lone surrogates; U+FFFE/U+FFFF).
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Remove characters that are not allowed anywhere in an XML 1.0 document (they would make it unparseable). */
export function stripInvalidXml(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD')
}

/** Escape text for use in XML/HTML element content or a double- or single-quoted attribute value. */
export function escapeXml(value: unknown): string {
  return stripInvalidXml(String(value ?? ''))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

/**
 * Escape for an attribute value where line breaks must survive (JUnit `message`): as escapeXml, plus TAB, LF
 * and CR as character references, because attribute-value normalisation would otherwise turn them into spaces.
 */
export function escapeXmlAttr(value: unknown): string {
  return escapeXml(value).replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;')
}
