/**
 * Tables (Markdown, so they paste into docs/benchmarks.md) and a hand-written
 * SVG chart from one run's results. No dependencies.
 */
import {
  type BenchResults,
  idleWarmup,
  noisy,
  QUIET_PCT,
  type VariantResult,
  WARMUP_SECONDS,
} from './harness.js'
import type { machine } from './proc.js'

export type Report = BenchResults & { machine: ReturnType<typeof machine>; command: string }

const f = (x: number | undefined, digits = 1) =>
  x === undefined || !Number.isFinite(x)
    ? '-'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const k = (x: number | undefined) => (x === undefined ? '-' : `${f(x / 1000, 1)}k`)

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

function complete(d: { delivered: number; expected: number; timedOut: boolean }): string {
  return d.delivered === d.expected
    ? 'all'
    : `${d.delivered}/${d.expected}${d.timedOut ? ' (timed out)' : ''}`
}

export function renderTable(report: Report): string {
  const rs = report.results
  const m = report.machine
  const s = report.scale
  const out: string[] = []
  out.push(
    `fan-out benchmark, ${report.date}; ${m.cpu}, ${m.cores} cores, ${m.memGb} GB, Node ${m.node}, Linux ${m.kernel}`,
  )
  out.push(`command: ${report.command}`)
  if (report.seconds !== undefined) out.push(`duration: ${f(report.seconds / 60, 1)} min`)
  out.push(
    report.pinning
      ? `pinning: servers (and redis-server) on CPU ${report.pinning.server}, load processes on CPU ${report.pinning.load} (taskset)`
      : 'pinning: none (servers and load processes share every CPU)',
  )

  const tp = rs.filter((r) => r.throughput)
  if (tp.length) {
    const t = s.throughput
    out.push(
      `\n### Throughput: ${t.conns} connections x ${t.msgs} messages of ${t.size} B, as fast as backpressure allows\n`,
    )
    out.push(
      table(
        [
          'variant',
          'delivered ev/s',
          'server CPU us/event',
          'server CPU s',
          'load CPU s',
          'peak RSS MB',
          'wire B/event',
          'head B once',
          'delivered',
        ],
        tp.map((r) => {
          const x = r.throughput!
          return [
            r.label,
            k(x.eventsPerSec),
            f(x.cpuUsPerEvent, 2) +
              (x.redisCpuMs !== undefined
                ? ` (+${f((x.redisCpuMs * 1000) / Math.max(1, x.delivered), 2)} redis)`
                : ''),
            f(x.serverCpuMs / 1000, 2),
            f(x.loadCpuMs / 1000, 2),
            f(x.peakRssMb, 0),
            f(x.wireBytesPerEvent, 1),
            f(x.handshakeBytes, 0),
            complete(x),
          ]
        }),
      ),
    )
  }

  const lat = rs.filter((r) => r.latency?.length)
  for (let i = 0; i < s.latency.length; i++) {
    const spec = s.latency[i]
    const rows = lat.filter((r) => r.latency![i])
    if (!rows.length) continue
    const n = rows[0].latency![i].rounds?.length ?? 1
    out.push(
      `\n### Latency: ${spec.conns} connections at ${spec.rate} msg/s for ${spec.seconds} s (publish to receipt)${n > 1 ? `, median of ${n} interleaved rounds` : ''}\n`,
    )
    out.push(
      `Each run starts with ${spec.warmupSeconds ?? WARMUP_SECONDS} s of messages at the same rate, measured apart ("warm-up p99": the first messages of a fresh server, its code still compiling) and not counted in p50-max.\n`,
    )
    out.push(
      `Others CPU %: what other processes used of the machine during the variant's busiest round (see Noisy scenario runs). Quiet rounds: those with others under ${QUIET_PCT}%; rank p99s on them when the medians are noisy.\n`,
    )
    out.push(
      table(
        [
          'variant',
          'p50 ms',
          'p99 ms',
          'p99 range ms',
          'p99.9 ms',
          'max ms',
          'warm-up p99 ms',
          'server CPU us/event',
          'others CPU % (max)',
          'p99 ms, quiet rounds',
          'delivered',
        ],
        rows.map((r) => {
          const x = r.latency![i]
          const others = (x.rounds ?? []).flatMap((y) => (y.noise ? [y.noise.othersCpuPct] : []))
          return [
            r.label,
            f(x.p50Ms, 2),
            f(x.p99Ms, 2),
            x.p99MinMs !== undefined ? `${f(x.p99MinMs, 1)}-${f(x.p99MaxMs, 1)}` : '-',
            f(x.p999Ms, 2),
            f(x.maxMs, 1),
            x.warmupP99Ms !== undefined ? f(x.warmupP99Ms, 1) : '-',
            f(x.cpuUsPerEvent, 2),
            others.length ? f(Math.max(...others), 0) : '-',
            x.quietRounds ? `${f(x.p99QuietMs, 2)} (${x.quietRounds} of ${n})` : `none of ${n}`,
            complete(x),
          ]
        }),
      ),
    )
  }

  const idle = rs.filter((r) => r.idle)
  if (idle.length) {
    out.push(
      `\n### Idle memory: ${s.idle.conns} open connections (RSS after GC, over ${idleWarmup(s.idle.conns)} connections opened first)\n`,
    )
    out.push(
      table(
        ['variant', 'KB per connection', 'RSS before MB', 'RSS after MB'],
        idle.map((r) => [
          r.label,
          f(r.idle!.kbPerConn, 1),
          f(r.idle!.rssBeforeMb, 0),
          f(r.idle!.rssAfterMb, 0),
        ]),
      ),
    )
  }

  const ramp = rs.filter((r) => r.ramp)
  if (ramp.length) {
    out.push(
      `\n### Connection ramp: ${s.ramp.conns} connections, ${s.ramp.concurrency} opening at once\n`,
    )
    out.push(
      table(
        ['variant', 'accepted/s', 'seconds', 'failed'],
        ramp.map((r) => [
          r.label,
          k(r.ramp!.acceptedPerSec),
          f(r.ramp!.seconds, 2),
          String(r.ramp!.failed),
        ]),
      ),
    )
  }

  const large = rs.filter((r) => r.large)
  if (large.length) {
    const l = s.large
    out.push(
      `\n### Large events: ${l.conns} connections x ${l.msgs} messages of ${l.size / 1024} KB\n`,
    )
    out.push(
      table(
        ['variant', 'delivered ev/s', 'MB/s', 'server CPU us/event', 'peak RSS MB', 'delivered'],
        large.map((r) => {
          const x = r.large!
          return [
            r.label,
            f(x.eventsPerSec, 0),
            f((x.eventsPerSec * x.wireBytesPerEvent) / 1e6, 0),
            f(x.cpuUsPerEvent, 1),
            f(x.peakRssMb, 0),
            complete(x),
          ]
        }),
      ),
    )
  }

  const res = rs.filter((r) => r.resume)
  if (res.length) {
    const x0 = s.resume
    out.push(
      `\n### Reconnect and resume: ${x0.conns} connections dropped after ${x0.before} events; ${x0.during} published while they were down; reconnect with Last-Event-ID; ${x0.after} more\n`,
    )
    out.push(
      table(
        [
          'variant',
          'received of owed, per connection',
          'lost (all conns)',
          'duplicates',
          'catch-up ms',
        ],
        res.map((r) => {
          const x = r.resume!
          return [
            r.label,
            `${f(x.received, 0)} of ${x.owed}`,
            String(x.lost),
            String(x.duplicates),
            f(x.catchUpMs, 0),
          ]
        }),
      ),
    )
  }

  for (const r of rs.filter((r) => r.redis?.length)) {
    out.push(`\n### Redis commands per published event (${r.label}, INFO commandstats)\n`)
    out.push(
      table(
        ['subscribers', 'commands per publish', 'delivered', 'breakdown'],
        r.redis!.map((x) => [
          String(x.subs),
          f(x.callsPerPublish, 2),
          complete({ ...x, timedOut: false }),
          Object.entries(x.commands)
            .sort((a, b) => b[1] - a[1])
            .map(([c, n]) => `${c} ${n}`)
            .join(', '),
        ]),
      ),
    )
  }

  const h2 = renderH2(rs)
  if (h2) out.push(h2)

  const ratios = renderRatios(rs)
  if (ratios) out.push(ratios)

  const loud = (report.noise ?? []).filter((n) => noisy(n, m.cores || undefined))
  if (loud.length) {
    out.push(
      `\n### Noisy scenario runs (other processes used >= 25% of the CPU, or the load average at the start was above cores + 2)\n`,
    )
    out.push(
      table(
        ['variant', 'scenario', 'round', 'load avg start -> end', 'others CPU %'],
        loud.map((n) => [
          n.variant,
          n.scenario,
          n.round !== undefined ? String(n.round + 1) : '-',
          `${n.loadStart[0]} -> ${n.loadEnd[0]}`,
          f(n.othersCpuPct, 1),
        ]),
      ),
    )
  }

  const errs = rs.filter((r) => r.errors.length)
  if (errs.length) {
    out.push('\n### Not measured\n')
    for (const r of errs) for (const e of r.errors) out.push(`- ${r.label}: ${e}`)
  }
  return out.join('\n')
}

/** The hub over HTTP/2 next to the hub over HTTP/1.1, from the same run. */
function renderH2(rs: VariantResult[]): string {
  const h1 = rs.find((r) => r.variant === 'sluice-hub')
  const h2 = rs.find((r) => r.variant === 'sluice-hub-h2')
  if (!h2 || !h1) return ''
  const rows: string[][] = []
  const row = (name: string, a: number | undefined, b: number | undefined, digits = 1) => {
    if (a === undefined && b === undefined) return
    rows.push([name, f(a, digits), f(b, digits)])
  }
  row('delivered ev/s (throughput)', h1.throughput?.eventsPerSec, h2.throughput?.eventsPerSec, 0)
  row(
    'server CPU us/event (throughput)',
    h1.throughput?.cpuUsPerEvent,
    h2.throughput?.cpuUsPerEvent,
    2,
  )
  row(
    'wire B/event after the handshake',
    h1.throughput?.wireBytesPerEvent,
    h2.throughput?.wireBytesPerEvent,
  )
  row('  of which SSE text', h1.throughput?.wireBytesPerEvent, h2.throughput?.bodyBytesPerEvent)
  row('response head B per stream', h1.throughput?.handshakeBytes, h2.throughput?.handshakeBytes)
  for (const [i] of (h1.latency ?? []).entries()) {
    const a = h1.latency?.[i]
    const b = h2.latency?.[i]
    if (!a || !b) continue
    row(`p50 ms, ${a.conns} x ${a.rate}/s`, a.p50Ms, b.p50Ms, 2)
    row(`p99 ms, ${a.conns} x ${a.rate}/s`, a.p99Ms, b.p99Ms, 2)
    row(`wire B/event, ${a.conns} x ${a.rate}/s`, a.wireBytesPerEvent, b.wireBytesPerEvent)
  }
  row('KB per idle connection / stream', h1.idle?.kbPerConn, h2.idle?.kbPerConn)
  row('accepted/s (ramp)', h1.ramp?.acceptedPerSec, h2.ramp?.acceptedPerSec, 0)
  if (!rows.length) return ''
  const sessions = h2.throughput?.sessions
  return [
    `\n### HTTP/2 (h2c) against HTTP/1.1, sluice hub, same run${sessions ? ` (streams over ${sessions} sessions in the throughput scenario)` : ''}\n`,
    table(['metric', h1.label, h2.label], rows),
  ].join('\n')
}

interface Metric {
  name: string
  get: (r: VariantResult) => number | undefined
  /** true when a bigger number is better. */
  higher: boolean
}

export const METRICS: Metric[] = [
  { name: 'delivered ev/s', get: (r) => r.throughput?.eventsPerSec, higher: true },
  { name: 'server CPU us/event', get: (r) => r.throughput?.cpuUsPerEvent, higher: false },
  {
    name: 'p99 latency (first latency row, median of rounds)',
    get: (r) => r.latency?.[0]?.p99Ms,
    higher: false,
  },
  {
    name: 'p99 latency (first latency row, quiet rounds only)',
    get: (r) => r.latency?.[0]?.p99QuietMs,
    higher: false,
  },
  { name: 'KB per idle connection', get: (r) => r.idle?.kbPerConn, higher: false },
]

/** "ours vs rival" as a factor where > 1 always means ours is better. */
function renderRatios(rs: VariantResult[]): string {
  const ours = rs.filter((r) => r.ours)
  const rivals = rs.filter((r) => !r.ours)
  const lines: string[] = []
  for (const o of ours) {
    const rows: string[][] = []
    for (const m of METRICS) {
      const a = m.get(o)
      if (a === undefined) continue
      const cells = rivals.map((r) => {
        const b = m.get(r)
        if (b === undefined || a === 0 || b === 0) return '-'
        return `${f(m.higher ? a / b : b / a, 2)}x`
      })
      rows.push([m.name, ...cells])
    }
    if (!rows.length || !rivals.length) continue
    lines.push(`\n### ${o.label} against the rivals in this run (> 1x: ${o.label} is better)\n`)
    lines.push(table(['metric', ...rivals.map((r) => r.label)], rows))
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------
// SVG

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

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
