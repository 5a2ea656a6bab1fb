/** What a node reads from Redis on request: the head, a topic's history and what it holds. */
import type { Redis as RedisClient } from 'ioredis'
import type { ReadResult, StoredEvent, TopicInfo } from '../store.js'
import { currentEpoch } from './connection.js'
import type { RedisKeys } from './keys.js'
import { field, seqOf, toEvent } from './replies.js'

/** The epoch and the last seq handed out, read together. */
export async function readHead(
  cmd: RedisClient,
  keys: RedisKeys,
): Promise<{ epoch: string; seq: number }> {
  const epoch = await currentEpoch(cmd, keys)
  const res = (await cmd.multi().get(keys.epoch).get(keys.seq).exec()) ?? []
  const e = res[0]?.[1] as string | null | undefined
  const seq = res[1]?.[1] as string | null | undefined
  return { epoch: e ?? epoch, seq: Number(seq ?? 0) }
}

/**
 * Events after `afterSeq` on `topics`, in seq order, in one MULTI with the
 * epoch, Redis's clock and each stream's XINFO: truncated when a stream's
 * `max-deleted-entry-id` is past `afterSeq` or an event is older than `maxAge`
 * (ms; 0 = no age limit).
 */
export async function readHistory(
  cmd: RedisClient,
  keys: RedisKeys,
  maxAge: number,
  topics: readonly string[],
  afterSeq: number,
): Promise<ReadResult> {
  const unique = [...new Set(topics)]
  const epoch = await currentEpoch(cmd, keys)
  const m = cmd.multi()
  m.get(keys.epoch)
  m.time()
  for (const topic of unique) {
    m.call('XINFO', 'STREAM', keys.stream(topic))
    m.xrange(keys.stream(topic), afterSeq > 0 ? '(' + afterSeq + '-0' : '-', '+')
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

/** What Redis holds for a topic (XINFO STREAM), or null when it holds nothing. */
export async function topicInfo(
  cmd: RedisClient,
  keys: RedisKeys,
  topic: string,
): Promise<TopicInfo | null> {
  let info: unknown
  try {
    info = await cmd.call('XINFO', 'STREAM', keys.stream(topic))
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
}
