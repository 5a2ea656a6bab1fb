/**
 * A store on Redis Streams, so several hub nodes act as one hub.
 *
 * - One stream per topic (`<prefix>topic:<name>`), trimmed with `MAXLEN ~`.
 * - One hub-wide counter: a Lua script INCRBYs `<prefix>seq` and XADDs with the
 *   explicit id `<seq>-0`, atomically, so stream ids are globally ordered
 *   within one Redis and a single event id resumes any set of topics.
 *   Appends made in the same tick go to Redis as one script call (one round
 *   trip for N publishes); each resolves with its own id, in call order.
 * - An epoch (`<prefix>epoch`, created once with SET NX): a flushed or
 *   restarted Redis gets a new one, which every node notices.
 * - One blocking XREAD loop per node over all watched topics, on its own
 *   connection; commands use another. The blocking XREAD only waits; behind
 *   it, in one MULTI, a plain XREAD reads every stream, with the streams'
 *   trim marks and the epoch, at one instant: one round trip. A trim mark
 *   past this node's cursor means events it never read were trimmed (it fell
 *   behind by more than the history): the listeners are told (`onGap`), in
 *   seq order, instead of the events going missing unnoticed. The next round
 *   goes out before a batch is delivered, so reading overlaps fan-out.
 * - A batch is delivered in slices of ~16 KiB of events with a turn of the
 *   event loop between them, so sockets flush to the kernel and readers keep
 *   pace; a batch never lands on a subscriber's buffer all at once.
 *
 * ioredis is an optional peer dependency, loaded on first use.
 */
import type { Redis as RedisClient } from 'ioredis'
import { SluiceError } from '../protocol/errors.js'
import { formatId, newEpoch } from './ids.js'
import {
  DEFAULT_HISTORY,
  type AppendInput,
  type HistoryLimits,
  type ReadResult,
  type Store,
  type StoredEvent,
  type TopicInfo,
  type WatchListener,
} from './store.js'

export interface RedisStoreOptions extends HistoryLimits {
  /** `redis://[:password@]host:port[/db]`; default `redis://127.0.0.1:6379`. */
  url?: string
  /** Key prefix; default `sluice:`. Nodes of one hub share it. */
  prefix?: string
  /** How long one blocking XREAD waits (ms) before the loop re-checks the epoch. Default 1000. */
  blockMs?: number
  /** Entries per stream per XREAD. Default 1000. */
  batch?: number
}

// KEYS: epoch, seq, then the batch's distinct streams, then each stream's
// trim mark (same order).
// ARGV: candidate epoch, maxLength, maxAge (0 = none), n, then per event:
// stream index (1-based into the streams), data, event ('' = none).
//
// One call appends a batch: the seqs are consecutive (INCRBY n) in ARGV order,
// all with one append time. Trimming is by XDEL of the oldest entries in
// batches (the amortised effect of `MAXLEN ~`), not by XADD's MAXLEN: XDEL
// records the stream's `max-deleted-entry-id`, MAXLEN trimming does not, and
// that id is what tells a reader exactly whether events after its
// Last-Event-ID were dropped. The highest seq trimmed from a stream is also
// kept in its trim mark (a plain key), which the read loops of every node
// read with their XREAD (one MGET): a node that fell behind by more than the
// history learns which events it can no longer deliver.
const APPEND_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local n = tonumber(ARGV[4])
local last = redis.call('INCRBY', KEYS[2], n)
local first = last - n + 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%d', now)
for i = 0, n - 1 do
  local key = KEYS[2 + tonumber(ARGV[5 + i * 3])]
  local id = string.format('%d', first + i) .. '-0'
  local event = ARGV[7 + i * 3]
  if event ~= '' then
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[6 + i * 3], 'e', event)
  else
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[6 + i * 3])
  end
end
local maxLength = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local slack = math.max(1, math.min(100, math.floor(maxLength / 10)))
local streams = (#KEYS - 2) / 2
for k = 3, 2 + streams do
  local key = KEYS[k]
  local trimmed = false
  local lastDeleted = nil
  local excess = redis.call('XLEN', key) - maxLength
  while excess >= slack do
    local old = redis.call('XRANGE', key, '-', '+', 'COUNT', math.min(excess, 1000))
    local ids = {}
    for i, entry in ipairs(old) do ids[i] = entry[1] end
    if #ids == 0 then break end
    redis.call('XDEL', key, unpack(ids))
    trimmed = true
    lastDeleted = ids[#ids]
    excess = excess - #ids
  end
  if maxAge > 0 and not trimmed then
    local cutoff = now - maxAge
    for round = 1, n do
      local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 64)
      local ids = {}
      for i, entry in ipairs(head) do
        if tonumber(entry[2][2]) >= cutoff then break end
        ids[i] = entry[1]
      end
      if #ids > 0 then
        redis.call('XDEL', key, unpack(ids))
        lastDeleted = ids[#ids]
      end
      if #ids < 64 then break end
    end
  end
  if lastDeleted then
    redis.call('SET', KEYS[k + streams], string.sub(lastDeleted, 1, string.find(lastDeleted, '-') - 1))
  end
end
return {epoch, first, nowText}
`

/** Most events in one append script call, and most data bytes (one event may be larger alone). */
const APPEND_BATCH_EVENTS = 1000
const APPEND_BATCH_BYTES = 1024 * 1024
/**
 * Bytes of events handed to the listeners per slice of an XREAD batch before
 * the loop yields to I/O: a socket's highWaterMark (16 KiB), what it takes
 * before it asks for drain, so a slice goes to the kernel in one write instead
 * of piling up in user space. With 1,000 subscribers (bench:fanout), 64 KiB
 * slices cost ~1.0 us of server CPU per delivered event against the memory
 * store's ~0.5; 16 KiB and 8 KiB match it, and 8 KiB costs the readers ~50%
 * more CPU (twice the segments).
 */
const DELIVER_SLICE_BYTES = 16 * 1024

interface PendingAppend {
  topic: string
  input: AppendInput
  resolve: (e: StoredEvent) => void
  reject: (err: unknown) => void
}

type RedisCtor = new (url: string, options: Record<string, unknown>) => RedisClient

async function loadRedis(): Promise<RedisCtor> {
  let mod: any
  try {
    mod = await import('ioredis')
  } catch (cause) {
    throw new SluiceError(
      'MISSING_DEPENDENCY',
      "redisStore() needs the 'ioredis' package, an optional peer dependency of sluice. Install it: npm install ioredis",
      {},
      { cause },
    )
  }
  return (mod.Redis ?? mod.default) as RedisCtor
}

/** A failed Redis call: a 503 for HTTP callers (the store is unavailable, retry later). */
function storeError(what: string, cause: unknown): SluiceError {
  if (cause instanceof SluiceError) return cause
  const text = String((cause as Error)?.message ?? cause)
  const reason = /enableOfflineQueue|Connection is closed/.test(text)
    ? 'Redis is unreachable (reconnecting in the background); retry shortly'
    : text.replace(/\.$/, '')
  return new SluiceError(
    'STORE_ERROR',
    `Redis ${what} failed: ${reason}.`,
    { status: 503 },
    { cause },
  )
}

function seqOf(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')))
}

function toEvent(epoch: string, topic: string, streamId: string, fields: string[]): StoredEvent {
  let data = ''
  let event: string | undefined
  let time = 0
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i]
    if (f === 'd') data = fields[i + 1]
    else if (f === 'e') event = fields[i + 1]
    else if (f === 't') time = Number(fields[i + 1])
  }
  const seq = seqOf(streamId)
  const e: StoredEvent = { id: formatId(epoch, seq), epoch, seq, topic, data, time }
  if (event !== undefined) e.event = event
  return e
}

function field(flat: unknown, name: string): unknown {
  if (!Array.isArray(flat)) return undefined
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

/** XREAD replies `[[key, entries], ...]` on RESP2 and a map (flattened `[key, entries, ...]`) on RESP3. */
function streamsOf(reply: unknown[]): [string, [string, string[]][]][] {
  if (reply.length === 0 || Array.isArray(reply[0]))
    return reply as [string, [string, string[]][]][]
  const out: [string, [string, string[]][]][] = []
  for (let i = 0; i < reply.length; i += 2) {
    out.push([reply[i] as string, reply[i + 1] as [string, string[]][]])
  }
  return out
}

interface Watched {
  listeners: Set<WatchListener>
  /** Last stream id delivered (or the head when watching began); null until fixed. */
  cursor: string | null
  ready: Promise<void>
}

export async function redisStore(options: RedisStoreOptions = {}): Promise<Store> {
  const Redis = await loadRedis()
  const url = options.url ?? 'redis://127.0.0.1:6379'
  const prefix = options.prefix ?? 'sluice:'
  const maxLength = options.maxLength ?? DEFAULT_HISTORY
  const maxAge = options.maxAge ?? 0
  const blockMs = options.blockMs ?? 1000
  const batch = options.batch ?? 1000
  const epochKey = prefix + 'epoch'
  const seqKey = prefix + 'seq'
  const topicPrefix = prefix + 'topic:'
  const keyOf = (topic: string) => topicPrefix + topic
  /** The highest seq trimmed from a topic's stream (see APPEND_LUA). */
  const markOf = (topic: string) => prefix + 'trimmed:' + topic

  // While Redis is unreachable, commands fail at once (STORE_ERROR, a 503 over
  // HTTP) instead of queueing for seconds; reconnection goes on in the
  // background, at most a second apart, and the read loop resumes by itself.
  const connection = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
  }
  const cmd = new Redis(url, connection)
  const blocking = new Redis(url, connection)
  cmd.on('error', () => {}) // surfaced through the rejected commands
  blocking.on('error', () => {})
  try {
    await cmd.connect()
    await blocking.connect()
  } catch (cause) {
    cmd.disconnect()
    blocking.disconnect()
    throw new SluiceError(
      'STORE_ERROR',
      `Cannot connect to Redis at ${url} (${String((cause as Error)?.message ?? cause).replace(/\.$/, '')}). Is redis-server running there?`,
      { url },
      { cause },
    )
  }
  // No fixed key count: the caller passes it (2 + the batch's distinct streams and their trim marks).
  cmd.defineCommand('sluiceAppend', { lua: APPEND_LUA })

  let blockingId = Number(await blocking.call('CLIENT', 'ID'))
  blocking.on('ready', () => {
    blocking.call('CLIENT', 'ID').then(
      (id) => (blockingId = Number(id)),
      () => {},
    )
  })

  async function currentEpoch(): Promise<string> {
    await cmd.set(epochKey, newEpoch(), 'NX')
    return (await cmd.get(epochKey)) as string
  }

  let knownEpoch = await currentEpoch()
  const watched = new Map<string, Watched>()
  let closed = false
  let state: 'idle' | 'reading' | 'busy' = 'busy'
  let wake: (() => void) | null = null
  /** Counts blocking reads, so an unblock aims at the read in flight, not a later one. */
  let reads = 0

  /** A new topic: interrupt the blocked read so the next one includes it. */
  function poke(): void {
    if (state === 'idle' && wake) wake()
    else if (state === 'reading') void unblock(reads)
  }

  async function unblock(read: number): Promise<void> {
    // The XREAD may not have reached Redis yet (it travels on the other
    // connection): retry until it is unblocked or has returned by itself.
    for (let i = 0; i < 50 && state === 'reading' && reads === read && !closed; i++) {
      const n = await cmd.call('CLIENT', 'UNBLOCK', String(blockingId)).catch(() => 0)
      if (Number(n) === 1) return
      await new Promise((r) => setTimeout(r, 2))
    }
  }

  interface Planned {
    w: Watched
    topic: string
    /** The entry's stream id; '' for a gap. */
    id: string
    /** The entry's seq; a gap sorts right after `gap.afterSeq`. */
    seq: number
    fields: string[]
    /** Events trimmed before this node read them: (afterSeq, throughSeq]. */
    gap?: { afterSeq: number; throughSeq: number }
  }

  /** A topic this node fell behind on by more than its history: see WatchListener.onGap. */
  interface Gap {
    topic: string
    w: Watched
    afterSeq: number
    throughSeq: number
  }

  /**
   * The entries of one XREAD reply and the gaps found with it, to deliver in
   * seq order, and the cursors moved past them (so the next XREAD can go out
   * before they are delivered). A gap moves its topic's cursor past the
   * trimmed seqs: none of them exists any more.
   */
  function plan(reply: [string, [string, string[]][]][], gaps: Gap[]): Planned[] {
    let limit = Number.POSITIVE_INFINITY
    const all: Planned[] = []
    for (const g of gaps) {
      all.push({
        w: g.w,
        topic: g.topic,
        id: '',
        seq: g.afterSeq + 0.5,
        fields: [],
        gap: { afterSeq: g.afterSeq, throughSeq: g.throughSeq },
      })
    }
    for (const [key, entries] of reply) {
      const topic = key.slice(topicPrefix.length)
      const w = watched.get(topic)
      if (!w || entries.length === 0) continue
      // A stream cut off at COUNT may hold older events than another stream's
      // newest: deliver only up to the lowest such cut, the rest comes next read.
      if (entries.length >= batch) limit = Math.min(limit, seqOf(entries[entries.length - 1][0]))
      for (const [id, fields] of entries) all.push({ w, topic, id, seq: seqOf(id), fields })
    }
    if (reply.length > 1 || gaps.length > 0) all.sort((a, b) => a.seq - b.seq)
    let n = 0
    while (n < all.length && all[n].seq <= limit) {
      const x = all[n]
      if (x.gap === undefined) x.w.cursor = x.id
      else if (x.w.cursor !== null && seqOf(x.w.cursor) < x.gap.throughSeq)
        x.w.cursor = x.gap.throughSeq + '-0'
      n++
    }
    all.length = n
    return all
  }

  /**
   * Hand planned entries to the listeners in slices of ~DELIVER_SLICE_BYTES,
   * with a turn of the event loop (setImmediate) after each: the transport
   * uncorks and writes to the kernel, readers in this process read, and a
   * subscriber's buffer holds about one slice, not a whole batch, so only
   * one that does not read reaches its cap.
   */
  async function deliver(entries: Planned[], epoch: string): Promise<void> {
    let bytes = 0
    for (const x of entries) {
      if (closed || epoch !== knownEpoch) return
      if (watched.get(x.topic) !== x.w) continue
      if (x.gap !== undefined) {
        for (const l of x.w.listeners) {
          try {
            l.onGap?.(x.gap)
          } catch {
            // one listener's failure does not stop the others
          }
        }
        continue
      }
      const event = toEvent(epoch, x.topic, x.id, x.fields)
      for (const l of x.w.listeners) {
        try {
          l.onEvent(event)
        } catch {
          // one listener's failure does not stop the others
        }
      }
      bytes += event.data.length + 64
      if (bytes >= DELIVER_SLICE_BYTES) {
        bytes = 0
        await new Promise<void>((r) => setImmediate(r))
      }
    }
  }

  async function checkEpoch(): Promise<void> {
    const epoch = await currentEpoch()
    if (epoch === knownEpoch) return
    const previousEpoch = knownEpoch
    knownEpoch = epoch
    const notified = new Set<WatchListener>()
    for (const w of watched.values()) {
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

  async function loop(): Promise<void> {
    /** The batch being delivered; the next XREAD is already out meanwhile. */
    let delivering: Promise<void> = Promise.resolve()
    while (!closed) {
      const topics: string[] = []
      const keys: string[] = []
      const cursors: string[] = []
      for (const [topic, w] of watched) {
        if (w.cursor === null) continue
        topics.push(topic)
        keys.push(keyOf(topic))
        cursors.push(w.cursor)
      }
      if (keys.length === 0) {
        await delivering
        state = 'idle'
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, blockMs).unref?.()
        })
        wake = null
        state = 'busy'
        if (!closed && watched.size > 0) await checkEpoch().catch(() => {})
        continue
      }
      let reply: unknown[] | null
      let marks: (string | null)[]
      let epoch: string | null
      try {
        state = 'reading'
        reads++
        // One round trip on this connection: a blocking XREAD that only
        // waits (COUNT 1: served on a write, it returns just the stream that
        // woke it on Redis 7.0), then, in one MULTI, a plain XREAD of every
        // stream, their trim marks and the epoch: one instant, so a batch is
        // complete up to its highest seq (a script's entries are all there or
        // none), a trim mark past a cursor means events this node never read
        // were trimmed, and the epoch says whether the entries are of the
        // epoch this node knows.
        const waited = blocking.call(
          'XREAD',
          'COUNT',
          '1',
          'BLOCK',
          String(blockMs),
          'STREAMS',
          ...keys,
          ...cursors,
        ) as Promise<unknown[] | null>
        const snapshot = blocking
          .multi()
          .call('XREAD', 'COUNT', String(batch), 'STREAMS', ...keys, ...cursors)
          .mget(...topics.map(markOf))
          .get(epochKey)
          .exec()
        snapshot.catch(() => {})
        await waited
        const res = await snapshot
        if (!res) throw new Error('MULTI aborted')
        for (const [err] of res) if (err) throw err
        reply = res[0][1] as unknown[] | null
        marks = res[1][1] as (string | null)[]
        epoch = res[2][1] as string | null
        state = 'busy'
      } catch {
        state = 'busy'
        if (closed) break
        await delivering
        await new Promise((r) => setTimeout(r, 250))
        continue
      }
      if (epoch !== knownEpoch) {
        // Flushed or restarted (or the key is gone): the entries may be of
        // either epoch, so none is delivered; the reset sends readers back to 0.
        await delivering
        await checkEpoch().catch(() => {})
        continue
      }
      const gaps: Gap[] = []
      for (let i = 0; i < topics.length; i++) {
        const mark = Number(marks[i] ?? 0)
        const w = watched.get(topics[i])
        const after = seqOf(cursors[i])
        if (w && mark > after) gaps.push({ topic: topics[i], w, afterSeq: after, throughSeq: mark })
      }
      if (reply || gaps.length > 0) {
        const entries = plan(reply ? streamsOf(reply) : [], gaps)
        if (entries.length > 0) {
          await delivering
          delivering = deliver(entries, epoch)
        }
      }
    }
  }
  void loop()

  /** Appends waiting for this tick's script call. */
  let pending: PendingAppend[] = []
  let flushScheduled = false
  /** The epoch a fresh Redis gets (SET NX); drawn again once Redis has taken it. */
  let candidate = newEpoch()

  /** Send this tick's appends: one script call per APPEND_BATCH_EVENTS / _BYTES. */
  function flush(): void {
    flushScheduled = false
    const all = pending
    pending = []
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
      void appendBatch(all.slice(i, j))
      i = j
    }
  }

  async function appendBatch(items: PendingAppend[]): Promise<void> {
    const streams: string[] = []
    const marks: string[] = []
    const index = new Map<string, number>()
    const args: string[] = [candidate, String(maxLength), String(maxAge), String(items.length)]
    for (const { topic, input } of items) {
      let k = index.get(topic)
      if (k === undefined) {
        k = streams.length + 1
        index.set(topic, k)
        streams.push(keyOf(topic))
        marks.push(markOf(topic))
      }
      args.push(String(k), input.data, input.event ?? '')
    }
    let reply: [string, number, string]
    try {
      reply = (await (cmd as any).sluiceAppend(
        2 + streams.length * 2,
        epochKey,
        seqKey,
        ...streams,
        ...marks,
        ...args,
      )) as [string, number, string]
    } catch (cause) {
      const err = storeError('append', cause)
      for (const item of items) item.reject(err)
      return
    }
    const [epoch, first, timeText] = reply
    if (epoch === candidate) candidate = newEpoch()
    const time = Number(timeText)
    for (let n = 0; n < items.length; n++) {
      const { topic, input } = items[n]
      const seq = Number(first) + n
      const e: StoredEvent = { id: formatId(epoch, seq), epoch, seq, topic, data: input.data, time }
      if (input.event) e.event = input.event
      items[n].resolve(e)
    }
  }

  return {
    kind: 'redis',

    async epoch() {
      try {
        return await currentEpoch()
      } catch (cause) {
        throw storeError('read', cause)
      }
    },

    async head() {
      try {
        const epoch = await currentEpoch()
        const res = (await cmd.multi().get(epochKey).get(seqKey).exec()) ?? []
        const e = res[0]?.[1] as string | null | undefined
        const seq = res[1]?.[1] as string | null | undefined
        return { epoch: e ?? epoch, seq: Number(seq ?? 0) }
      } catch (cause) {
        throw storeError('read', cause)
      }
    },

    append(topic: string, input: AppendInput): Promise<StoredEvent> {
      return new Promise<StoredEvent>((resolve, reject) => {
        pending.push({ topic, input, resolve, reject })
        if (!flushScheduled) {
          flushScheduled = true
          setImmediate(flush)
        }
      })
    },

    async read(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
      try {
        return await readNow(topics, afterSeq)
      } catch (cause) {
        throw storeError('read', cause)
      }
    },

    async watch(topic: string, listener: WatchListener): Promise<() => void> {
      let w = watched.get(topic)
      if (!w) {
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
        w = entry
        watched.set(topic, entry)
        // Every event appended after this GET has a higher seq: start there.
        cmd.get(seqKey).then(
          (seq) => {
            entry.cursor = (seq ?? '0') + '-0'
            fix()
            poke()
          },
          (cause) => {
            if (watched.get(topic) === entry) watched.delete(topic)
            fail(storeError('watch', cause))
          },
        )
      }
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
        if (mine.listeners.size === 0 && watched.get(topic) === mine) watched.delete(topic)
      }
    },

    async info(topic: string): Promise<TopicInfo | null> {
      let info: unknown
      try {
        info = await cmd.call('XINFO', 'STREAM', keyOf(topic))
      } catch {
        return null
      }
      const first = field(info, 'first-entry') as [string, string[]] | null
      const last = field(info, 'last-entry') as [string, string[]] | null
      const maxDeleted = field(info, 'max-deleted-entry-id')
      return {
        length: Number(field(info, 'length') ?? 0),
        firstSeq: first ? seqOf(first[0]) : 0,
        lastSeq: last ? seqOf(last[0]) : 0,
        trimmedSeq: typeof maxDeleted === 'string' ? seqOf(maxDeleted) : 0,
      }
    },

    async expire(topic: string, ttlMs: number): Promise<void> {
      const ms = Math.max(1, Math.round(ttlMs))
      await cmd.multi().pexpire(keyOf(topic), ms).pexpire(markOf(topic), ms).exec()
    },

    async delete(topic: string): Promise<void> {
      await cmd.del(keyOf(topic), markOf(topic))
    },

    async close(): Promise<void> {
      closed = true
      wake?.()
      blocking.disconnect()
      await cmd.quit().catch(() => cmd.disconnect())
    },
  }

  async function readNow(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
    const unique = [...new Set(topics)]
    const epoch = await currentEpoch()
    const m = cmd.multi()
    m.get(epochKey)
    m.time()
    for (const topic of unique) {
      m.call('XINFO', 'STREAM', keyOf(topic))
      m.xrange(keyOf(topic), afterSeq > 0 ? '(' + afterSeq + '-0' : '-', '+')
    }
    const res = (await m.exec()) ?? []
    const now = Number((res[1][1] as string[])[0]) * 1000
    const cutoff = maxAge > 0 ? now - maxAge : Number.NEGATIVE_INFINITY
    const readEpoch = (res[0][1] as string | null) ?? epoch
    const events: StoredEvent[] = []
    let truncated = false
    for (let i = 0; i < unique.length; i++) {
      const [infoErr, info] = res[2 + i * 2]
      const [rangeErr, range] = res[3 + i * 2]
      if (rangeErr) throw rangeErr
      if (!infoErr) {
        const maxDeleted = field(info, 'max-deleted-entry-id')
        if (typeof maxDeleted === 'string' && seqOf(maxDeleted) > afterSeq) truncated = true
      }
      for (const [id, fields] of range as [string, string[]][]) {
        const e = toEvent(readEpoch, unique[i], id, fields)
        if (e.time < cutoff) {
          truncated = true
          continue
        }
        events.push(e)
      }
    }
    if (unique.length > 1) events.sort((a, b) => a.seq - b.seq)
    return { epoch: readEpoch, events, truncated }
  }
}
