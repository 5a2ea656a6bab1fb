/**
 * The one encoder. Everything in sluice that writes an event stream goes
 * through here, so a field can never corrupt the framing (WHATWG HTML 9.2.6:
 * a line ends at CR, LF or CRLF, so none of them may appear inside a field).
 */
import { SluiceError } from './errors.js'
import type { EventInit } from './types.js'

const encoder = new TextEncoder()
const LINE_BREAK = /\r\n|\r|\n/

/** Encode one event as `text/event-stream` text, ending with the blank line that dispatches it. */
export function encodeEvent(init: EventInit): string {
  if (init === null || typeof init !== 'object') {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`encodeEvent()` takes an object `{ data, event?, id?, retry? }`; to send a plain string, use `encodeEvent({ data })`.',
    )
  }
  const { data, event, id, retry } = init
  let out = ''
  if (event !== undefined && event !== '') {
    checkField('event', event)
    out += 'event:' + value(event) + '\n'
  }
  if (id !== undefined) {
    checkField('id', id)
    if (id.indexOf('\u0000') !== -1) {
      throw new SluiceError(
        'INVALID_FIELD',
        'An event id may not contain NULL (U+0000): receivers ignore such ids, which would break resumption.',
        { field: 'id' },
      )
    }
    out += 'id:' + value(id) + '\n'
  }
  if (retry !== undefined) {
    if (!Number.isInteger(retry) || retry < 0) {
      throw new SluiceError(
        'INVALID_FIELD',
        '`retry` must be a non-negative integer number of milliseconds.',
        {
          field: 'retry',
          value: retry,
        },
      )
    }
    out += 'retry:' + retry + '\n'
  }
  if (data !== undefined) {
    if (typeof data !== 'string') {
      throw new SluiceError(
        'INVALID_FIELD',
        '`data` must be a string; serialise objects first (the server emitter does JSON.stringify for you).',
        { field: 'data', type: typeof data },
      )
    }
    out += encodeData(data)
  }
  return out + '\n'
}

/** `data:` lines for a text value: each CR, LF or CRLF starts a new line. */
function encodeData(data: string): string {
  // Fast path: no line break at all (the common single-token or JSON case).
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) return 'data:' + value(data) + '\n'
  let out = ''
  for (const line of data.split(LINE_BREAK)) out += 'data:' + value(line) + '\n'
  return out
}

/** Encode a comment (ignored by receivers; used for heartbeats). Line breaks start new comment lines. */
export function encodeComment(text = ''): string {
  let out = ''
  for (const line of String(text).split(LINE_BREAK)) out += line === '' ? ':\n' : ': ' + line + '\n'
  return out
}

/** Encode once, write the same bytes to many sockets. */
export function encodeEventBytes(init: EventInit): Uint8Array {
  return encoder.encode(encodeEvent(init))
}

export function encodeCommentBytes(text = ''): Uint8Array {
  return encoder.encode(encodeComment(text))
}

/** The parser strips exactly one space after the colon, so a value that starts with one needs another. */
function value(v: string): string {
  return v.charCodeAt(0) === 32 ? ' ' + v : v
}

function checkField(field: 'event' | 'id', v: string): void {
  if (typeof v !== 'string') {
    throw new SluiceError('INVALID_FIELD', `\`${field}\` must be a string.`, {
      field,
      type: typeof v,
    })
  }
  if (v.indexOf('\n') !== -1 || v.indexOf('\r') !== -1) {
    throw new SluiceError(
      'INVALID_FIELD',
      `\`${field}\` may not contain CR or LF: it would end the field and corrupt the stream.`,
      { field, value: v },
    )
  }
}
