/**
 * Server cost read from the OS, not from the process under test:
 * `/proc/<pid>/stat` utime+stime (clock ticks) and `/proc/<pid>/status`
 * VmRSS / VmHWM. Linux only, which is what the harness runs on.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** Clock ticks per second (USER_HZ), the unit of /proc's CPU times. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond =
        Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU time (user + system) the process has used, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return ((utime + stime) * 1000) / clockTicks()
}

function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
  return m ? Number(m[1]) : 0
}

/** Resident set size now, in KiB. */
export function rssKb(pid: number): number {
  return statusKb(pid, 'VmRSS')
}

/** Peak resident set size since the process started, in KiB. */
export function peakRssKb(pid: number): number {
  return statusKb(pid, 'VmHWM')
}

/** Samples RSS every `everyMs` until stopped; returns the peak seen (KiB). */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = 0
  const take = () => {
    try {
      peak = Math.max(peak, rssKb(pid))
    } catch {
      // the process is gone; keep what we saw
    }
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return peak
    },
  }
}

/** What this machine is, for the report. */
export function machine(): {
  cpu: string
  cores: number
  memGb: number
  node: string
  kernel: string
} {
  let cpu = 'unknown'
  let cores = 0
  let memGb = 0
  let kernel = 'unknown'
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu
    cores = (info.match(/^processor\s*:/gm) ?? []).length
  } catch {}
  try {
    const mem = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
    memGb = mem ? Math.round(Number(mem[1]) / 1024 / 1024) : 0
  } catch {}
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  } catch {}
  return { cpu, cores, memGb, node: process.version, kernel }
}
