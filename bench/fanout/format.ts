/** Number formats and Markdown table pieces shared by the report and the chart. */

export const f = (x: number | undefined, digits = 1) =>
  x === undefined || !Number.isFinite(x)
    ? '-'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
export const k = (x: number | undefined) => (x === undefined ? '-' : `${f(x / 1000, 1)}k`)

export function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

export function complete(d: { delivered: number; expected: number; timedOut: boolean }): string {
  return d.delivered === d.expected
    ? 'all'
    : `${d.delivered}/${d.expected}${d.timedOut ? ' (timed out)' : ''}`
}

/** Text escaped for SVG. */
export const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
