/**
 * The read loop of one node: one blocking XREAD over every watched topic, on
 * its own connection. The blocking XREAD only waits; behind it, in one MULTI,
 * a plain XREAD reads every stream, with the streams' trim marks and the
 * epoch, at one instant: one round trip. A trim mark past this node's cursor
 * means events it never read were trimmed (it fell behind by more than the
 * history): the listeners are told (`onGap`), in seq order, instead of the
 * events going missing unnoticed. The next round goes out before a batch is
 * delivered, so reading overlaps fan-out.
 */
import type { WatchListener } from '../store.js'
import { type Connections, currentEpoch, storeError } from './connection.js'
import { deliver, findGaps, type LoopView, plan, type Watched } from './delivery.js'
import type { RedisKeys } from './keys.js'
import { streamsOf } from './replies.js'

export interface ReadLoopOptions {
  /** How long one blocking XREAD waits (ms) before the loop re-checks the epoch. */
  blockMs: number
  /** Entries per stream per XREAD. */
  batch: number
}

/** The streams one round reads, with the cursor of each. */
interface Round {
  topics: string[]
  keys: string[]
  cursors: string[]
}

/** What one round read, at one instant. */
interface Snapshot {
  reply: unknown[] | null
  marks: (string | null)[]
  epoch: string | null
}

export class ReadLoop implements LoopView {
  readonly watched = new Map<string, Watched>()
  closed = false
  /** 'idle': nothing to read, waiting for a topic; 'reading': an XREAD is out. */
  private state: 'idle' | 'reading' | 'busy' = 'busy'
  private wake: (() => void) | null = null
  /** Counts blocking reads, so an unblock aims at the read in flight, not a later one. */
  private reads = 0
  /** The batch being delivered; the next XREAD is already out meanwhile. */
  private delivering: Promise<void> = Promise.resolve()

  constructor(
    private readonly conn: Connections,
    private readonly keys: RedisKeys,
    private readonly options: ReadLoopOptions,
    /** The epoch this node knows; the loop moves it on (with a reset) when Redis has another. */
    public knownEpoch: string,
  ) {}

  /** Run until `close()`. */
  async run(): Promise<void> {
    while (!this.closed) {
      const round = this.round()
      if (round.keys.length === 0) {
        await this.idle()
        continue
      }
      const snap = await this.read(round)
      if (snap === null) continue
      if (snap.epoch !== this.knownEpoch) {
        // Flushed or restarted (or the key is gone): the entries may be of
        // either epoch, so none is delivered; the reset sends readers back to 0.
        await this.delivering
        await this.checkEpoch().catch(() => {})
        continue
      }
      const gaps = findGaps(this.watched, round.topics, round.cursors, snap.marks)
      if (snap.reply || gaps.length > 0) {
        const entries = plan(
          snap.reply ? streamsOf(snap.reply) : [],
          gaps,
          this.keys,
          this.watched,
          this.options.batch,
        )
        if (entries.length > 0) {
          await this.delivering
          this.delivering = deliver(entries, snap.epoch, this)
        }
      }
    }
  }

  close(): void {
    this.closed = true
    this.wake?.()
  }

  /**
   * Live delivery of a topic from the seq it has now: the first watch of a
   * topic fixes its cursor (one GET) and wakes the loop so its next read
   * includes it; later ones join. Resolves with the unwatch function.
   */
  async watch(topic: string, listener: WatchListener): Promise<() => void> {
    let w = this.watched.get(topic)
    if (!w) w = this.startWatching(topic)
    w.listeners.add(listener)
    const mine = w
    try {
      await mine.ready
    } catch (err) {
      mine.listeners.delete(listener)
      throw err
    }
    return () => {
      mine.listeners.delete(listener)
      if (mine.listeners.size === 0 && this.watched.get(topic) === mine) this.watched.delete(topic)
    }
  }

  private startWatching(topic: string): Watched {
    let fix!: () => void
    let fail!: (err: unknown) => void
    const entry: Watched = {
      listeners: new Set(),
      cursor: null,
      ready: new Promise<void>((resolve, reject) => {
        fix = resolve
        fail = reject
      }),
    }
    entry.ready.catch(() => {})
    this.watched.set(topic, entry)
    // Every event appended after this GET has a higher seq: start there.
    this.conn.cmd.get(this.keys.seq).then(
      (seq) => {
        entry.cursor = (seq ?? '0') + '-0'
        fix()
        this.poke()
      },
      (cause) => {
        if (this.watched.get(topic) === entry) this.watched.delete(topic)
        fail(storeError('watch', cause))
      },
    )
    return entry
  }

  /** The topics whose cursor is fixed, as the next XREAD reads them. */
  private round(): Round {
    const round: Round = { topics: [], keys: [], cursors: [] }
    for (const [topic, w] of this.watched) {
      if (w.cursor === null) continue
      round.topics.push(topic)
      round.keys.push(this.keys.stream(topic))
      round.cursors.push(w.cursor)
    }
    return round
  }

  /** Nothing to read: wait for a topic (or blockMs), then see whether the epoch moved. */
  private async idle(): Promise<void> {
    await this.delivering
    this.state = 'idle'
    await new Promise<void>((resolve) => {
      this.wake = resolve
      setTimeout(resolve, this.options.blockMs).unref?.()
    })
    this.wake = null
    this.state = 'busy'
    if (!this.closed && this.watched.size > 0) await this.checkEpoch().catch(() => {})
  }

  /**
   * One round trip on the blocking connection: a blocking XREAD that only
   * waits (COUNT 1: served on a write, it returns just the stream that woke
   * it on Redis 7.0), then, in one MULTI, a plain XREAD of every stream,
   * their trim marks and the epoch: one instant, so a batch is complete up
   * to its highest seq (a script's entries are all there or none), a trim
   * mark past a cursor means events this node never read were trimmed, and
   * the epoch says whether the entries are of the epoch this node knows.
   * Null when the round failed (after a pause, unless closed).
   */
  private async read({ topics, keys, cursors }: Round): Promise<Snapshot | null> {
    const { blocking } = this.conn
    try {
      this.state = 'reading'
      this.reads++
      const waited = blocking.call(
        'XREAD',
        'COUNT',
        '1',
        'BLOCK',
        String(this.options.blockMs),
        'STREAMS',
        ...keys,
        ...cursors,
      ) as Promise<unknown[] | null>
      const snapshot = blocking
        .multi()
        .call('XREAD', 'COUNT', String(this.options.batch), 'STREAMS', ...keys, ...cursors)
        .mget(...topics.map((t) => this.keys.mark(t)))
        .get(this.keys.epoch)
        .exec()
      snapshot.catch(() => {})
      await waited
      const res = await snapshot
      if (!res) throw new Error('MULTI aborted')
      for (const [err] of res) if (err) throw err
      this.state = 'busy'
      return {
        reply: res[0][1] as unknown[] | null,
        marks: res[1][1] as (string | null)[],
        epoch: res[2][1] as string | null,
      }
    } catch {
      this.state = 'busy'
      if (this.closed) return null
      await this.delivering
      await new Promise((r) => setTimeout(r, 250))
      return null
    }
  }

  /** A new topic: interrupt the blocked read so the next one includes it. */
  private poke(): void {
    if (this.state === 'idle' && this.wake) this.wake()
    else if (this.state === 'reading') void this.unblock(this.reads)
  }

  private async unblock(read: number): Promise<void> {
    // The XREAD may not have reached Redis yet (it travels on the other
    // connection): retry until it is unblocked or has returned by itself.
    const { cmd, blockingId } = this.conn
    const pending = () => this.state === 'reading' && this.reads === read && !this.closed
    for (let i = 0; i < 50 && pending(); i++) {
      const n = await cmd.call('CLIENT', 'UNBLOCK', String(blockingId.value)).catch(() => 0)
      if (Number(n) === 1) return
      await new Promise((r) => setTimeout(r, 2))
    }
  }

  /** If Redis has another epoch (flushed or restarted): adopt it, rewind every cursor, tell each listener once. */
  private async checkEpoch(): Promise<void> {
    const epoch = await currentEpoch(this.conn.cmd, this.keys)
    if (epoch === this.knownEpoch) return
    const previousEpoch = this.knownEpoch
    this.knownEpoch = epoch
    const notified = new Set<WatchListener>()
    for (const w of this.watched.values()) {
      if (w.cursor !== null) w.cursor = '0-0'
      for (const l of w.listeners) {
        if (notified.has(l)) continue
        notified.add(l)
        try {
          l.onReset?.({ epoch, previousEpoch })
        } catch {}
      }
    }
  }
}
