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
 */

/** What the scheduler needs from a stream. */
export interface HeartbeatTarget {
  /** Called on every tick; writes a heartbeat once the stream has been idle for `idleTicks` ticks. */
  heartbeatTick(idleTicks: number): void
}

interface Group {
  readonly members: Set<HeartbeatTarget>
  readonly timer: ReturnType<typeof setInterval>
}

const groups = new Map<number, Group>()

function tickFor(interval: number): number {
  return Math.max(5, Math.floor(interval / 4))
}

export function addHeartbeat(interval: number, target: HeartbeatTarget): void {
  let group = groups.get(interval)
  if (!group) {
    const tick = tickFor(interval)
    const members = new Set<HeartbeatTarget>()
    const idleTicks = Math.max(1, Math.round(interval / tick))
    const timer = setInterval(() => {
      for (const m of members) m.heartbeatTick(idleTicks)
    }, tick)
    // A heartbeat timer alone must not keep the process alive.
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
    group = { members, timer }
    groups.set(interval, group)
  }
  group.members.add(target)
}

export function removeHeartbeat(interval: number, target: HeartbeatTarget): void {
  const group = groups.get(interval)
  if (!group) return
  group.members.delete(target)
  if (group.members.size === 0) {
    clearInterval(group.timer)
    groups.delete(interval)
  }
}

/** How many shared heartbeat timers are running (one per distinct interval in use). */
export function heartbeatTimerCount(): number {
  return groups.size
}
