/**
 * How busy the machine was around a scenario run (/proc/stat against our own
 * processes' CPU), and where a run reports it.
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { clockTicks, cpuMs } from './proc.js'
import type { Noise, NoiseRecord } from './types.js'

/** Busy and total CPU time of the whole machine so far, ms (the first line of /proc/stat). */
function machineCpuMs(): { busy: number; total: number } {
  const [, ...xs] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
  const n = xs.map(Number)
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = n[3] + n[4]
  const ms = 1000 / clockTicks()
  return { busy: (total - idle) * ms, total: total * ms }
}

/** Our processes' CPU time so far, ms: the harness and the given pids. */
function oursCpuMs(pids: number[]): number {
  const u = process.cpuUsage()
  let ms = (u.user + u.system) / 1000
  for (const pid of pids) {
    try {
      ms += cpuMs(pid)
    } catch {
      // gone
    }
  }
  return ms
}

/** Starts watching the machine; `stop()` returns what else ran meanwhile. */
export function watchNoise(pids: () => number[]): { stop(): Noise } {
  const loadStart = loadavg()
  const m0 = machineCpuMs()
  const o0 = oursCpuMs(pids())
  const t0 = performance.now()
  return {
    stop() {
      const m1 = machineCpuMs()
      const o1 = oursCpuMs(pids())
      const total = m1.total - m0.total
      const others = m1.busy - m0.busy - (o1 - o0)
      return {
        loadStart: loadStart.map((x) => Math.round(x * 100) / 100),
        loadEnd: loadavg().map((x) => Math.round(x * 100) / 100),
        othersCpuPct: total > 0 ? Math.max(0, Math.round((others / total) * 1000) / 10) : 0,
        seconds: Math.round(performance.now() - t0) / 1000,
      }
    },
  }
}

/** Where a scenario run reports the machine's noise (variant, scenario, round). */
export interface NoiseSink {
  variant: string
  scenario: string
  round?: number
  out: NoiseRecord[]
  /** Set to the run's noise as well (latency rounds keep it per round). */
  last?: Noise
}
