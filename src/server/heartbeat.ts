/**
 * One shared timer drives the heartbeats of every open stream (one timer per
 * distinct interval, in practice one), instead of a `setInterval` per
 * connection: 10 000 idle streams cost one timer and a Set, not 10 000 timers.
 *
 * The timer ticks every quarter interval; a stream gets a heartbeat when it
 * has written nothing for at least `interval - tick`, so the gap between two
 * writes on an idle stream stays within [0.75, 1] x interval (plus timer
 * lateness), never above the interval a proxy's idle timeout was sized for.
 */

/** What the scheduler needs from a stream. */
export interface HeartbeatTarget {
  /** Called on every tick with the current time; writes a heartbeat if the stream was idle long enough. */
  heartbeatTick(now: number, idleAtLeast: number): void
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
    const idleAtLeast = interval - tick
    const timer = setInterval(() => {
      const now = Date.now()
      for (const m of members) m.heartbeatTick(now, idleAtLeast)
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
