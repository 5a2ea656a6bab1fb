/**
 * Who follows a run, and stopping the runs nobody follows (issue 17 row 1: a
 * run went on for no one after its client left, for as long as it liked).
 *
 * A run produced here counts its followers on this node. When the last one
 * leaves, the run stops after its grace unless someone comes back: the
 * run's `stopOnDisconnect` when that follower disconnected, capped by the
 * manager's `abandonAfter`, which also applies from the start (a run nobody
 * ever follows) and after any other departure.
 *
 * Followers on other nodes (a shared store) count too: a node following a
 * run it does not produce writes a `sluice-follow` marker into the run's log
 * when it starts and every half lease while it follows; the producing node
 * sees them on its watch of the log and holds the stop until two lease
 * halves pass without one. Markers are never delivered.
 */
import type { Store } from '../hub/store.js'
import { FOLLOW_EVENT, noop, runTopic } from './log.js'

/** What presence needs of its manager. */
export interface PresenceHost {
  readonly store: Store
  readonly lease: number
  /** Whether this node produces the run now. */
  isLocal(runId: string): boolean
  /** Stop a run produced here (nobody follows it). */
  abandon(runId: string): void
}

/** Something whose buffered bytes count against the budget (a follower's stream). */
export interface Buffered {
  readonly bufferedBytes: number
}

/** The grace of a run from its own `stopOnDisconnect` and the manager's `abandonAfter` (undefined: never). */
export function graceOf(
  stopOnDisconnect: boolean | number | undefined,
  abandonAfter: number | undefined,
): number | undefined {
  const own =
    stopOnDisconnect === true ? 0 : stopOnDisconnect === false ? undefined : stopOnDisconnect
  if (own === undefined) return abandonAfter
  return abandonAfter === undefined ? own : Math.min(own, abandonAfter)
}

interface Produced {
  /** After a disconnect: the run's own grace (capped). */
  onDisconnect: number | undefined
  /** After any other departure, and from the start: `abandonAfter`. */
  always: number | undefined
  /** Last time another node said it follows (ms since the epoch). */
  remoteSeen: number
  timer?: ReturnType<typeof setTimeout>
}

export class Presence {
  /** Followers per run on this node (runs produced here or elsewhere). */
  private readonly count = new Map<string, number>()
  /** Runs produced here that may be abandoned. */
  private readonly produced = new Map<string, Produced>()
  /** Runs produced elsewhere that this node follows: the marker timer. */
  private readonly remote = new Map<string, ReturnType<typeof setInterval>>()
  /** The followers' streams, for the budget's buffered bytes. */
  readonly streams = new Set<Buffered>()

  constructor(
    private readonly host: PresenceHost,
    /** Stop any run nobody follows for this long (ms); undefined: only runs that ask. */
    readonly abandonAfter: number | undefined,
  ) {}

  /** A run produced here started: arm its stop when nobody follows it. */
  started(runId: string, stopOnDisconnect: boolean | number | undefined): void {
    const onDisconnect = graceOf(stopOnDisconnect, this.abandonAfter)
    if (onDisconnect === undefined) return
    const run: Produced = { onDisconnect, always: this.abandonAfter, remoteSeen: 0 }
    this.produced.set(runId, run)
    // Nobody follows yet: the starting request's follower attaches within the same request.
    this.arm(runId, run, run.always)
  }

  /** A run produced here settled. */
  ended(runId: string): void {
    const run = this.produced.get(runId)
    if (run?.timer) clearTimeout(run.timer)
    this.produced.delete(runId)
  }

  /** Another node wrote a presence marker into a run produced here. */
  seen(runId: string): void {
    const run = this.produced.get(runId)
    if (run) run.remoteSeen = Date.now()
  }

  /** Sum of the followers' buffered bytes. */
  buffered(): number {
    let n = 0
    for (const s of this.streams) n += s.bufferedBytes
    return n
  }

  /** Count a follower on this node; returns its release (`disconnected`: the client left). */
  follow(runId: string, stream?: Buffered): (disconnected: boolean) => void {
    const n = (this.count.get(runId) ?? 0) + 1
    this.count.set(runId, n)
    if (stream) this.streams.add(stream)
    if (n === 1 && !this.host.isLocal(runId) && this.host.store.kind !== 'memory') {
      this.markRemote(runId)
    }
    let released = false
    return (disconnected) => {
      if (released) return
      released = true
      if (stream) this.streams.delete(stream)
      const left = (this.count.get(runId) ?? 1) - 1
      if (left > 0) {
        this.count.set(runId, left)
        return
      }
      this.count.delete(runId)
      const timer = this.remote.get(runId)
      if (timer) {
        clearInterval(timer)
        this.remote.delete(runId)
      }
      const run = this.produced.get(runId)
      if (run) this.arm(runId, run, disconnected ? run.onDisconnect : run.always)
    }
  }

  /** Followers of a run on this node now. */
  followers(runId: string): number {
    return this.count.get(runId) ?? 0
  }

  /** Stop everything (the manager closes). */
  close(): void {
    for (const run of this.produced.values()) if (run.timer) clearTimeout(run.timer)
    for (const timer of this.remote.values()) clearInterval(timer)
    this.produced.clear()
    this.remote.clear()
  }

  /** Stop the run `grace` ms from now unless a follower comes (here or elsewhere). */
  private arm(runId: string, run: Produced, grace: number | undefined): void {
    if (run.timer) clearTimeout(run.timer)
    run.timer = undefined
    if (grace === undefined) return
    run.timer = setTimeout(() => {
      run.timer = undefined
      if (this.followers(runId) > 0 || !this.host.isLocal(runId)) return
      // A follower elsewhere said so within the last two half-leases: look again when that lapses.
      const remoteUntil = run.remoteSeen + this.host.lease
      if (remoteUntil > Date.now()) return this.arm(runId, run, remoteUntil - Date.now())
      this.host.abandon(runId)
    }, grace)
    run.timer.unref?.()
  }

  /** Tell the producing node, through the log, that this node follows: now and every half lease. */
  private markRemote(runId: string): void {
    const topic = runTopic(runId)
    const mark = () =>
      void this.host.store.append(topic, { event: FOLLOW_EVENT, data: '' }).catch(noop)
    mark()
    const timer = setInterval(mark, Math.max(10, Math.floor(this.host.lease / 2)))
    timer.unref?.()
    this.remote.set(runId, timer)
  }
}
