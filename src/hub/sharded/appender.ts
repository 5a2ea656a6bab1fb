/**
 * A shard's appends: those made in the same tick go to its Redis as one
 * script call (SHARD_APPEND_LUA), each resolving with its own event, as
 * ../redis/appender.ts does for one Redis. The event's `epoch` is left to
 * the caller (the store names the shards' epochs together).
 */
import type { Redis as RedisClient } from 'ioredis'
import { newEpoch } from '../ids.js'
import { storeError } from '../redis/connection.js'
import type { RedisKeys } from '../redis/keys.js'
import type { AppendInput } from '../store.js'
import { SHARD_APPEND_COMMAND } from './scripts.js'

const BATCH_EVENTS = 1000
const BATCH_BYTES = 1024 * 1024

/** What a shard's append resolves with: the shard's epoch, the seq and the append time. */
export interface Appended {
  shardEpoch: string
  seq: number
  time: number
}

interface Pending {
  topic: string
  input: AppendInput
  resolve: (a: Appended) => void
  reject: (err: unknown) => void
}

export class ShardAppender {
  private pending: Pending[] = []
  private scheduled = false
  private candidate = newEpoch()

  constructor(
    private readonly cmd: RedisClient,
    private readonly keys: RedisKeys,
    private readonly limits: { maxLength: number; maxAge: number },
    private readonly shard: { index: number; count: number },
  ) {}

  append(topic: string, input: AppendInput): Promise<Appended> {
    return new Promise<Appended>((resolve, reject) => {
      this.pending.push({ topic, input, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.flush)
      }
    })
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const all = this.pending
    this.pending = []
    let i = 0
    while (i < all.length) {
      let bytes = 0
      let j = i
      while (
        j < all.length &&
        j - i < BATCH_EVENTS &&
        (j === i || bytes + all[j].input.data.length <= BATCH_BYTES)
      ) {
        bytes += all[j].input.data.length
        j++
      }
      void this.send(all.slice(i, j))
      i = j
    }
  }

  private async send(items: Pending[]): Promise<void> {
    let reply: [string, string, string]
    try {
      reply = await (this.cmd as any)[SHARD_APPEND_COMMAND](...this.args(items))
    } catch (cause) {
      const err = storeError('append', cause)
      for (const item of items) item.reject(err)
      return
    }
    const [shardEpoch, firstText, timeText] = reply
    if (shardEpoch === this.candidate) this.candidate = newEpoch()
    const first = Number(firstText)
    const time = Number(timeText)
    const { count } = this.shard
    for (let n = 0; n < items.length; n++)
      items[n].resolve({ shardEpoch, seq: first + n * count, time })
  }

  private args(items: Pending[]): (string | number)[] {
    const streams: string[] = []
    const marks: string[] = []
    const index = new Map<string, number>()
    const { maxLength, maxAge } = this.limits
    const args: string[] = [
      this.candidate,
      String(maxLength),
      String(maxAge),
      String(items.length),
      String(this.shard.count),
      String(this.shard.index),
    ]
    for (const { topic, input } of items) {
      let k = index.get(topic)
      if (k === undefined) {
        k = streams.length + 1
        index.set(topic, k)
        streams.push(this.keys.stream(topic))
        marks.push(this.keys.mark(topic))
      }
      args.push(String(k), input.data, input.event ?? '')
    }
    return [2 + streams.length * 2, this.keys.epoch, this.keys.seq, ...streams, ...marks, ...args]
  }
}
