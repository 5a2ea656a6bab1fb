/**
 * Appends: those made in the same tick go to Redis as one script call
 * (APPEND_LUA: one round trip for N publishes); each resolves with its own
 * id, in call order.
 */
import type { Redis as RedisClient } from 'ioredis'
import { formatId, newEpoch } from '../ids.js'
import type { AppendInput, StoredEvent } from '../store.js'
import { storeError } from './connection.js'
import type { RedisKeys } from './keys.js'
import { APPEND_COMMAND } from './scripts.js'

/** Most events in one append script call, and most data bytes (one event may be larger alone). */
const APPEND_BATCH_EVENTS = 1000
const APPEND_BATCH_BYTES = 1024 * 1024

interface PendingAppend {
  topic: string
  input: AppendInput
  resolve: (e: StoredEvent) => void
  reject: (err: unknown) => void
}

export interface AppendLimits {
  maxLength: number
  /** ms; 0 = no age limit. */
  maxAge: number
}

export class Appender {
  /** Appends waiting for this tick's script call. */
  private pending: PendingAppend[] = []
  private flushScheduled = false
  /** The epoch a fresh Redis gets (SET NX); drawn again once Redis has taken it. */
  private candidate = newEpoch()

  constructor(
    private readonly cmd: RedisClient,
    private readonly keys: RedisKeys,
    private readonly limits: AppendLimits,
  ) {}

  append(topic: string, input: AppendInput): Promise<StoredEvent> {
    return new Promise<StoredEvent>((resolve, reject) => {
      this.pending.push({ topic, input, resolve, reject })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(this.flush)
      }
    })
  }

  /** Send this tick's appends: one script call per APPEND_BATCH_EVENTS / _BYTES. */
  private readonly flush = (): void => {
    this.flushScheduled = false
    const all = this.pending
    this.pending = []
    let i = 0
    while (i < all.length) {
      let bytes = 0
      let j = i
      while (
        j < all.length &&
        j - i < APPEND_BATCH_EVENTS &&
        (j === i || bytes + all[j].input.data.length <= APPEND_BATCH_BYTES)
      ) {
        bytes += all[j].input.data.length
        j++
      }
      void this.appendBatch(all.slice(i, j))
      i = j
    }
  }

  private async appendBatch(items: PendingAppend[]): Promise<void> {
    let reply: [string, number, string]
    try {
      reply = (await (this.cmd as any)[APPEND_COMMAND](...this.scriptArgs(items))) as [
        string,
        number,
        string,
      ]
    } catch (cause) {
      const err = storeError('append', cause)
      for (const item of items) item.reject(err)
      return
    }
    const [epoch, first, timeText] = reply
    if (epoch === this.candidate) this.candidate = newEpoch()
    const time = Number(timeText)
    for (let n = 0; n < items.length; n++) {
      const { topic, input } = items[n]
      const seq = Number(first) + n
      const e: StoredEvent = { id: formatId(epoch, seq), epoch, seq, topic, data: input.data, time }
      if (input.event) e.event = input.event
      items[n].resolve(e)
    }
  }

  /** The script call's key count, KEYS and ARGV (see APPEND_LUA). */
  private scriptArgs(items: PendingAppend[]): (string | number)[] {
    const streams: string[] = []
    const marks: string[] = []
    const index = new Map<string, number>()
    const { maxLength, maxAge } = this.limits
    const args: string[] = [this.candidate, String(maxLength), String(maxAge), String(items.length)]
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
