/**
 * A streaming parser for `text/event-stream`, following the WHATWG HTML
 * standard, §9.2.6 "Interpreting an event stream", exactly and under any
 * chunking. https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 *
 * Design notes (the hot path is here, so the reasons are written down):
 *
 * - Bytes are decoded with non-streaming `TextDecoder.decode()` calls, each
 *   given bytes that end on a character boundary: a chunk is decoded up to
 *   its last whole character and a character it cuts (at most 3 bytes) is held
 *   back for the next chunk (`incompleteFrom`). The decoder keeps no state, and
 *   the result is exactly what one decode of the whole stream would give,
 *   U+FFFD for invalid bytes included. On Node 20 the non-streaming decode of
 *   ASCII is ~5x faster than `decode(chunk, { stream: true })`; for text with
 *   multi-byte characters the streaming (ICU) call is faster, so `decode()`
 *   picks by what the previous chunk held.
 * - A line fed one byte at a time goes into a growable byte buffer: one store
 *   per byte and one decode at the end, so a 10 MB line fed byte by byte stays
 *   linear (no per-byte strings, no re-scanning).
 * - Lines are found with `indexOf` on the decoded text, each character
 *   searched once; a partial line is kept as a string that grows by `+=`
 *   (a V8 rope: O(1) appends, one O(N) flatten), never re-searched.
 * - The LF-only loop (`lfLines`) handles `data`, `id`, `event` and the blank
 *   line inline with the event state in locals; field names are recognised by
 *   char codes, never sliced out.
 */
import { SluiceError } from './errors.js'
import type { EventSourceMessage } from './types.js'

const LF = 10
const CR = 13
const SPACE = 32
const COLON = 58
const BOM = 0xfeff

/** 1 MiB of buffered line + data, per event. */
export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024

/** A line buffer larger than this is released once its line is done. */
const KEEP_BUFFER = 64 * 1024

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
  /**
   * Bound on the memory one event may hold: the unterminated line (counted in
   * UTF-8 bytes when fed bytes, in UTF-16 code units when fed strings) plus the
   * data collected so far (UTF-16 code units). Default 1 MiB.
   */
  maxEventSize?: number
}

export interface EventStreamParserHandle {
  /** Feed the next chunk of the stream: bytes (UTF-8, any split) or already decoded text. */
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
      { maxEventSize: max },
    )
  }
  return new Parser(callbacks, max)
}

const EMPTY = new Uint8Array(0)

class Parser implements EventStreamParserHandle {
  private readonly cb: ParserCallbacks
  private readonly onEvent: (event: EventSourceMessage) => void
  private readonly max: number
  /** Non-streaming: it is only given bytes that end on a character boundary (see the notes above). */
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  /**
   * The same decoding, called with `{ stream: true }`: on Node 20 the
   * non-streaming decode is ~5x faster than the streaming one for ASCII text
   * but ~1.7x slower for text with multi-byte characters (V8's generic UTF-8
   * path against ICU's). It too only gets bytes that end on a character
   * boundary, so it never holds a partial sequence and both give the same
   * string. A separate instance: on Node, one `stream: true` call turns a
   * decoder's fast path off for good.
   */
  private readonly multiByteDecoder = new TextDecoder('utf-8', { ignoreBOM: true })
  /** The last decoded piece was ASCII (one character per byte): pick the decoder by that. */
  private lastAscii = true
  /** The text being processed was decoded from ASCII bytes (so it is a one-byte string). */
  private asciiText = false

  /** Bytes not decoded yet: a character cut by a chunk's end, or a line arriving one byte at a time. */
  private buf: Uint8Array = EMPTY
  private bufLen = 0
  /** The unterminated line, decoded (it comes before the bytes in `buf`). */
  private pending = ''
  /** The first character of the stream was seen (and a BOM there dropped). */
  private started = false
  /** The current line grew past the bound and is being discarded up to its end. */
  private lineOverflow = false
  /** The last line ended with a CR at the end of a chunk: an LF starting the next one belongs to it. */
  private crPending = false

  private data = ''
  private hasData = false
  private eventType = ''
  private idBuffer = ''
  private committedId = ''
  private retry: number | undefined = undefined
  /** The current event is too large and is being skipped up to the next blank line. */
  private skipping = false
  /** Bumped by `reset()`: a callback that resets the parser stops the text being processed. */
  private epoch = 0

  constructor(cb: ParserCallbacks, max: number) {
    this.cb = cb
    this.onEvent = cb.onEvent
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
      this.asciiText = false
      // Bytes left from byte feeding come first (mixing is allowed, if odd).
      if (this.bufLen > 0) {
        // (They may end inside a character; the non-streaming decode makes that U+FFFD.)
        const text = this.decoder.decode(this.buf.subarray(0, this.bufLen))
        this.bufLen = 0
        if (!this.text(text)) return
      }
      this.text(chunk)
      return
    }
    if (!(chunk instanceof Uint8Array)) {
      throw new SluiceError(
        'INVALID_ARGUMENT',
        '`feed()` takes a Uint8Array (bytes) or a string, got ' +
          describe(chunk) +
          ((chunk as unknown) instanceof ArrayBuffer
            ? '; wrap it: `feed(new Uint8Array(buffer))`.'
            : '.'),
      )
    }
    const n = chunk.length
    if (n === 0) return
    if (n === 1) {
      // Byte-at-a-time feeding: a byte that ends no line is one store.
      const b = chunk[0]
      if (b !== LF && b !== CR) {
        this.pushByte(b)
        return
      }
    }
    const epoch = this.epoch
    let start = 0
    if (this.bufLen > 0) {
      // Bytes held back (a character cut by the previous chunk, or a line fed
      // byte by byte) go first, with the continuation bytes that complete them.
      while (start < n && start < 3 && (chunk[start] & 0xc0) === 0x80) start++
      this.pushBytes(chunk, 0, start)
      if (this.epoch !== epoch) return // onError reset the parser
      if (start === n && incompleteFrom(this.buf, 0, this.bufLen) < this.bufLen) return
      if (this.bufLen > 0) {
        const held = this.buf.subarray(0, this.bufLen)
        // Still cut short (the chunk went on with something else): an error,
        // U+FFFD now; the streaming decoder would hold the bytes back instead.
        const text =
          incompleteFrom(held, 0, held.length) < held.length
            ? this.decoder.decode(held)
            : this.decode(held)
        this.bufLen = 0
        if (this.buf.length > KEEP_BUFFER) this.buf = EMPTY
        if (!this.text(text)) return
      }
    }
    // Decode up to the last whole character; hold back a character the chunk cuts.
    const end = incompleteFrom(chunk, start, n)
    if (end > start) {
      const text = this.decode(start === 0 && end === n ? chunk : chunk.subarray(start, end))
      if (!this.text(text) || this.epoch !== epoch) return
    }
    if (end < n) this.pushBytes(chunk, end, n)
  }

  end(): void {
    // An unterminated line or event is discarded (spec: "any pending data must be discarded").
    this.reset()
  }

  reset(): void {
    this.epoch++
    this.multiByteDecoder.decode() // (holds nothing by construction; belt and braces)
    this.buf = this.buf.length > KEEP_BUFFER ? EMPTY : this.buf
    this.bufLen = 0
    this.pending = ''
    this.started = false
    this.lineOverflow = false
    this.crPending = false
    this.data = ''
    this.hasData = false
    this.eventType = ''
    this.idBuffer = this.committedId
    this.retry = undefined
    this.skipping = false
  }

  /** Decode bytes that end on a character boundary (see `incompleteFrom`). */
  private decode(bytes: Uint8Array): string {
    const text = this.lastAscii
      ? this.decoder.decode(bytes)
      : this.multiByteDecoder.decode(bytes, { stream: true })
    // A stream's next chunk is usually like its last one; predicting costs nothing
    // (a native ASCII check would cost a pass over the bytes). Short pieces,
    // such as the end of a line begun in an earlier chunk, say too little.
    const ascii = text.length === bytes.length
    if (bytes.length >= 256) this.lastAscii = ascii
    this.asciiText = ascii
    return text
  }

  private pushByte(b: number): void {
    if (this.lineOverflow) return
    const len = this.bufLen
    const size = len + 1 + this.pending.length + this.data.length
    if (size > this.max) {
      this.overflowLine(size)
      return
    }
    if (len === this.buf.length) this.grow(len + 1)
    this.buf[len] = b
    this.bufLen = len + 1
  }

  private pushBytes(chunk: Uint8Array, from: number, to: number): void {
    if (this.lineOverflow) return
    const len = this.bufLen
    const need = len + (to - from)
    const size = need + this.pending.length + this.data.length
    if (size > this.max) {
      this.overflowLine(size)
      return
    }
    if (need > this.buf.length) this.grow(need)
    if (to - from > 16) {
      this.buf.set(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to), len)
    } else {
      const buf = this.buf
      for (let i = from, o = len; i < to; i++, o++) buf[o] = chunk[i]
    }
    this.bufLen = need
  }

  /** Amortised doubling: appending N bytes in any pieces costs O(N). */
  private grow(need: number): void {
    let cap = this.buf.length < 256 ? 256 : this.buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.bufLen))
    this.buf = next
  }

  /** The unterminated line outgrew the bound: drop it (and skip its event). */
  private overflowLine(size: number): void {
    this.bufLen = 0
    if (this.buf.length > KEEP_BUFFER) this.buf = EMPTY
    this.pending = ''
    this.lineOverflow = true
    this.tooLarge(size)
  }

  /**
   * Split decoded text into lines (CRLF, LF or CR) and process each. Returns
   * false when a callback reset the parser (the rest of the input is dropped).
   */
  private text(text: string): boolean {
    const len = text.length
    if (len === 0) return true
    const epoch = this.epoch
    let pos = 0
    if (!this.started) {
      this.started = true
      // One leading BOM is dropped (the spec's "UTF-8 decode"); any later one is data.
      if (text.charCodeAt(0) === BOM) pos = 1
    }
    if (this.crPending) {
      this.crPending = false
      if (text.charCodeAt(pos) === LF) pos++
    }
    // One search for CR over the whole text: none (the common case) means LF-only lines.
    let cr = text.indexOf('\r', pos)
    if (pos < len && (this.pending.length > 0 || this.lineOverflow)) {
      // Finish the line carried over from earlier chunks.
      const lf = text.indexOf('\n', pos)
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr)
      if (end === -1) {
        this.carry(text, pos, len)
        return this.epoch === epoch
      }
      if (this.lineOverflow) {
        this.lineOverflow = false
        this.pending = ''
      } else {
        const line = this.pending + text.slice(pos, end)
        this.pending = ''
        this.line(line, 0, line.length)
        if (this.epoch !== epoch) return false
      }
      pos = this.afterLineEnd(text, end, len)
    }
    if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos)
    if (cr === -1) {
      pos = this.lfLines(text, pos, len)
      if (pos < 0) return false
    } else {
      let lf = text.indexOf('\n', pos)
      while (pos < len) {
        if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos)
        if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos)
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr)
        if (end === -1) break
        this.line(text, pos, end)
        if (this.epoch !== epoch) return false
        pos = this.afterLineEnd(text, end, len)
      }
    }
    if (pos < len) this.carry(text, pos, len)
    return this.epoch === epoch
  }

  /**
   * The hot loop, for text whose lines all end in LF (the common case). The
   * three fields every token stream uses (`data`, `id`, `event`) and the
   * blank line are handled inline with the event state in locals; anything
   * else goes through `line()`. A blank line is recognised by its first
   * character, so each event costs one `indexOf` per non-blank line.
   * Returns where the unterminated rest starts, or -1 if a callback called
   * `reset()`/`end()` (the rest of the text then belongs to no stream).
   */
  private lfLines(text: string, pos: number, len: number): number {
    const epoch = this.epoch
    const onId = this.cb.onId
    // NULL is rare: one search of the whole text spares a check of every id.
    // Only for text decoded from ASCII: V8 searches two-byte strings for
    // U+0000 slowly (every ASCII character has a zero byte).
    const nul = !this.asciiText || text.indexOf('\u0000', pos) !== -1
    let data = this.data
    let hasData = this.hasData
    let eventType = this.eventType
    let idBuffer = this.idBuffer
    while (pos < len) {
      const c = text.charCodeAt(pos)
      if (c === LF) {
        // Blank line: dispatch (spec). Inline copy of `dispatch()`.
        pos++
        if (onId === undefined) {
          // (Comparing two ids costs more than storing one.)
          this.committedId = idBuffer
        } else if (idBuffer !== this.committedId) {
          this.committedId = idBuffer
          this.saveState(data, hasData, eventType, idBuffer)
          onId(idBuffer)
          if (this.epoch !== epoch) return -1
          idBuffer = this.idBuffer
        }
        if (hasData && !this.skipping) {
          const retry = this.retry
          const event: EventSourceMessage =
            retry === undefined
              ? { id: idBuffer, event: eventType, data }
              : { id: idBuffer, event: eventType, data, retry }
          data = ''
          hasData = false
          eventType = ''
          this.retry = undefined
          // The callback may read or set `lastEventId`, or call `reset()`.
          this.idBuffer = idBuffer
          this.onEvent(event)
          if (this.epoch !== epoch) return -1
          idBuffer = this.idBuffer
        } else {
          data = ''
          hasData = false
          eventType = ''
          this.retry = undefined
          this.skipping = false
        }
        continue
      }
      const end = text.indexOf('\n', pos)
      if (end === -1) break
      if (
        c === 100 /* d */ &&
        text.charCodeAt(pos + 4) === COLON &&
        text.charCodeAt(pos + 1) === 97 /* a */ &&
        text.charCodeAt(pos + 2) === 116 /* t */ &&
        text.charCodeAt(pos + 3) === 97 /* a */
      ) {
        // (Position `end` holds LF, so the look-ahead never matches past the line.)
        const value = text.slice(text.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5, end)
        if (!this.skipping) {
          if (!hasData) {
            if (value.length > this.max) {
              this.saveState(data, hasData, eventType, idBuffer)
              this.tooLarge(value.length)
              if (this.epoch !== epoch) return -1
              eventType = ''
            } else {
              data = value
              hasData = true
            }
          } else if (data.length + 1 + value.length > this.max) {
            this.saveState(data, hasData, eventType, idBuffer)
            this.tooLarge(data.length + 1 + value.length)
            if (this.epoch !== epoch) return -1
            data = ''
            hasData = false
            eventType = ''
          } else {
            data += '\n' + value
          }
        }
      } else if (
        c === 105 /* i */ &&
        text.charCodeAt(pos + 2) === COLON &&
        text.charCodeAt(pos + 1) === 100 /* d */
      ) {
        const vs = text.charCodeAt(pos + 3) === SPACE ? pos + 4 : pos + 3
        // An id containing NULL is ignored (spec).
        if (!nul || !hasNul(text, vs, end)) idBuffer = text.slice(vs, end)
      } else if (
        c === 101 /* e */ &&
        text.charCodeAt(pos + 5) === COLON &&
        text.charCodeAt(pos + 1) === 118 /* v */ &&
        text.charCodeAt(pos + 2) === 101 /* e */ &&
        text.charCodeAt(pos + 3) === 110 /* n */ &&
        text.charCodeAt(pos + 4) === 116 /* t */
      ) {
        const vs = text.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6
        // The same type on every event is common: reuse the string instead of allocating.
        if (!this.skipping) {
          eventType =
            end - vs === eventType.length && text.startsWith(eventType, vs)
              ? eventType
              : text.slice(vs, end)
        }
      } else {
        this.saveState(data, hasData, eventType, idBuffer)
        this.line(text, pos, end)
        if (this.epoch !== epoch) return -1
        data = this.data
        hasData = this.hasData
        eventType = this.eventType
        idBuffer = this.idBuffer
      }
      pos = end + 1
    }
    this.saveState(data, hasData, eventType, idBuffer)
    return pos
  }

  private saveState(data: string, hasData: boolean, eventType: string, idBuffer: string): void {
    this.data = data
    this.hasData = hasData
    this.eventType = eventType
    this.idBuffer = idBuffer
  }

  /** Where the next line starts, given a line end at `end`; a CR at the very end may pair with a later LF. */
  private afterLineEnd(text: string, end: number, len: number): number {
    if (text.charCodeAt(end) === LF) return end + 1
    if (end + 1 < len) return text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
    this.crPending = true
    return len
  }

  /** Keep the unterminated end of a string chunk for the next one, within the bound. */
  private carry(text: string, pos: number, len: number): void {
    if (this.lineOverflow) return
    const size = this.pending.length + (len - pos) + this.data.length
    if (size > this.max) {
      this.overflowLine(size)
      return
    }
    this.pending =
      this.pending.length === 0 ? text.slice(pos, len) : this.pending + text.slice(pos, len)
  }

  /** Process one line, given as `text[start, end)` (spec: "process the field"). */
  private line(text: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch()
      return
    }
    const c = text.charCodeAt(start)
    if (c === 100 /* d */) {
      if (
        text.charCodeAt(start + 4) === COLON &&
        text.charCodeAt(start + 1) === 97 /* a */ &&
        text.charCodeAt(start + 2) === 116 /* t */ &&
        text.charCodeAt(start + 3) === 97 /* a */ &&
        start + 4 < end
      ) {
        const vs = text.charCodeAt(start + 5) === SPACE && start + 5 < end ? start + 6 : start + 5
        this.appendData(text.slice(vs, end))
        return
      }
    } else if (c === 105 /* i */) {
      if (text.charCodeAt(start + 1) === 100 /* d */ && text.charCodeAt(start + 2) === COLON) {
        if (start + 2 < end) {
          const vs = text.charCodeAt(start + 3) === SPACE && start + 3 < end ? start + 4 : start + 3
          this.setId(text.slice(vs, end))
          return
        }
      }
    } else if (c === 101 /* e */) {
      if (
        text.charCodeAt(start + 5) === COLON &&
        start + 5 < end &&
        text.charCodeAt(start + 1) === 118 /* v */ &&
        text.charCodeAt(start + 2) === 101 /* e */ &&
        text.charCodeAt(start + 3) === 110 /* n */ &&
        text.charCodeAt(start + 4) === 116 /* t */
      ) {
        const vs = text.charCodeAt(start + 6) === SPACE && start + 6 < end ? start + 7 : start + 6
        if (!this.skipping) this.eventType = text.slice(vs, end)
        return
      }
    } else if (c === COLON) {
      // A comment. The spec ignores it; we report it (heartbeats are comments).
      if (this.cb.onComment) {
        const vs = start + 1 < end && text.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1
        this.cb.onComment(text.slice(vs, end))
      }
      return
    }
    // The general case: the field name is everything before the first colon
    // (or the whole line when there is none, with an empty value).
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
        this.setId(value)
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

  private setId(value: string): void {
    // An id containing NULL is ignored (spec). (A loop: ids are short, and
    // `indexOf` costs more to call than to run on them.)
    for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 0) return
    this.idBuffer = value
  }

  private appendData(value: string): void {
    if (this.skipping) return
    if (this.hasData) {
      const size = this.data.length + 1 + value.length + this.bufLen
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
          `An event exceeded maxEventSize (${this.max}); it was skipped up to the next blank line. ` +
            'Raise `maxEventSize` if events this large are expected.',
          { maxEventSize: this.max, size },
        ),
      )
    }
    this.data = ''
    this.hasData = false
    this.eventType = ''
  }

  /** A blank line: commit the id, then dispatch the event if it has data (spec: "dispatch the event"). */
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
    this.onEvent(
      retry === undefined
        ? { id: this.committedId, event, data }
        : { id: this.committedId, event, data, retry },
    )
  }
}

/**
 * Where the bytes `b[from, n)` stop being decodable now: the start of a
 * multi-byte sequence cut short by the end of the chunk, or `n`. At that
 * point a UTF-8 decoder is always back in its initial state (the byte there
 * is not a continuation byte, so whatever came before it is either complete
 * or already an error), so decoding up to it now and the rest later gives
 * exactly what decoding everything at once would, U+FFFD included.
 */
function incompleteFrom(b: Uint8Array, from: number, n: number): number {
  for (let i = n - 1; i >= from && i >= n - 3; i--) {
    const c = b[i]
    if (c < 0x80) return n
    if (c >= 0xc0) {
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2
      return n - i < need ? i : n
    }
  }
  return n
}

function hasNul(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 0) return true
  return false
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

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object'
  return typeof value
}
