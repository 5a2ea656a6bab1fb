/** Redis replies read into the store's terms: stream ids, entries, XINFO fields. */
import { formatId } from '../ids.js'
import type { StoredEvent } from '../store.js'

/** One stream's entries from XREAD: `[streamId, [field, value, ...]]`. */
export type StreamEntry = [string, string[]]
/** An XREAD reply as `[key, entries]` per stream. */
export type StreamReply = [string, StreamEntry[]][]

/** The seq of a stream id `<seq>-0`. */
export function seqOf(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')))
}

/** A stream entry (fields `t` time, `d` data, `e` event) as a stored event. */
export function toEvent(
  epoch: string,
  topic: string,
  streamId: string,
  fields: string[],
): StoredEvent {
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

/** A field of a flat `[name, value, ...]` reply (XINFO STREAM). */
export function field(flat: unknown, name: string): unknown {
  if (!Array.isArray(flat)) return undefined
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

/** XREAD replies `[[key, entries], ...]` on RESP2 and a map (flattened `[key, entries, ...]`) on RESP3. */
export function streamsOf(reply: unknown[]): StreamReply {
  if (reply.length === 0 || Array.isArray(reply[0])) return reply as StreamReply
  const out: StreamReply = []
  for (let i = 0; i < reply.length; i += 2) {
    out.push([reply[i] as string, reply[i + 1] as StreamEntry[]])
  }
  return out
}
