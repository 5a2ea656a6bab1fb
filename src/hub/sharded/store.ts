/** The sharded Store: shards (one Redis each), their readers and the merger, behind one face. */
import { formatId } from '../ids.js'
import { type Connections, storeError } from '../redis/connection.js'
import { readHistory, topicInfo } from '../redis/history.js'
import type { RedisKeys } from '../redis/keys.js'
import type {
  AppendInput,
  ReadResult,
  Store,
  StoredEvent,
  TopicInfo,
  WatchListener,
} from '../store.js'
import { ShardAppender } from './appender.js'
import { Merger } from './merge.js'
import { ShardReader } from './reader.js'
import { BUMP_COMMAND } from './scripts.js'
import { epochOf, shardOf } from './shards.js'
import { newEpoch } from '../ids.js'

export interface Shard {
  conn: Connections
  /** The shard's keys (on a Redis Cluster, all under the shard's hash tag). */
  keys: RedisKeys
  epoch: string
}

export interface ShardedOptions {
  maxLength: number
  maxAge: number
  blockMs: number
  batch: number
}

export class ShardedStore implements Store {
  readonly kind = 'redis-sharded'
  readonly readers: ShardReader[]
  closed = false
  private readonly appenders: ShardAppender[]
  private readonly merger: Merger

  constructor(
    private readonly shards: readonly Shard[],
    private readonly options: ShardedOptions,
  ) {
    const count = shards.length
    const sink = {
      onRound: (i: number, entries: any, through: number) =>
        this.merger.onRound(i, entries, through),
      onEpoch: (i: number, _epoch: string, previous: string) => this.onEpoch(i, previous),
    }
    this.readers = shards.map((s, i) => new ShardReader(i, s.conn, s.keys, options, s.epoch, sink))
    this.appenders = shards.map(
      (s, i) => new ShardAppender(s.conn.cmd, s.keys, options, { index: i, count }),
    )
    this.merger = new Merger(this)
    for (const r of this.readers) void r.run()
  }

  liveEpoch(): string {
    return epochOf(this.readers.map((r) => r.knownEpoch))
  }

  async bump(index: number, seq: number): Promise<void> {
    await this.bumpShard(index, seq)
  }

  async epoch(): Promise<string> {
    return (await this.sync(false)).epoch
  }

  async head(): Promise<{ epoch: string; seq: number }> {
    const s = await this.sync(true)
    return { epoch: s.epoch, seq: s.seq }
  }

  async append(topic: string, input: AppendInput): Promise<StoredEvent> {
    const i = shardOf(topic, this.shards.length)
    const a = await this.appenders[i].append(topic, input)
    const epochs = this.readers.map((r) => r.knownEpoch)
    epochs[i] = a.shardEpoch
    const epoch = epochOf(epochs)
    const e: StoredEvent = {
      id: formatId(epoch, a.seq),
      epoch,
      seq: a.seq,
      topic,
      data: input.data,
      time: a.time,
    }
    if (input.event) e.event = input.event
    return e
  }

  /**
   * Events after `afterSeq` up to the position "now" (every shard's seq
   * moved up to the highest: later appends anywhere come after it, and live),
   * merged in seq order.
   */
  async read(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
    const s = await this.sync(true)
    const byShard = new Map<number, string[]>()
    for (const t of new Set(topics)) {
      const i = shardOf(t, this.shards.length)
      const list = byShard.get(i)
      if (list) list.push(t)
      else byShard.set(i, [t])
    }
    const epochs = s.epochs.slice()
    const events: StoredEvent[] = []
    let truncated = false
    try {
      const reads = await Promise.all(
        [...byShard].map(async ([i, list]) => {
          const { conn, keys } = this.shards[i]
          const cmd = conn.cmd
          return [i, await readHistory(cmd, keys, this.options.maxAge, list, afterSeq)] as const
        }),
      )
      for (const [i, r] of reads) {
        epochs[i] = r.epoch
        truncated ||= r.truncated
        for (const e of r.events) if (e.seq <= s.seq) events.push(e)
      }
    } catch (cause) {
      throw storeError('read', cause)
    }
    const epoch = epochOf(epochs)
    for (const e of events) {
      e.epoch = epoch
      e.id = formatId(epoch, e.seq)
    }
    if (byShard.size > 1) events.sort((a, b) => a.seq - b.seq)
    return { epoch, events, truncated }
  }

  watch(topic: string, listener: WatchListener): Promise<() => void> {
    return this.readers[shardOf(topic, this.shards.length)].watch(topic, listener)
  }

  info(topic: string): Promise<TopicInfo | null> {
    const { conn, keys } = this.shardOf(topic)
    return topicInfo(conn.cmd, keys, topic)
  }

  async expire(topic: string, ttlMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(ttlMs))
    const { conn, keys } = this.shardOf(topic)
    await conn.cmd.multi().pexpire(keys.stream(topic), ms).pexpire(keys.mark(topic), ms).exec()
  }

  async delete(topic: string): Promise<void> {
    const { conn, keys } = this.shardOf(topic)
    await conn.cmd.del(keys.stream(topic), keys.mark(topic))
  }

  async close(): Promise<void> {
    this.closed = true
    for (const r of this.readers) r.close()
    await Promise.all(
      this.shards.map(async ({ conn }) => {
        conn.blocking.disconnect()
        await conn.cmd.quit().catch(() => conn.cmd.disconnect())
      }),
    )
  }

  private shardOf(topic: string): Shard {
    return this.shards[shardOf(topic, this.shards.length)]
  }

  private async bumpShard(index: number, seq: number): Promise<[string, number]> {
    const { conn, keys } = this.shards[index]
    const cmd = conn.cmd as any
    const [epoch, cur] = (await cmd[BUMP_COMMAND](
      keys.epoch,
      keys.seq,
      newEpoch(),
      String(seq),
    )) as [string, string]
    return [epoch, Number(cur)]
  }

  /**
   * Every shard's epoch and seq; with `align`, every shard's seq moved up to
   * the highest (a second round trip, to those behind): `seq` is then a
   * position no shard will issue anything at or below again.
   */
  private async sync(align: boolean): Promise<{ epoch: string; epochs: string[]; seq: number }> {
    try {
      const first = await Promise.all(this.shards.map((_, i) => this.bumpShard(i, 0)))
      const epochs = first.map(([e]) => e)
      const seq = Math.max(...first.map(([, s]) => s))
      if (align)
        await Promise.all(first.map(([, s], i) => (s < seq ? this.bumpShard(i, seq) : null)))
      // A shard this node does not read from was reset: the live epoch moves on.
      for (let i = 0; i < epochs.length; i++) {
        const r = this.readers[i]
        if (!r.active && r.knownEpoch !== epochs[i]) {
          const previous = r.knownEpoch
          r.knownEpoch = epochs[i]
          this.onEpoch(i, previous)
        }
      }
      return { epoch: epochOf(epochs), epochs, seq }
    } catch (cause) {
      throw storeError('read', cause)
    }
  }

  private onEpoch(shard: number, previousShardEpoch: string): void {
    const epochs = this.readers.map((r) => r.knownEpoch)
    epochs[shard] = previousShardEpoch
    this.merger.onEpoch(shard, epochOf(epochs))
  }
}
