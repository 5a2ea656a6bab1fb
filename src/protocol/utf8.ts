/**
 * UTF-8 chunks to text, for the parser (`parser.ts`): any split of the bytes
 * gives the text one decode of the whole stream would, U+FFFD for invalid
 * bytes included, and the stream's one leading BOM is dropped.
 *
 * Design notes (this is on the hot path, so the reasons are written down):
 *
 * - Bytes are decoded with non-streaming `TextDecoder.decode()` calls, each
 *   given bytes that end on a character boundary: a chunk is decoded up to
 *   its last whole character and a character it cuts (at most 3 bytes) is held
 *   back for the next chunk (`incompleteFrom`). The decoder keeps no state.
 *   On Node 20 the non-streaming decode of ASCII is ~5x faster than
 *   `decode(chunk, { stream: true })`; for text with multi-byte characters the
 *   streaming (ICU) call is faster, so `decode()` picks by what the previous
 *   chunk held.
 * - A line fed one byte at a time goes into a growable byte buffer: one store
 *   per byte and one decode at the end, so a 10 MB line fed byte by byte stays
 *   linear (no per-byte strings, no re-scanning).
 */

const LF = 10
const CR = 13
const BOM = 0xfeff

const EMPTY = new Uint8Array(0)

/** A byte buffer larger than this is released once its line is done. */
const KEEP_BUFFER = 64 * 1024

/** Where the decoded text goes (the parser). */
export interface TextSink {
  /** The next piece of text; `ascii`: it was decoded from ASCII bytes (a one-byte string). */
  text(text: string, ascii: boolean): void
  /**
   * How many undecoded bytes the current line may hold in all, asked when
   * `held` would be more than the last answer; -1 when `held` is too many:
   * the sink then drops the line (and calls `clear()`), and the bytes are not
   * kept. The answer holds until the next piece of text, `clear()` or `reset()`.
   */
  room(held: number): number
}

export class Utf8Input {
  private readonly sink: TextSink
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
  /** Bytes not decoded yet: a character cut by a chunk's end, or a line arriving one byte at a time. */
  private buf: Uint8Array = EMPTY
  /** How many bytes of `buf` are held. */
  held = 0
  /** The sink's last `room()` answer: bytes up to this many are kept without asking (one compare per byte). */
  private allowance = 0
  /** The first character of the stream was seen (and a BOM there dropped). */
  private started = false
  /** Bumped by `reset()`: a sink that resets the stream stops the chunk being processed. */
  private generation = 0

  constructor(sink: TextSink) {
    this.sink = sink
  }

  /** Already decoded text. Bytes held from byte feeding come first (mixing is allowed, if odd). */
  string(chunk: string): void {
    if (chunk.length === 0) return
    if (this.held > 0) {
      const generation = this.generation
      // (They may end inside a character; the non-streaming decode makes that U+FFFD.)
      const text = this.decoder.decode(this.buf.subarray(0, this.held))
      this.held = 0
      this.emit(text, false)
      if (this.generation !== generation) return
    }
    this.emit(chunk, false)
  }

  /** The next bytes of the stream, split anywhere. */
  bytes(chunk: Uint8Array): void {
    if (chunk.length === 1) {
      // Byte-at-a-time feeding: a byte that ends no line is one store. (This
      // method stays small so that it is inlined into `feed()`.)
      const b = chunk[0]
      if (b !== LF && b !== CR) {
        this.pushByte(b)
        return
      }
    }
    if (chunk.length > 0) this.chunk(chunk)
  }

  /** A chunk of more than one byte, or one line-ending byte. */
  private chunk(chunk: Uint8Array): void {
    const n = chunk.length
    const generation = this.generation
    let start = 0
    if (this.held > 0) {
      // Bytes held back (a character cut by the previous chunk, or a line fed
      // byte by byte) go first, with the continuation bytes that complete them.
      while (start < n && start < 3 && (chunk[start] & 0xc0) === 0x80) start++
      this.pushBytes(chunk, 0, start)
      if (this.generation !== generation) return // the sink reset the stream
      if (start === n && incompleteFrom(this.buf, 0, this.held) < this.held) return
      if (this.held > 0) {
        this.flushHeld()
        if (this.generation !== generation) return
      }
    }
    // Decode up to the last whole character; hold back a character the chunk cuts.
    const end = incompleteFrom(chunk, start, n)
    if (end > start) {
      const bytes = start === 0 && end === n ? chunk : chunk.subarray(start, end)
      const text = this.decode(bytes)
      this.emit(text, text.length === bytes.length)
      if (this.generation !== generation) return
    }
    if (end < n) this.pushBytes(chunk, end, n)
  }

  /** Drop the held bytes (the line they belong to is dropped). */
  clear(): void {
    this.held = 0
    this.allowance = 0
    if (this.buf.length > KEEP_BUFFER) this.buf = EMPTY
  }

  /** A new stream: nothing held, and a leading BOM is dropped again. */
  reset(): void {
    this.generation++
    this.multiByteDecoder.decode() // (holds nothing by construction; belt and braces)
    this.clear()
    this.started = false
  }

  private emit(text: string, ascii: boolean): void {
    if (text.length === 0) return
    if (!this.started) {
      this.started = true
      // One leading BOM is dropped (the spec's "UTF-8 decode"); any later one is data.
      if (text.charCodeAt(0) === BOM) {
        if (text.length === 1) return
        text = text.slice(1)
      }
    }
    this.sink.text(text, ascii)
    this.allowance = 0 // (the line and the event changed: ask again)
  }

  /** Decode and pass on the held bytes. */
  private flushHeld(): void {
    const held = this.buf.subarray(0, this.held)
    // Still cut short (the chunk went on with something else): an error,
    // U+FFFD now; the streaming decoder would hold the bytes back instead.
    const cut = incompleteFrom(held, 0, held.length) < held.length
    const text = cut ? this.decoder.decode(held) : this.decode(held)
    this.clear()
    this.emit(text, !cut && text.length === held.length)
  }

  /** Decode bytes that end on a character boundary (see `incompleteFrom`). */
  private decode(bytes: Uint8Array): string {
    const text = this.lastAscii
      ? this.decoder.decode(bytes)
      : this.multiByteDecoder.decode(bytes, { stream: true })
    // A stream's next chunk is usually like its last one; predicting costs nothing
    // (a native ASCII check would cost a pass over the bytes). Short pieces,
    // such as the end of a line begun in an earlier chunk, say too little.
    if (bytes.length >= 256) this.lastAscii = text.length === bytes.length
    return text
  }

  /** May the line hold `held` bytes? Asks the sink only past its last answer. */
  private fits(held: number): boolean {
    if (held <= this.allowance) return true
    const room = this.sink.room(held)
    this.allowance = Math.max(room, 0)
    return room >= 0
  }

  private pushByte(b: number): void {
    const len = this.held
    if (len >= this.allowance && !this.fits(len + 1)) return
    if (len === this.buf.length) this.grow(len + 1)
    this.buf[len] = b
    this.held = len + 1
  }

  private pushBytes(chunk: Uint8Array, from: number, to: number): void {
    const len = this.held
    const need = len + (to - from)
    if (!this.fits(need)) return
    if (need > this.buf.length) this.grow(need)
    if (to - from > 16) {
      this.buf.set(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to), len)
    } else {
      const buf = this.buf
      for (let i = from, o = len; i < to; i++, o++) buf[o] = chunk[i]
    }
    this.held = need
  }

  /** Amortised doubling: appending N bytes in any pieces costs O(N). */
  private grow(need: number): void {
    let cap = this.buf.length < 256 ? 256 : this.buf.length * 2
    while (cap < need) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.held))
    this.buf = next
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
export function incompleteFrom(b: Uint8Array, from: number, n: number): number {
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
