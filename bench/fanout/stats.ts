/** Summaries of measurements: medians, the latency rounds' order and summary, noisy runs. */
import { availableParallelism } from 'node:os'
import { QUIET_PCT } from './config.js'
import type { LatencyResult, LatencyRound, Noise } from './types.js'

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Round `round`'s order: the list rotated left by `round`, so every variant takes every position. */
export function roundOrder<T>(list: T[], round: number): T[] {
  if (!list.length) return []
  const k = round % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

/** One spec's rounds summarised (medians, sums, the p99 range). */
export function summariseRounds(rounds: LatencyRound[]): LatencyResult {
  const med = (get: (r: LatencyRound) => number) => median(rounds.map(get))
  const p99s = rounds.map((r) => r.p99Ms)
  const quiet = rounds.filter((r) => r.noise !== undefined && r.noise.othersCpuPct < QUIET_PCT)
  return {
    conns: rounds[0].conns,
    rate: rounds[0].rate,
    seconds: rounds[0].seconds,
    delivered: rounds.reduce((a, r) => a + r.delivered, 0),
    expected: rounds.reduce((a, r) => a + r.expected, 0),
    p50Ms: med((r) => r.p50Ms),
    p99Ms: med((r) => r.p99Ms),
    p999Ms: med((r) => r.p999Ms),
    maxMs: med((r) => r.maxMs),
    serverCpuMs: med((r) => r.serverCpuMs),
    cpuUsPerEvent: med((r) => r.cpuUsPerEvent),
    wireBytesPerEvent: med((r) => r.wireBytesPerEvent),
    timedOut: rounds.some((r) => r.timedOut),
    p99MinMs: Math.min(...p99s),
    p99MaxMs: Math.max(...p99s),
    quietRounds: quiet.length,
    ...(quiet.length ? { p99QuietMs: median(quiet.map((r) => r.p99Ms)) } : {}),
    ...(rounds.every((r) => r.warmup)
      ? { warmupP99Ms: median(rounds.map((r) => r.warmup!.p99Ms)) }
      : {}),
    rounds,
  }
}

/**
 * A scenario run is flagged as noisy when other processes used a quarter of
 * the machine's CPU meanwhile, or when the 1-minute load average at its start
 * was above the CPU count + 2 (the bench's own server and load process
 * account for up to 2 of it, so the load average alone cannot say more).
 */
export function noisy(n: Noise, cores = availableParallelism()): boolean {
  return n.othersCpuPct >= 25 || n.loadStart[0] > cores + 2
}
