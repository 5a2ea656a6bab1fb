/**
 * Tables (Markdown, so they paste into docs/benchmarks.md) and a hand-written
 * SVG chart (chart.ts) from one run's results. No dependencies.
 */
import { idleWarmup, QUIET_PCT, WARMUP_SECONDS } from './config.js'
import { complete, f, k, table } from './format.js'
import { noisy } from './stats.js'
import type { Report, Scale, VariantResult } from './types.js'

export { renderSvg } from './chart.js'
export type { Report } from './types.js'

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

  out.push(...throughputSection(rs, s))
  out.push(...latencySections(rs, s))
  out.push(...idleSection(rs, s))
  out.push(...rampSection(rs, s))
  out.push(...largeSection(rs, s))
  out.push(...resumeSection(rs, s))
  out.push(...redisSections(rs))

  const h2 = renderH2(rs)
  if (h2) out.push(h2)

  const ratios = renderRatios(rs)
  if (ratios) out.push(ratios)

  out.push(...noiseSection(report))
  out.push(...errorsSection(rs))
  return out.join('\n')
}

/** The throughput table. */
function throughputSection(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** One latency table per spec. */
function latencySections(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** Idle memory per connection. */
function idleSection(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** The connection ramp. */
function rampSection(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** Large events. */
function largeSection(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** Reconnect and resume. */
function resumeSection(rs: VariantResult[], s: Scale): string[] {
  const out: string[] = []
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
  return out
}

/** Redis commands per publish, per Redis variant. */
function redisSections(rs: VariantResult[]): string[] {
  const out: string[] = []
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
  return out
}

/** The scenario runs the machine made noisy. */
function noiseSection(report: Report): string[] {
  const out: string[] = []
  const loud = (report.noise ?? []).filter((n) => noisy(n, report.machine.cores || undefined))
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
  return out
}

/** What could not be measured, and why. */
function errorsSection(rs: VariantResult[]): string[] {
  const out: string[] = []
  const errs = rs.filter((r) => r.errors.length)
  if (errs.length) {
    out.push('\n### Not measured\n')
    for (const r of errs) for (const e of r.errors) out.push(`- ${r.label}: ${e}`)
  }
  return out
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
