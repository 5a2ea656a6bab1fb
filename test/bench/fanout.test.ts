/**
 * The fan-out harness end to end with tiny numbers: every variant's server
 * process starts, the load process opens its connections, and every event
 * published reaches every connection — which is what proves the harness counts
 * correctly. Speed is never asserted here; docs/benchmarks.md has the numbers.
 */
import { expect, it } from 'vitest'
import { available, runBench, type Scale, VARIANTS } from '../../bench/fanout/harness.js'
import { renderSvg, renderTable } from '../../bench/fanout/report.js'
import { machine } from '../../bench/fanout/proc.js'
import { describeExternal } from '../helpers/external.js'

const TINY: Scale = {
  throughput: { conns: 5, msgs: 20, size: 100 },
  latency: [{ conns: 5, rate: 50, seconds: 0.4, size: 100 }],
  idle: { conns: 10 },
  ramp: { conns: 10, concurrency: 5 },
  large: { conns: 2, msgs: 3, size: 64 * 1024 },
  redis: { subs: [2, 5], msgs: 10, size: 100 },
  resume: { conns: 3, before: 5, during: 5, after: 5 },
  timeoutMs: 15_000,
}

// The Redis variant needs redis-server; the others need nothing outside node_modules.
describeExternal(['redis-server'], 'fan-out harness', () => {
  it('delivers every event to every connection for each variant (5 connections x 20 messages)', async () => {
    const variants = VARIANTS.filter(available)
    // Two lanes at once (one per core): each variant still gets its own processes.
    const lanes = [variants.filter((_, i) => i % 2 === 0), variants.filter((_, i) => i % 2 === 1)]
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

    for (const r of run.results) {
      expect(r.errors, r.variant).toEqual([])
      expect(r.throughput, r.variant).toMatchObject({
        delivered: 100,
        expected: 100,
        timedOut: false,
      })
      // Every event carries a ~100-byte payload plus its framing, and nothing else was sent.
      expect(r.throughput!.wireBytesPerEvent, r.variant).toBeGreaterThanOrEqual(100)
      expect(r.throughput!.serverCpuMs, r.variant).toBeGreaterThanOrEqual(0)
      const [lat] = r.latency!
      expect(lat, r.variant).toMatchObject({ delivered: 5 * 20, expected: 5 * 20, timedOut: false })
      expect(lat.p50Ms, r.variant).toBeGreaterThan(0)
      expect(lat.p99Ms, r.variant).toBeGreaterThanOrEqual(lat.p50Ms)
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
    expect(r.idle).toMatchObject({ conns: 10, opened: 10 })
    expect(r.ramp).toMatchObject({ opened: 10, failed: 0 })
  }, 60_000)

  it('counts what a reconnect loses: nothing on the hub (Last-Event-ID replay), the gap on ws', async () => {
    const variants = VARIANTS.filter(
      (v) => (v.name === 'sluice-hub' || v.name === 'ws') && available(v),
    )
    const run = await runBench({ variants, scenarios: ['resume'], scale: TINY, compile: false })
    const by = Object.fromEntries(run.results.map((r) => [r.variant, r]))
    for (const r of run.results) expect(r.errors, r.variant).toEqual([])
    if (by['sluice-hub']) {
      expect(by['sluice-hub'].resume).toMatchObject({
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
