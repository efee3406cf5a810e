/** Report writers: run folder, CSVs, markdown, JUnit, SVG charts, HTML, terminal summary. */

export * from './types.js'
export * from './format.js'
export {escapeXml, escapeXmlAttr, stripInvalidXml} from './xml.js'
export * from './run-dir.js'
export * from './predictions-csv.js'
export * from './confusion-csv.js'
export * from './markdown.js'
export * from './junit.js'
export * from './charts.js'
export * from './html.js'
export * from './terminal.js'
export * from './dataset-charts.js'
