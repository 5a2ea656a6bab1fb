/**
 * A streaming parser for `text/event-stream`, following the WHATWG HTML
 * standard, §9.2.6 "Interpreting an event stream", exactly and under any
 * chunking. https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 *
 * Bytes become text in `utf8.ts` (decoding, a character cut by a chunk's
 * end, the leading BOM, lines fed one byte at a time). Here, text becomes
 * events. Design notes (the hot path is here, so the reasons are written down):
 *
 * - Line ends: one search for CR per piece of text. None is the common case;
 *   otherwise one native `replace` makes every CRLF and lone CR an LF, so
 *   there is one line loop, and it splits on LF only.
 * - Lines are found with `indexOf` on the decoded text, each character
 *   searched once; a partial line is kept as a string that grows by `+=`
 *   (a V8 rope: O(1) appends, one O(N) flatten), never re-searched.
 * - One line loop (`lines`, the hot loop), holding the one field recogniser
 *   (char codes, never a sliced-out name) with the event state in locals; a
 *   blank line is recognised by its first character and goes to the one
 *   `dispatch()`. The recogniser stays inline: as a function returning the
 *   field's kind, it cost ~5% on token streams (V8 does not thread the
 *   branches through the returned value).
 */
import { SluiceError } from './errors.js'
import type { EventSourceMessage } from './types.js'
import { type TextSink, Utf8Input } from './utf8.js'

const LF = 10
const CR = 13
/** CRLF or a lone CR: a line end, made an LF before lines are split. */
const LINE_ENDS = /\r\n?/g
const SPACE = 32
const COLON = 58

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

/**
 * Where the value starts, for a name ending at `nameEnd`: after the colon and
 * one optional space. A name without a colon (it ends the line) gives a start
 * past `end`, and `text.slice(start, end)` is then `''`: no colon, no value.
 */
function valueStart(text: string, nameEnd: number): number {
  return text.charCodeAt(nameEnd + 1) === SPACE ? nameEnd + 2 : nameEnd + 1
}

class Parser implements EventStreamParserHandle, TextSink {
  private readonly cb: ParserCallbacks
  private readonly onEvent: (event: EventSourceMessage) => void
  private readonly max: number
  private readonly input: Utf8Input

  /** The unterminated line, decoded (it comes before the bytes `input` holds). */
  private pending = ''
  /** The current line grew past the bound and is being discarded up to its end. */
  private lineOverflow = false
  /** The last line ended with a CR at the end of a chunk: an LF starting the next one belongs to it. */
  private crPending = false
  /** The text being processed may hold U+0000 (only then is an `id` searched for it). */
  private maybeNul = true

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
    this.input = new Utf8Input(this)
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
      this.input.string(chunk)
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
    this.input.bytes(chunk)
  }

  end(): void {
    // An unterminated line or event is discarded (spec: "any pending data must be discarded").
    this.reset()
  }

  reset(): void {
    this.epoch++
    this.input.reset()
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

  /** (`TextSink`) How many undecoded bytes the unterminated line may hold, within the bound. */
  room(held: number): number {
    if (this.lineOverflow) return -1
    const room = this.max - this.pending.length - this.data.length
    if (held > room) {
      this.overflowLine(held + this.pending.length + this.data.length)
      return -1
    }
    return room
  }

  /** (`TextSink`) Split decoded text into lines (CRLF, LF or CR) and process each. */
  text(text: string, ascii: boolean): void {
    let pos = 0
    if (this.crPending) {
      // The last text ended with a CR: an LF starting this one belongs to it.
      this.crPending = false
      if (text.charCodeAt(0) === LF) pos = 1
    }
    // One search for CR over the whole text: none is the common case. Else
    // every line end becomes an LF (one native pass), and a CR at the very
    // end may pair with an LF starting the next text.
    if (text.indexOf('\r', pos) !== -1) {
      if (text.charCodeAt(text.length - 1) === CR) this.crPending = true
      text = text.replace(LINE_ENDS, '\n')
    }
    const len = text.length
    if (pos < len && (this.pending.length > 0 || this.lineOverflow)) {
      pos = this.finishPending(text, pos, len)
      if (pos < 0) return
    }
    // NULL is rare: one search of the whole text spares a check of every id.
    // Only for text decoded from ASCII: V8 searches two-byte strings for
    // U+0000 slowly (every ASCII character has a zero byte).
    this.maybeNul = !ascii || text.indexOf('\u0000', pos) !== -1
    pos = this.lines(text, pos, len, false)
    if (pos >= 0 && pos < len) this.carry(text, pos, len)
  }

  /**
   * Finish the line carried over from earlier text. Returns where the next
   * line starts, or -1 when the line does not end in this text either (or a
   * callback reset the parser).
   */
  private finishPending(text: string, pos: number, len: number): number {
    const end = text.indexOf('\n', pos)
    if (end === -1) {
      this.carry(text, pos, len)
      return -1
    }
    if (this.lineOverflow) {
      this.lineOverflow = false
      this.pending = ''
    } else {
      // The whole line (without its LF), through the one line loop. Often
      // `pending` alone, as is: a long line needs no copy.
      const line = this.pending + text.slice(pos, end)
      this.pending = ''
      this.maybeNul = true
      if (this.lines(line, 0, line.length, true) < 0) return -1
    }
    return end + 1
  }

  /**
   * The hot loop: every LF-ended line of the text. It is one function over
   * 80 lines for speed (bench/parse.bench.ts): the event state stays in
   * locals and `data`, `id` and `event` (every line of a token stream) are
   * applied inline; `dispatch()` and the rare fields are methods, with the
   * state saved around them. A blank line is recognised by its first
   * character, so an event costs one `indexOf` per non-blank line. With
   * `oneLine`, the text is a single line without its LF (the end of a line
   * carried over from earlier text). Returns where the unterminated rest
   * starts (past `len` after `oneLine`), or -1 if a callback called
   * `reset()`/`end()` (the rest of the text belongs to no stream).
   */
  private lines(text: string, pos: number, len: number, oneLine: boolean): number {
    const epoch = this.epoch
    const max = this.max
    const maybeNul = this.maybeNul
    // (Read once per text, not per event: a property load per event showed in the bench.)
    const onId = this.cb.onId
    let data = this.data
    let hasData = this.hasData
    let eventType = this.eventType
    let idBuffer = this.idBuffer
    while (pos < len) {
      const c = text.charCodeAt(pos)
      if (c === LF) {
        // A blank line: dispatch (spec).
        pos++
        idBuffer = this.dispatch(data, hasData, eventType, idBuffer, onId)
        if (this.epoch !== epoch) return -1
        data = ''
        hasData = false
        eventType = ''
        continue
      }
      // (`oneLine`: the text is one line without its LF, maybe long: not searched again.)
      const end = oneLine ? len : text.indexOf('\n', pos)
      if (end === -1) break
      // The field recogniser (spec: "process the field"), the only one: the
      // name is everything before the first colon, or the whole line. It is
      // compared by char codes, never sliced out; a name longer than the line
      // fails on the line end at `end` (or past the text's end), so no check
      // needs a bound. Each test: first character, name end, the rest.
      if (
        c === 100 /* d */ &&
        (text.charCodeAt(pos + 4) === COLON || pos + 4 === end) &&
        text.charCodeAt(pos + 1) === 97 /* a */ &&
        text.charCodeAt(pos + 2) === 116 /* t */ &&
        text.charCodeAt(pos + 3) === 97 /* a */
      ) {
        const value = text.slice(valueStart(text, pos + 4), end)
        if (!this.skipping) {
          const size = hasData ? data.length + 1 + value.length : value.length
          if (size > max) {
            this.saveState(data, hasData, eventType, idBuffer)
            this.tooLarge(size)
            if (this.epoch !== epoch) return -1
            data = this.data
            hasData = this.hasData
            eventType = this.eventType
            idBuffer = this.idBuffer
          } else if (hasData) {
            data += '\n' + value
          } else {
            data = value
            hasData = true
          }
        }
      } else if (
        c === 105 /* i */ &&
        (text.charCodeAt(pos + 2) === COLON || pos + 2 === end) &&
        text.charCodeAt(pos + 1) === 100 /* d */
      ) {
        const vs = valueStart(text, pos + 2)
        // An id containing NULL is ignored (spec).
        if (!maybeNul || !hasNul(text, vs, end)) idBuffer = text.slice(vs, end)
      } else if (
        c === 101 /* e */ &&
        (text.charCodeAt(pos + 5) === COLON || pos + 5 === end) &&
        text.charCodeAt(pos + 1) === 118 /* v */ &&
        text.charCodeAt(pos + 2) === 101 /* e */ &&
        text.charCodeAt(pos + 3) === 110 /* n */ &&
        text.charCodeAt(pos + 4) === 116 /* t */
      ) {
        if (!this.skipping) {
          const vs = valueStart(text, pos + 5)
          // The same type on every event is common: reuse the string instead of allocating.
          eventType =
            end - vs === eventType.length && text.startsWith(eventType, vs)
              ? eventType
              : text.slice(vs, end)
        }
      } else if (
        (c === 114 /* r */ &&
          (text.charCodeAt(pos + 5) === COLON || pos + 5 === end) &&
          text.startsWith('retry', pos)) ||
        c === COLON
      ) {
        // `retry` or a comment: rare, so a method, with the state saved around it.
        this.saveState(data, hasData, eventType, idBuffer)
        if (c === COLON) this.comment(text.slice(valueStart(text, pos), end))
        else this.setRetry(text.slice(valueStart(text, pos + 5), end))
        if (this.epoch !== epoch) return -1
        idBuffer = this.idBuffer
      }
      // (Unknown fields are ignored, spec.)
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

  /** A `retry` field's value: digits only, else ignored (spec). */
  private setRetry(value: string): void {
    if (!isDigits(value)) return
    const ms = Number.parseInt(value, 10)
    this.retry = ms
    this.cb.onRetry?.(ms)
  }

  /** A comment line's text. The spec ignores comments; we report them (heartbeats are comments). */
  private comment(value: string): void {
    this.cb.onComment?.(value)
  }

  /** Keep the unterminated end of the text for the next piece, within the bound. */
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

  /** The unterminated line outgrew the bound: drop it (and skip its event). */
  private overflowLine(size: number): void {
    this.input.clear()
    this.pending = ''
    this.lineOverflow = true
    this.tooLarge(size)
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

  /**
   * A blank line (spec: "dispatch the event"): commit the id, then hand the
   * event on if it has data. The event state comes as arguments (the hot loop
   * keeps it in locals, and clears it after), with `onId`; returns the id
   * buffer, which a callback may have set through `lastEventId`.
   */
  private dispatch(
    data: string,
    hasData: boolean,
    eventType: string,
    idBuffer: string,
    onId: ParserCallbacks['onId'],
  ): string {
    if (onId === undefined) {
      // (Comparing two ids costs more than storing one.)
      this.committedId = idBuffer
    } else if (idBuffer !== this.committedId) {
      const epoch = this.epoch
      this.committedId = idBuffer
      // The callback may read or set `lastEventId`, or call `reset()`.
      this.saveState(data, hasData, eventType, idBuffer)
      onId(idBuffer)
      if (this.epoch !== epoch) return this.idBuffer
      idBuffer = this.idBuffer
    }
    const retry = this.retry
    this.retry = undefined
    if (!hasData || this.skipping) {
      this.skipping = false
      return idBuffer
    }
    this.idBuffer = idBuffer
    this.onEvent(
      retry === undefined
        ? { id: idBuffer, event: eventType, data }
        : { id: idBuffer, event: eventType, data, retry },
    )
    return this.idBuffer
  }
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
