/**
 * How a follower's events become bytes on the wire: SSE (the default) or the
 * guide's envelope lines. A `RunFormat` of your own is a function like these.
 */
import { encodeEvent } from '../protocol/encoder.js'
import { envelope } from '../protocol/envelope.js'
import { DONE_EVENT, doneMessage, doneReason, RUN_EVENT } from './log.js'
import type { RunFormat } from './types.js'

/** SSE: each event as is, with its id (notices, whose id is '', without one: the client keeps its last id). */
export const sseRunFormat: RunFormat = (e) =>
  encodeEvent(
    e.id === '' ? { event: e.event, data: e.data } : { id: e.id, event: e.event, data: e.data },
  )

/**
 * The guide's envelope (`data:{"code":200,"data":...}` lines, ending with
 * `data:{"code":-200}`), for line-by-line JSON readers: no ids, no event
 * names, the `run` event left out (the resume URL is in the response header).
 */
export const envelopeRunFormat: RunFormat = (e) => {
  if (e.event === RUN_EVENT) return null
  if (e.event === 'error') {
    let message = e.data
    try {
      message = String((JSON.parse(e.data) as { message?: unknown }).message ?? e.data)
    } catch {}
    return envelope.error(message)
  }
  if (e.event === DONE_EVENT) {
    const reason = doneReason(e.data)
    if (reason === 'complete' || reason === 'stopped') return envelope.end()
    if (reason === 'lost') return envelope.error(doneMessage(e.data) ?? 'The run was lost.')
    return null // `error`: the error frame went out just before
  }
  return envelope.chunk(e.data)
}
