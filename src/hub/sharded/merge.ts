/**
 * A node's live delivery from several shards in one seq order (the Store
 * contract: every watched topic's events reach the listeners in seq order).
 *
 * Each shard's reader reports what it read and how far (`readThrough`). An
 * event is handed over once every shard this node watches has been read
 * through its seq: no shard can then bring a lower seq. When an event waits
 * for a shard that has not been read that far (it is idle, or its clock is
 * behind), the merger bumps that shard's seq up to the event's (BUMP_LUA:
 * its later appends get higher seqs) and makes its reader read once more:
 * one round trip, not a wait for the shard's next publish. The bump waits
 * CATCH_UP_DELAY_MS first: under load the shard's own next round usually
 * comes sooner, and a bump plus an extra round per batch per shard cost
 * Redis more CPU than the events did (bench:fanout shards, 3 shards: 16 µs of
 * Redis CPU per publish bumping at once, ~11 with the delay).
 */
import type { Planned } from '../redis/delivery.js'
import { toEvent } from '../redis/replies.js'
import type { WatchListener } from '../store.js'
import type { ShardReader } from './reader.js'

/** Bytes handed over per slice before a turn of the event loop (as ../redis/delivery.ts). */
const SLICE_BYTES = 16 * 1024
/** How long an event waits for lagging shards' own rounds before they are bumped (ms). */
const CATCH_UP_DELAY_MS = 1

interface Item {
  x: Planned
  shard: number
  /** The shard's epoch when it was read: dropped if the shard was reset since. */
  shardEpoch: string
}

export interface MergeHost {
  readonly readers: readonly ShardReader[]
  readonly closed: boolean
  /** The epoch of live events: the shards' epochs named together. */
  liveEpoch(): string
  /** Move shard `index`'s seq up to `seq` (see BUMP_LUA). */
  bump(index: number, seq: number): Promise<void>
}

export class Merger {
  private readonly pending: Item[][]
  private readonly requested: number[]
  private delivering: Promise<void> = Promise.resolve()

  constructor(private readonly host: MergeHost) {
    this.pending = host.readers.map(() => [])
    this.requested = host.readers.map(() => 0)
  }

  onRound(shard: number, entries: Planned[], _readThrough: number): void {
    const shardEpoch = this.host.readers[shard].knownEpoch
    const queue = this.pending[shard]
    for (const x of entries) queue.push({ x, shard, shardEpoch })
    this.release()
  }

  /** Shard `shard` was reset: drop what it read, tell every listener of this node once (in order). */
  onEpoch(shard: number, previousEpoch: string): void {
    this.pending[shard] = []
    this.requested[shard] = 0
    const epoch = this.host.liveEpoch()
    const listeners = new Set<WatchListener>()
    for (const r of this.host.readers)
      for (const w of r.watched.values()) for (const l of w.listeners) listeners.add(l)
    this.delivering = this.delivering.then(() => {
      for (const l of listeners) {
        try {
          l.onReset?.({ epoch, previousEpoch })
        } catch {}
      }
    })
    this.release()
  }

  /** Hand over everything every watched shard has been read through; ask lagging shards for the rest. */
  release(): void {
    const { readers } = this.host
    let low = Number.POSITIVE_INFINITY
    for (const r of readers) if (r.active && r.readThrough < low) low = r.readThrough
    const out: Item[] = []
    let high = 0
    for (let i = 0; i < readers.length; i++) {
      const queue = this.pending[i]
      const limit = readers[i].active ? low : Number.POSITIVE_INFINITY
      let n = 0
      while (n < queue.length && queue[n].x.seq <= limit) n++
      if (n > 0) for (const item of queue.splice(0, n)) out.push(item)
      if (queue.length > 0) high = Math.max(high, queue[queue.length - 1].x.seq)
    }
    if (out.length > 0) {
      out.sort((a, b) => a.x.seq - b.x.seq)
      this.delivering = this.delivering.then(() => this.deliver(out))
    }
    if (high > 0 && this.timer === null) {
      // Give the lagging shards' own rounds a moment first: under load they
      // come by themselves, and a bump plus an extra round per batch per
      // shard would cost Redis more than the events.
      this.timer = setTimeout(this.late, CATCH_UP_DELAY_MS)
    }
  }

  private timer: ReturnType<typeof setTimeout> | null = null

  private readonly late = (): void => {
    this.timer = null
    if (this.host.closed) return
    let high = 0
    for (const queue of this.pending)
      if (queue.length > 0) high = Math.max(high, queue[queue.length - 1].x.seq)
    if (high > 0) this.catchUp(Math.floor(high))
  }

  /** Ask every watched shard read through less than `seq` to be read through it. */
  private catchUp(seq: number): void {
    const { readers } = this.host
    for (let i = 0; i < readers.length; i++) {
      const r = readers[i]
      if (!r.active || r.readThrough >= seq || this.requested[i] >= seq) continue
      this.requested[i] = seq
      this.host.bump(i, seq).then(
        () => {
          if (seq > r.want) r.want = seq
          r.poke()
        },
        () => {
          // The shard is unreachable: ask again on the next round.
          if (this.requested[i] === seq) this.requested[i] = 0
        },
      )
    }
  }

  /** As ../redis/delivery.ts's deliver, over several shards. */
  private async deliver(items: Item[]): Promise<void> {
    const { readers } = this.host
    let bytes = 0
    for (const { x, shard, shardEpoch } of items) {
      if (this.host.closed) return
      const r = readers[shard]
      if (r.knownEpoch !== shardEpoch || r.watched.get(x.topic) !== x.w) continue
      if (x.gap !== undefined) {
        for (const l of x.w.listeners) {
          try {
            l.onGap?.(x.gap)
          } catch {}
        }
        continue
      }
      const event = toEvent(this.host.liveEpoch(), x.topic, x.id, x.fields)
      for (const l of x.w.listeners) {
        try {
          l.onEvent(event)
        } catch {}
      }
      bytes += event.data.length + 64
      if (bytes >= SLICE_BYTES) {
        bytes = 0
        await new Promise<void>((res) => setImmediate(res))
      }
    }
  }
}
