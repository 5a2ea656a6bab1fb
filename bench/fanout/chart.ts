/** The hand-written SVG chart of one run (docs/img/fanout.svg). No dependencies. */
import { esc, f } from './format.js'
import type { Report, VariantResult } from './types.js'

export function renderSvg(report: Report): string {
  const panels: {
    title: string
    unit: string
    higher: boolean
    get: (r: VariantResult) => number | undefined
  }[] = [
    {
      title: 'Delivered events/s (throughput)',
      unit: 'ev/s',
      higher: true,
      get: (r) => r.throughput?.eventsPerSec,
    },
    {
      title: 'Server CPU per delivered event',
      unit: 'us',
      higher: false,
      get: (r) => r.throughput?.cpuUsPerEvent,
    },
    {
      title: `p99 latency, ${report.scale.latency[0]?.conns ?? '?'} conns x ${report.scale.latency[0]?.rate ?? '?'} msg/s`,
      unit: 'ms',
      higher: false,
      get: (r) => r.latency?.[0]?.p99Ms,
    },
    {
      title: `Memory per idle connection (${report.scale.idle.conns} conns)`,
      unit: 'KB',
      higher: false,
      get: (r) => r.idle?.kbPerConn,
    },
  ]
  const rs = report.results.filter((r) => panels.some((p) => p.get(r) !== undefined))
  const W = 960
  const labelW = 170
  const barH = 18
  const gap = 6
  const panelW = W / 2
  const panelH = 40 + Math.max(1, rs.length) * (barH + gap) + 16
  const H = 60 + panelH * 2 + 20
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">sluice fan-out benchmark</text>`,
    `<text x="16" y="44" fill="#555">${esc(`${report.date.slice(0, 10)} · ${report.machine.cores} cores · Node ${report.machine.node} · ${report.command}`)}</text>`,
  )
  panels.forEach((p, pi) => {
    const x0 = (pi % 2) * panelW + 16
    const y0 = 60 + Math.floor(pi / 2) * panelH
    const values = rs.map((r) => p.get(r) ?? 0)
    const max = Math.max(1e-9, ...values)
    const plotW = panelW - labelW - 90
    parts.push(
      `<text x="${x0}" y="${y0 + 20}" font-weight="bold">${esc(p.title)}</text>`,
      `<text x="${x0 + panelW - 40}" y="${y0 + 20}" fill="#777" text-anchor="end">${p.higher ? 'higher is better' : 'lower is better'}</text>`,
    )
    rs.forEach((r, i) => {
      const v = p.get(r)
      const y = y0 + 34 + i * (barH + gap)
      const w = v === undefined ? 0 : Math.max(1, (v / max) * plotW)
      const fill = r.ours ? '#2563eb' : '#9ca3af'
      const text =
        v === undefined
          ? 'not measured'
          : `${v >= 10_000 ? `${Math.round(v / 1000).toLocaleString('en-US')}k` : v >= 100 ? Math.round(v).toLocaleString('en-US') : f(v, v >= 10 ? 1 : 2)} ${p.unit}`
      parts.push(
        `<text x="${x0 + labelW - 8}" y="${y + barH - 5}" text-anchor="end">${esc(r.label)}</text>`,
        `<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${fill}" rx="2"/>`,
        `<text x="${x0 + labelW + w + 6}" y="${y + barH - 5}" fill="#333">${esc(text)}</text>`,
      )
    })
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
