/**
 * One shared timer drives the heartbeats of every open stream (one timer per
 * distinct interval, in practice one), instead of a `setInterval` per
 * connection: 10 000 idle streams cost one timer and a Set, not 10 000 timers.
 *
 * The timer ticks every quarter interval. A write only zeroes a per-stream
 * counter of idle ticks (no clock read on the hot path); a stream whose
 * counter reaches 4 (it has written nothing for at least three whole ticks)
 * gets a heartbeat. So the gap between two writes on an idle stream stays
 * within (0.75, 1] x interval (plus timer lateness), never above the interval
 * a proxy's idle timeout was sized for.
 *
 * That sharing needs timers that outlive the request that set them. A runtime
 * whose timers belong to a request (Cloudflare Workers cancels them when the
 * request that set them ends; the other streams' heartbeats would stop with
 * it) gets one timer per stream instead, set in that stream's own request.
 * Told apart by a feature, once: a timer we can unref (Node's and Bun's
 * handles, Deno's `unrefTimer`) belongs to the process; one we cannot (a
 * plain number: Workers, browsers) is taken to belong to the request.
 */

/** What the scheduler needs from a stream. */
export interface HeartbeatTarget {
  /** Called on every tick; writes a heartbeat once the stream has been idle for `idleTicks` ticks. */
  heartbeatTick(idleTicks: number): void
}

type Timer = ReturnType<typeof setInterval>

interface Group {
  readonly members: Set<HeartbeatTarget>
  readonly timer: Timer
}

const groups = new Map<number, Group>()
/** Per-stream timers, where timers belong to a request. */
const own = new Map<HeartbeatTarget, Timer>()
/** Whether timers outlive their request (shared timers); unknown until the first heartbeat. */
let processTimers: boolean | undefined

function tickFor(interval: number): number {
  return Math.max(5, Math.floor(interval / 4))
}

/**
 * Unref `timer` (a heartbeat timer alone must not keep the process alive);
 * false when this runtime's timers cannot be: they belong to a request.
 */
function unref(timer: Timer): boolean {
  if (typeof timer === 'object' && timer !== null && typeof timer.unref === 'function') {
    timer.unref()
    return true
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: unknown) => void } }).Deno
  if (typeof deno?.unrefTimer !== 'function') return false
  deno.unrefTimer(timer)
  return true
}

function startTimer(interval: number, tick: (idleTicks: number) => void): Timer {
  const every = tickFor(interval)
  const idleTicks = Math.max(1, Math.round(interval / every))
  return setInterval(() => tick(idleTicks), every)
}

export function addHeartbeat(interval: number, target: HeartbeatTarget): void {
  if (processTimers === false) {
    own.set(
      target,
      startTimer(interval, (n) => target.heartbeatTick(n)),
    )
    return
  }
  let group = groups.get(interval)
  if (!group) {
    const members = new Set<HeartbeatTarget>()
    const timer = startTimer(interval, (n) => {
      for (const m of members) m.heartbeatTick(n)
    })
    processTimers = unref(timer)
    if (!processTimers) {
      clearInterval(timer)
      addHeartbeat(interval, target)
      return
    }
    group = { members, timer }
    groups.set(interval, group)
  }
  group.members.add(target)
}

export function removeHeartbeat(interval: number, target: HeartbeatTarget): void {
  const timer = own.get(target)
  if (timer !== undefined) {
    clearInterval(timer)
    own.delete(target)
    return
  }
  const group = groups.get(interval)
  if (!group) return
  group.members.delete(target)
  if (group.members.size === 0) {
    clearInterval(group.timer)
    groups.delete(interval)
  }
}

/** How many heartbeat timers are running: one per distinct interval in use, or one per stream where timers belong to a request. */
export function heartbeatTimerCount(): number {
  return groups.size + own.size
}
