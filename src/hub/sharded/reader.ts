/**
 * One shard's read loop on one node: a blocking XREAD over the topics this
 * node watches on the shard, then, in one MULTI, a plain XREAD of them with
 * their trim marks, the shard's epoch and its seq (as ../redis/reader.ts,
 * plus the seq). Each round tells the merger (./merge.ts) its entries and
 * how far the shard has been read: every event of a watched topic with a
 * seq at most `readThrough` has been read.
 */
import type { WatchListener } from '../store.js'
import { type Connections, currentEpoch, storeError } from '../redis/connection.js'
import { findGaps, plan, type Planned, type Watched } from '../redis/delivery.js'
import type { RedisKeys } from '../redis/keys.js'
import { seqOf, streamsOf } from '../redis/replies.js'

export interface RoundSink {
  /** Entries of one round (cursors already moved past them), and how far the shard is read. */
  onRound(shard: number, entries: Planned[], readThrough: number): void
  /** The shard has another epoch (flushed or restarted): cursors are back at 0. */
  onEpoch(shard: number, epoch: string, previous: string): void
}

export class ShardReader {
  readonly watched = new Map<string, Watched>()
  /** Every event of a watched topic with seq <= this has been read (valid while `active`). */
  readThrough = 0
  /** The merger wants a round that reads through this (set with a bump). */
  want = 0
  closed = false
  private state: 'idle' | 'reading' | 'busy' = 'busy'
  private wake: (() => void) | null = null
  private reads = 0

  constructor(
    readonly index: number,
    private readonly conn: Connections,
    private readonly keys: RedisKeys,
    private readonly options: { blockMs: number; batch: number },
    public knownEpoch: string,
    private readonly sink: RoundSink,
  ) {}

  /** True while some watched topic has its cursor fixed: the merger waits for this shard. */
  get active(): boolean {
    for (const w of this.watched.values()) if (w.cursor !== null) return true
    return false
  }

  async run(): Promise<void> {
    while (!this.closed) {
      const topics: string[] = []
      const cursors: string[] = []
      for (const [topic, w] of this.watched) {
        if (w.cursor === null) continue
        topics.push(topic)
        cursors.push(w.cursor)
      }
      if (topics.length === 0) {
        await this.idle()
        continue
      }
      await this.round(topics, cursors)
    }
  }

  close(): void {
    this.closed = true
    this.wake?.()
  }

  /** Read now (a blocked XREAD is interrupted): the merger waits for this shard. */
  poke(): void {
    if (this.state === 'idle' && this.wake) this.wake()
    else if (this.state === 'reading') void this.unblock(this.reads)
  }

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
      if (mine.listeners.size === 0 && this.watched.get(topic) === mine) {
        this.watched.delete(topic)
        // The merger may be waiting for this shard, which it no longer reads.
        if (!this.active) this.sink.onRound(this.index, [], this.readThrough)
      }
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
    this.conn.cmd.get(this.keys.seq).then(
      (seq) => {
        const c = Number(seq ?? 0)
        // Nothing of this topic is read past its cursor yet.
        this.readThrough = this.active ? Math.min(this.readThrough, c) : c
        entry.cursor = c + '-0'
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

  private async idle(): Promise<void> {
    this.state = 'idle'
    await new Promise<void>((resolve) => {
      this.wake = resolve
      setTimeout(resolve, this.options.blockMs).unref?.()
    })
    this.wake = null
    this.state = 'busy'
  }

  /** One round: wait (unless the merger waits for this shard), snapshot, report. */
  private async round(topics: string[], cursors: string[]): Promise<void> {
    const { blocking } = this.conn
    const keys = topics.map((t) => this.keys.stream(t))
    let res: [Error | null, unknown][] | null
    try {
      this.state = 'reading'
      this.reads++
      const waited =
        this.want > this.readThrough
          ? Promise.resolve(null)
          : blocking.call(
              'XREAD',
              'COUNT',
              '1',
              'BLOCK',
              String(this.options.blockMs),
              'STREAMS',
              ...keys,
              ...cursors,
            )
      const snapshot = blocking
        .multi()
        .call('XREAD', 'COUNT', String(this.options.batch), 'STREAMS', ...keys, ...cursors)
        .mget(...topics.map((t) => this.keys.mark(t)))
        .get(this.keys.epoch)
        .get(this.keys.seq)
        .exec()
      snapshot.catch(() => {})
      await waited
      res = await snapshot
      if (!res) throw new Error('MULTI aborted')
      for (const [err] of res) if (err) throw err
    } catch {
      this.state = 'busy'
      if (!this.closed) await new Promise((r) => setTimeout(r, 250))
      return
    }
    this.state = 'busy'
    const epoch = res[2][1] as string | null
    if (epoch !== this.knownEpoch) {
      await this.checkEpoch().catch(() => {})
      return
    }
    const reply = res[0][1] ? streamsOf(res[0][1] as unknown[]) : []
    let through = Number(res[3][1] ?? 0)
    // A stream cut off at COUNT is read only up to its last entry.
    for (const [, entries] of reply)
      if (entries.length >= this.options.batch)
        through = Math.min(through, seqOf(entries[entries.length - 1][0]))
    const gaps = findGaps(this.watched, topics, cursors, res[1][1] as (string | null)[])
    const entries = plan(reply, gaps, this.keys, this.watched, this.options.batch)
    // A topic that joined during this round has read nothing past its cursor.
    const inRound = new Set(topics)
    for (const [topic, w] of this.watched)
      if (w.cursor !== null && !inRound.has(topic)) through = Math.min(through, seqOf(w.cursor))
    this.readThrough = through
    this.sink.onRound(this.index, entries, through)
  }

  private async unblock(read: number): Promise<void> {
    const { cmd, blockingId } = this.conn
    const pending = () => this.state === 'reading' && this.reads === read && !this.closed
    for (let i = 0; i < 50 && pending(); i++) {
      const n = await cmd.call('CLIENT', 'UNBLOCK', String(blockingId.value)).catch(() => 0)
      if (Number(n) === 1) return
      await new Promise((r) => setTimeout(r, 2))
    }
  }

  /** The shard has another epoch: adopt it, rewind every cursor, tell the merger. */
  private async checkEpoch(): Promise<void> {
    const epoch = await currentEpoch(this.conn.cmd, this.keys)
    if (epoch === this.knownEpoch) return
    const previous = this.knownEpoch
    this.knownEpoch = epoch
    for (const w of this.watched.values()) if (w.cursor !== null) w.cursor = '0-0'
    this.readThrough = 0
    // What the merger wanted was of the old seqs (a fresh shard may have none for long).
    this.want = 0
    this.sink.onEpoch(this.index, epoch, previous)
  }
}
