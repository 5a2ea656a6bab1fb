/**
 * A streaming parser for `text/event-stream`, following the WHATWG HTML
 * standard, section 9.2.6 "Interpreting an event stream", exactly and under any
 * chunking.
 *
 * Design notes (the hot path is here, so the reasons are written down):
 * - Bytes are decoded once per chunk into a string (one native call), and lines
 *   are found with `indexOf`, never by splitting into arrays.
 * - Field names are recognised by char codes, never sliced out.
 * - A partial line is kept as a string that grows by `+=`. V8 builds a rope for
 *   that, so appending is O(1) and the one flatten at the end is O(N): a 10 MB
 *   line fed one byte at a time stays linear. We only ever search the *new*
 *   chunk for a line end, never the accumulated prefix (searching the prefix
 *   again on every feed is the classic O(N²) trap).
 * - Single-byte ASCII chunks skip the TextDecoder (a native call costs more than
 *   the byte), which keeps byte-at-a-time feeding cheap.
 */
import { SluiceError } from './errors.js'
import type { EventSourceMessage } from './types.js'

const LF = 10
const SPACE = 32
const COLON = 58
const NUL_CHAR = '\u0000'
const BOM = 0xfeff

/** 1 MiB of buffered line + data, per event. */
export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024

export interface ParserCallbacks {
  /** Called for every dispatched event. */
  onEvent: (event: EventSourceMessage) => void
  /** Called when a valid `retry` field is seen (milliseconds). */
  onRetry?: (retry: number) => void
  /** Called for every comment line (`:` ...), with the text after the colon (one leading space removed). */
  onComment?: (comment: string) => void
  /** Called when the committed last event ID changes (at the end of a block, even one without data). */
  onId?: (id: string) => void
  /** Called with a `SluiceError` (`EVENT_TOO_LARGE`) when an event is skipped. */
  onError?: (error: SluiceError) => void
  /** Bound on buffered line + data per event, in UTF-16 code units (default 1 MiB). */
  maxEventSize?: number
}

export interface EventStreamParserHandle {
  /** Feed the next chunk of the stream: bytes (UTF-8, decoded as a stream) or already decoded text. */
  feed(chunk: Uint8Array | string): void
  /** End of stream: an unterminated last event is dropped, as a browser does. The parser can then be reused. */
  end(): void
  /** Forget everything buffered, as for a new connection. The last event ID is kept (it belongs to the source). */
  reset(): void
  /** The last event ID committed so far (a blank line commits the `id` seen in its block). Settable. */
  lastEventId: string
}

export function createParser(callbacks: ParserCallbacks): EventStreamParserHandle {
  if (typeof callbacks === 'function') {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`createParser()` takes an object of callbacks, not a function: did you mean `createParser({ onEvent: fn })`?',
    )
  }
  if (!callbacks || typeof callbacks.onEvent !== 'function') {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`createParser()` needs an `onEvent` callback: `createParser({ onEvent(event) { ... } })`.',
    )
  }
  const max = callbacks.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE
  if (!(max > 0)) {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`maxEventSize` must be a positive number of characters.',
      {
        maxEventSize: max,
      },
    )
  }
  return new Parser(callbacks, max)
}

class Parser implements EventStreamParserHandle {
  private readonly cb: ParserCallbacks
  private readonly max: number

  private decoder: TextDecoder | null = null
  /** The last byte fed to the decoder was ASCII, so it holds no partial sequence. */
  private decoderClean = true
  /** The BOM check is done for this stream. */
  private started = false

  /** The unterminated line carried from previous chunks. */
  private pending = ''
  /** The current line grew past the bound and is being discarded. */
  private lineOverflow = false
  /** The last chunk ended with CR: an LF opening the next chunk belongs to that line end. */
  private crPending = false

  private data = ''
  private hasData = false
  private eventType = ''
  private idBuffer = ''
  private committedId = ''
  private retry: number | undefined = undefined
  /** The current event is too large and is being skipped up to the next blank line. */
  private skipping = false

  constructor(cb: ParserCallbacks, max: number) {
    this.cb = cb
    this.max = max
  }

  get lastEventId(): string {
    return this.committedId
  }

  set lastEventId(id: string) {
    this.committedId = id
    this.idBuffer = id
  }

  feed(chunk: Uint8Array | string): void {
    if (typeof chunk === 'string') {
      if (chunk.length === 0) return
      if (!this.started) {
        this.started = true
        if (chunk.charCodeAt(0) === BOM) chunk = chunk.slice(1)
      }
      this.text(chunk)
      return
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new SluiceError(
        'INVALID_ARGUMENT',
        '`feed()` takes a Uint8Array (bytes) or a string, got ' + describe(chunk) + '.',
      )
    }
    const n = chunk.length
    if (n === 0) return
    let text: string
    if (this.started && this.decoderClean && n <= 16 && isAscii(chunk, n)) {
      text = n === 1 ? String.fromCharCode(chunk[0]) : String.fromCharCode.apply(null, chunk as any)
    } else {
      if (this.decoder === null)
        this.decoder = new TextDecoder('utf-8', { ignoreBOM: this.started })
      // The decoder drops one leading BOM itself, even when it is split over chunks.
      text = this.decoder.decode(chunk, { stream: true })
      this.decoderClean = chunk[n - 1] < 0x80
      if (text.length > 0) this.started = true
    }
    if (text.length > 0) this.text(text)
  }

  end(): void {
    this.reset()
  }

  reset(): void {
    this.decoder = null
    this.decoderClean = true
    this.started = false
    this.pending = ''
    this.lineOverflow = false
    this.crPending = false
    this.data = ''
    this.hasData = false
    this.eventType = ''
    this.idBuffer = this.committedId
    this.retry = undefined
    this.skipping = false
  }

  /** Split decoded text into lines (CRLF, LF or CR) and process each. */
  private text(text: string): void {
    const len = text.length
    let pos = 0
    if (this.crPending) {
      this.crPending = false
      if (text.charCodeAt(0) === LF) pos = 1
    }
    let nextLF = text.indexOf('\n', pos)
    let nextCR = text.indexOf('\r', pos)
    while (pos < len) {
      if (nextLF !== -1 && nextLF < pos) nextLF = text.indexOf('\n', pos)
      if (nextCR !== -1 && nextCR < pos) nextCR = text.indexOf('\r', pos)
      let end: number
      let next: number
      if (nextCR === -1 || (nextLF !== -1 && nextLF < nextCR)) {
        if (nextLF === -1) break
        end = nextLF
        next = end + 1
      } else {
        end = nextCR
        if (end + 1 < len) {
          next = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
        } else {
          next = len
          this.crPending = true
        }
      }
      if (this.pending.length === 0 && !this.lineOverflow) {
        this.line(text, pos, end)
      } else if (this.lineOverflow) {
        // The tail of a discarded line: the line is not blank, so nothing happens.
        this.lineOverflow = false
        this.pending = ''
      } else {
        const line = this.pending + text.slice(pos, end)
        this.pending = ''
        this.line(line, 0, line.length)
      }
      pos = next
    }
    if (pos < len) this.carry(text, pos, len)
  }

  /** Keep the unterminated end of a chunk for the next one, within the bound. */
  private carry(text: string, pos: number, len: number): void {
    if (this.lineOverflow) return
    const size = this.pending.length + (len - pos) + this.data.length
    if (size > this.max) {
      this.pending = ''
      this.lineOverflow = true
      this.tooLarge(size)
      return
    }
    this.pending =
      this.pending.length === 0 ? text.slice(pos, len) : this.pending + text.slice(pos, len)
  }

  /** Process one line, given as `text[start, end)`. */
  private line(text: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch()
      return
    }
    const c = text.charCodeAt(start)
    if (c === COLON) {
      if (this.cb.onComment) {
        const vs = start + 1 < end && text.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1
        this.cb.onComment(text.slice(vs, end))
      }
      return
    }
    // Fast path for the field every event has.
    if (
      c === 100 /* d */ &&
      end - start >= 5 &&
      text.charCodeAt(start + 4) === COLON &&
      text.charCodeAt(start + 1) === 97 /* a */ &&
      text.charCodeAt(start + 2) === 116 /* t */ &&
      text.charCodeAt(start + 3) === 97 /* a */
    ) {
      let vs = start + 5
      if (vs < end && text.charCodeAt(vs) === SPACE) vs++
      this.appendData(text.slice(vs, end))
      return
    }
    let colon = -1
    for (let i = start; i < end; i++) {
      if (text.charCodeAt(i) === COLON) {
        colon = i
        break
      }
    }
    let field: string
    let value: string
    if (colon === -1) {
      field = text.slice(start, end)
      value = ''
    } else {
      field = text.slice(start, colon)
      let vs = colon + 1
      if (vs < end && text.charCodeAt(vs) === SPACE) vs++
      value = text.slice(vs, end)
    }
    switch (field) {
      case 'data':
        this.appendData(value)
        break
      case 'event':
        if (!this.skipping) this.eventType = value
        break
      case 'id':
        // An id containing NULL is ignored (spec).
        if (value.indexOf(NUL_CHAR) === -1) this.idBuffer = value
        break
      case 'retry':
        if (isDigits(value)) {
          const ms = Number.parseInt(value, 10)
          this.retry = ms
          this.cb.onRetry?.(ms)
        }
        break
      default:
      // Unknown fields are ignored (spec).
    }
  }

  private appendData(value: string): void {
    if (this.skipping) return
    if (this.hasData) {
      const size = this.data.length + 1 + value.length
      if (size > this.max) {
        this.tooLarge(size)
        return
      }
      this.data += '\n' + value
    } else {
      if (value.length > this.max) {
        this.tooLarge(value.length)
        return
      }
      this.data = value
      this.hasData = true
    }
  }

  /** The current event outgrew the bound: report once, skip it up to the next blank line. */
  private tooLarge(size: number): void {
    if (!this.skipping) {
      this.skipping = true
      this.cb.onError?.(
        new SluiceError(
          'EVENT_TOO_LARGE',
          `An event exceeded maxEventSize (${this.max} characters); it was skipped up to the next blank line. ` +
            'Raise `maxEventSize` if events this large are expected.',
          { maxEventSize: this.max, size },
        ),
      )
    }
    this.data = ''
    this.hasData = false
    this.eventType = ''
  }

  /** A blank line: commit the id, then dispatch the event if it has data. */
  private dispatch(): void {
    if (this.idBuffer !== this.committedId) {
      this.committedId = this.idBuffer
      this.cb.onId?.(this.committedId)
    }
    const hadData = this.hasData && !this.skipping
    const data = this.data
    const event = this.eventType
    const retry = this.retry
    this.data = ''
    this.hasData = false
    this.eventType = ''
    this.retry = undefined
    this.skipping = false
    if (!hadData) return
    const message: EventSourceMessage =
      retry === undefined
        ? { id: this.committedId, event, data }
        : { id: this.committedId, event, data, retry }
    this.cb.onEvent(message)
  }
}

function isDigits(value: string): boolean {
  const n = value.length
  if (n === 0) return false
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

function isAscii(bytes: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[i] >= 0x80) return false
  return true
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object'
  return typeof value
}
