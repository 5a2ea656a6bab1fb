/** The Store on Redis: the read loop, the appender and the history reads of one node, behind one face. */
import type {
  AppendInput,
  ReadResult,
  Store,
  StoredEvent,
  TopicInfo,
  WatchListener,
} from '../store.js'
import { Appender } from './appender.js'
import { type Connections, currentEpoch, storeError } from './connection.js'
import { readHead, readHistory, topicInfo } from './history.js'
import type { RedisKeys } from './keys.js'
import type { ResolvedRedisOptions } from './options.js'
import { ReadLoop } from './reader.js'

export class RedisStore implements Store {
  readonly kind = 'redis'
  private readonly reader: ReadLoop
  private readonly appender: Appender

  /** Starts the read loop; `epoch` is the one Redis has now. */
  constructor(
    private readonly conn: Connections,
    private readonly keys: RedisKeys,
    private readonly options: ResolvedRedisOptions,
    epoch: string,
  ) {
    this.reader = new ReadLoop(conn, keys, options, epoch)
    void this.reader.run()
    this.appender = new Appender(conn.cmd, keys, options)
  }

  async epoch(): Promise<string> {
    try {
      return await currentEpoch(this.conn.cmd, this.keys)
    } catch (cause) {
      throw storeError('read', cause)
    }
  }

  async head(): Promise<{ epoch: string; seq: number }> {
    try {
      return await readHead(this.conn.cmd, this.keys)
    } catch (cause) {
      throw storeError('read', cause)
    }
  }

  append(topic: string, input: AppendInput): Promise<StoredEvent> {
    return this.appender.append(topic, input)
  }

  async read(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
    try {
      return await readHistory(this.conn.cmd, this.keys, this.options.maxAge, topics, afterSeq)
    } catch (cause) {
      throw storeError('read', cause)
    }
  }

  watch(topic: string, listener: WatchListener): Promise<() => void> {
    return this.reader.watch(topic, listener)
  }

  info(topic: string): Promise<TopicInfo | null> {
    return topicInfo(this.conn.cmd, this.keys, topic)
  }

  async expire(topic: string, ttlMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(ttlMs))
    const { cmd } = this.conn
    await cmd.multi().pexpire(this.keys.stream(topic), ms).pexpire(this.keys.mark(topic), ms).exec()
  }

  async delete(topic: string): Promise<void> {
    await this.conn.cmd.del(this.keys.stream(topic), this.keys.mark(topic))
  }

  async close(): Promise<void> {
    this.reader.close()
    this.conn.blocking.disconnect()
    const { cmd } = this.conn
    await cmd.quit().catch(() => cmd.disconnect())
  }
}
