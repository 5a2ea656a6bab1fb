/**
 * The fan-out harness end to end with tiny numbers: every variant's server
 * process starts, the load process opens its connections, and every event
 * published reaches every connection — which is what proves the harness counts
 * correctly. Speed is never asserted here; docs/benchmarks.md has the numbers.
 */
import { availableParallelism } from 'node:os'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import {
  available,
  type LatencyRound,
  median,
  roundOrder,
  runBench,
  type Scale,
  summariseRounds,
  VARIANTS,
} from '../../bench/fanout/harness.js'
import { renderSvg, renderTable } from '../../bench/fanout/report.js'
import { machine } from '../../bench/fanout/proc.js'
import { describeExternal } from '../helpers/external.js'

const TINY: Scale = {
  throughput: { conns: 5, msgs: 20, size: 100 },
  latency: [{ conns: 5, rate: 50, seconds: 0.4, size: 100, warmupSeconds: 0.2 }],
  idle: { conns: 10 },
  ramp: { conns: 10, concurrency: 5 },
  large: { conns: 2, msgs: 3, size: 64 * 1024 },
  redis: { subs: [2, 5], msgs: 10, size: 100 },
  resume: { conns: 3, before: 5, during: 5, after: 5 },
  timeoutMs: 15_000,
  // HTTP/2: 5 streams make 2 sessions, 10 make 3 (exercises the multiplexing with tiny numbers).
  h2StreamsPerSession: 4,
}

it('rotates the latency order each round, so every variant takes every position', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 8 }), (names) => {
      const rounds = Array.from({ length: names.length }, (_, r) => roundOrder(names, r))
      for (const order of rounds) expect([...order].sort()).toEqual([...names].sort())
      for (const name of names) {
        const positions = rounds.map((order) => order.indexOf(name)).sort((a, b) => a - b)
        expect(positions).toEqual(names.map((_, i) => i))
      }
    }),
  )
  expect(roundOrder(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a'])
  expect(roundOrder(['a', 'b', 'c'], 3)).toEqual(['a', 'b', 'c'])
})

it('summarises latency rounds as medians, sums and the p99 range', () => {
  expect(median([3, 1, 2])).toBe(2)
  expect(median([4, 1, 3, 2])).toBe(2.5)
  const round = (i: number, p99Ms: number, p50Ms: number): LatencyRound => ({
    round: i,
    position: i,
    conns: 10,
    rate: 20,
    seconds: 1,
    delivered: 200,
    expected: 200,
    p50Ms,
    p99Ms,
    p999Ms: p99Ms + 1,
    maxMs: p99Ms + 2,
    serverCpuMs: 10 * (i + 1),
    cpuUsPerEvent: 50 * (i + 1),
    wireBytesPerEvent: 130,
    timedOut: false,
  })
  // One noisy round (450 ms) does not move the median; the quiet rounds are those with
  // other processes under 10% of the machine.
  const noise = (othersCpuPct: number) => ({
    loadStart: [1, 1, 1],
    loadEnd: [1, 1, 1],
    othersCpuPct,
    seconds: 1,
  })
  const s = summariseRounds([
    { ...round(0, 20, 2), noise: noise(5) },
    { ...round(1, 450, 9), noise: noise(60) },
    { ...round(2, 30, 3), noise: noise(8) },
  ])
  expect(s).toMatchObject({
    conns: 10,
    delivered: 600,
    expected: 600,
    p50Ms: 3,
    p99Ms: 30,
    p999Ms: 31,
    maxMs: 32,
    serverCpuMs: 20,
    cpuUsPerEvent: 100,
    p99MinMs: 20,
    p99MaxMs: 450,
    quietRounds: 2,
    p99QuietMs: 25,
    timedOut: false,
  })
  // Without a quiet round there is no quiet p99.
  const busy = summariseRounds([{ ...round(0, 20, 2), noise: noise(50) }])
  expect(busy.quietRounds).toBe(0)
  expect(busy.p99QuietMs).toBeUndefined()
  expect(s.rounds).toHaveLength(3)
  // The warm-up's p99 is summarised apart, as the median of the rounds' (when every round had one).
  expect(s.warmupP99Ms).toBeUndefined()
  const warmed = summariseRounds(
    [40, 90, 50].map((w, i) => ({
      ...round(i, 20, 2),
      warmup: { messages: 20, p99Ms: w, maxMs: w + 5 },
    })),
  )
  expect(warmed.warmupP99Ms).toBe(50)
  expect(warmed.p99Ms).toBe(20)
})

// The Redis variant needs redis-server; the others need nothing outside node_modules.
describeExternal(['redis-server'], 'fan-out harness', () => {
  it('delivers every event to every connection for each variant (5 connections x 20 messages)', async () => {
    const variants = VARIANTS.filter(available)
    // Two lanes at once (one per core): each variant still gets its own processes.
    const lanes = [variants.filter((_, i) => i % 2 === 0), variants.filter((_, i) => i % 2 === 1)]
    const t0 = performance.now()
    const runs = await Promise.all(
      lanes.map((lane) =>
        runBench({
          variants: lane,
          scenarios: ['throughput', 'latency'],
          scale: TINY,
          compile: false,
        }),
      ),
    )
    const run = { ...runs[0], results: runs.flatMap((r) => r.results) }
    // No process can use more CPU than the wall-clock time times the cores.
    const cpuCeilingMs = (performance.now() - t0) * availableParallelism()

    for (const r of run.results) {
      expect(r.errors, r.variant).toEqual([])
      expect(r.throughput, r.variant).toMatchObject({
        delivered: 100,
        expected: 100,
        timedOut: false,
      })
      // Every event carries a ~100-byte payload plus its framing, and nothing else was sent.
      expect(r.throughput!.wireBytesPerEvent, r.variant).toBeGreaterThanOrEqual(100)
      // The server's CPU time, read from /proc in clock ticks: a duration, in ms.
      expect(r.throughput!.serverCpuMs, r.variant).toBeGreaterThanOrEqual(0)
      expect(r.throughput!.serverCpuMs, r.variant).toBeLessThanOrEqual(cpuCeilingMs)
      const [lat] = r.latency!
      expect(lat, r.variant).toMatchObject({ delivered: 5 * 20, expected: 5 * 20, timedOut: false })
      expect(lat.rounds, r.variant).toHaveLength(1)
      // Every event leaves alone at 50/s: the whole frame is on the wire, payload included.
      expect(lat.wireBytesPerEvent, r.variant).toBeGreaterThanOrEqual(100)
      expect(lat.p50Ms, r.variant).toBeGreaterThan(0)
      expect(lat.p99Ms, r.variant).toBeGreaterThanOrEqual(lat.p50Ms)
    }

    // HTTP/2: 5 streams over 2 sessions (4 per session); the sockets carried the SSE text
    // plus frame headers, so the wire count is at least the body count.
    const h2 = run.results.find((r) => r.variant === 'sluice-hub-h2')
    if (h2) {
      expect(h2.throughput).toMatchObject({ sessions: 2 })
      expect(h2.throughput!.bodyBytesPerEvent).toBeGreaterThanOrEqual(100)
      expect(h2.throughput!.wireBytesPerEvent).toBeGreaterThanOrEqual(
        h2.throughput!.bodyBytesPerEvent!,
      )
    }

    // The report renders every variant that ran, as Markdown and as SVG.
    const report = { ...run, machine: machine(), command: 'test' }
    const table = renderTable(report)
    const svg = renderSvg(report)
    for (const v of variants) {
      expect(table).toContain(`| ${v.label} |`)
      expect(svg).toContain(v.label)
    }
    expect(svg.startsWith('<svg')).toBe(true)
  }, 60_000)

  it('counts 64 KB events, idle memory and accepted connections (raw node:http baseline)', async () => {
    const variants = VARIANTS.filter((v) => v.name === 'raw')
    const run = await runBench({
      variants,
      scenarios: ['idle', 'ramp', 'large'],
      scale: TINY,
      compile: false,
    })
    const [r] = run.results
    expect(r.errors).toEqual([])
    expect(r.large).toMatchObject({ delivered: 6, expected: 6, timedOut: false })
    // An event counts once its last bytes are in: all 64 KB of each were received.
    expect(r.large!.wireBytesPerEvent).toBeGreaterThan(64 * 1024)
    expect(r.idle).toMatchObject({ conns: 10, opened: 10, warmupConns: 1 })
    expect(r.ramp).toMatchObject({ opened: 10, failed: 0 })
  }, 60_000)

  it('runs latency in interleaved rounds and HTTP/2 idle streams over sessions (hub on h2, raw loop on HTTP/1.1)', async () => {
    const variants = VARIANTS.filter(
      (v) => (v.name === 'sluice-hub-h2' || v.name === 'raw') && available(v),
    )
    const names = variants.map((v) => v.name)
    const run = await runBench({
      variants,
      scenarios: ['latency', 'idle'],
      scale: { ...TINY, rounds: 2 },
      compile: false,
    })
    // Round r runs the variants rotated by r.
    expect(run.latencyOrder).toEqual([0, 1].map((r) => roundOrder(names, r)))
    for (const r of run.results) {
      expect(r.errors, r.variant).toEqual([])
      const [lat] = r.latency!
      expect(lat.rounds.map((x) => x.round)).toEqual([0, 1])
      for (const x of lat.rounds) {
        // 20 measured messages to 5 connections; the 10 of the warm-up are measured apart.
        expect(x, r.variant).toMatchObject({ delivered: 100, expected: 100, timedOut: false })
        expect(x.warmup?.messages, r.variant).toBe(10)
        expect(x.warmup!.maxMs).toBeGreaterThanOrEqual(x.warmup!.p99Ms)
        expect(x.position).toBe(run.latencyOrder[x.round].indexOf(r.variant))
        expect(x.noise!.loadStart).toHaveLength(3)
      }
      expect(lat).toMatchObject({ delivered: 200, expected: 200 })
      expect(lat.p99Ms).toBeGreaterThanOrEqual(lat.p99MinMs)
      expect(lat.p99Ms).toBeLessThanOrEqual(lat.p99MaxMs)
      expect(r.idle).toMatchObject({ conns: 10, opened: 10, warmupConns: 1 })
    }
    // The machine's load is recorded around every scenario run: 2 variants x (2 latency rounds + idle).
    expect(run.noise).toHaveLength(2 * 3)
    for (const n of run.noise) {
      // A share of the whole machine (clamped at 0 when ours outran the sampling).
      expect(n.othersCpuPct).toBeGreaterThanOrEqual(0)
      expect(n.othersCpuPct).toBeLessThanOrEqual(100)
    }
    const table = renderTable({ ...run, machine: machine(), command: 'test' })
    expect(table).toContain('median of 2 interleaved rounds')
    expect(table).toContain('p99 range ms')
    expect(table).toContain('warm-up p99 ms')
  }, 60_000)

  it('counts what a reconnect loses: nothing on the hub (Last-Event-ID replay), the gap on ws', async () => {
    const variants = VARIANTS.filter(
      (v) =>
        (v.name === 'sluice-hub' || v.name === 'sluice-hub-h2' || v.name === 'ws') && available(v),
    )
    const run = await runBench({ variants, scenarios: ['resume'], scale: TINY, compile: false })
    const by = Object.fromEntries(run.results.map((r) => [r.variant, r]))
    for (const r of run.results) expect(r.errors, r.variant).toEqual([])
    // Over HTTP/2 too: Last-Event-ID is a request header on the new stream.
    for (const name of ['sluice-hub', 'sluice-hub-h2']) {
      if (!by[name]) continue
      expect(by[name].resume, name).toMatchObject({
        owed: 10,
        received: 10,
        lost: 0,
        duplicates: 0,
        timedOut: false,
      })
    }
    // WebSocket has no resume protocol: the 5 events published while each of the 3 was away are gone.
    expect(by.ws.resume).toMatchObject({
      owed: 10,
      received: 5,
      lost: 15,
      duplicates: 0,
      timedOut: false,
    })
  }, 60_000)

  it('counts the Redis commands the hub issues per published event', async () => {
    const variants = VARIANTS.filter((v) => v.name === 'sluice-hub-redis' && available(v))
    const run = await runBench({ variants, scenarios: ['redis'], scale: TINY, compile: false })
    for (const r of run.results) {
      expect(r.errors).toEqual([])
      expect(r.redis!.map((x) => x.subs)).toEqual([2, 5])
      for (const x of r.redis!) {
        expect(x).toMatchObject({ published: 10, expected: x.subs * 10, delivered: x.subs * 10 })
        // The harness's own INFO and CONFIG RESETSTAT are not counted.
        expect(x.commands.info).toBeUndefined()
        expect(x.totalCalls).toBeGreaterThan(0)
      }
    }
  }, 60_000)
})
