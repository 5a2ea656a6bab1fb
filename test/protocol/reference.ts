/**
 * A deliberately naive reading of WHATWG HTML §9.2.6 "Interpreting an event
 * stream", written for clarity, not speed: decode the whole stream at once,
 * split it into lines, run the field rules. The property tests check that the
 * real parser, fed the same stream in any pieces, agrees with it.
 */
import type { EventSourceMessage } from '../../src/protocol/index.js'

export interface ParseResult {
  events: EventSourceMessage[]
  lastEventId: string
  retries: number[]
  comments: string[]
}

export function referenceParse(stream: Uint8Array | string): ParseResult {
  // "UTF-8 decode": invalid bytes become U+FFFD, one leading BOM is dropped.
  let text = typeof stream === 'string' ? stream : new TextDecoder().decode(stream)
  if (typeof stream === 'string' && text.startsWith('\uFEFF')) text = text.slice(1)
  // Lines end in CRLF, LF or CR; what follows the last line end is an
  // unterminated line, discarded at the end of the stream.
  const lines = text.split(/\r\n|\r|\n/)
  lines.pop()

  const out: ParseResult = { events: [], lastEventId: '', retries: [], comments: [] }
  let data: string[] = []
  let type = ''
  let idBuffer = ''
  let retry: number | undefined
  for (const line of lines) {
    if (line === '') {
      out.lastEventId = idBuffer
      if (data.length > 0) {
        const event: EventSourceMessage = { id: idBuffer, event: type, data: data.join('\n') }
        if (retry !== undefined) event.retry = retry
        out.events.push(event)
      }
      data = []
      type = ''
      retry = undefined
      continue
    }
    if (line.startsWith(':')) {
      out.comments.push(line.slice(1).replace(/^ /, ''))
      continue
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') type = value
    else if (field === 'id') {
      if (!value.includes('\u0000')) idBuffer = value
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) {
        retry = Number.parseInt(value, 10)
        out.retries.push(retry)
      }
    }
  }
  return out
}
