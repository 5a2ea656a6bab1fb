/** Test helpers: run the real parser over a stream cut into pieces. */
import {
  createParser,
  type EventSourceMessage,
  type ParserCallbacks,
  type SluiceError,
} from '../../src/protocol/index.js'
import type { ParseResult } from './reference.js'

export interface Collected extends ParseResult {
  /** Every `onId` call, in order. */
  ids: string[]
  errors: SluiceError[]
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/**
 * Feed the chunks to a fresh parser, then `end()`. With `minimal`, only
 * `onEvent` and `onError` are given (the parser has faster paths when the
 * other callbacks are absent; `retries`, `comments` and `ids` stay empty).
 */
export function collect(
  chunks: Iterable<Uint8Array | string>,
  options: Omit<ParserCallbacks, 'onEvent'> & { minimal?: boolean } = {},
): Collected {
  const out: Collected = {
    events: [],
    lastEventId: '',
    retries: [],
    comments: [],
    ids: [],
    errors: [],
  }
  const { minimal, ...rest } = options
  const parser = createParser(
    minimal
      ? {
          ...rest,
          onEvent: (e: EventSourceMessage) => out.events.push(e),
          onError: (err) => out.errors.push(err),
        }
      : {
          ...rest,
          onEvent: (e: EventSourceMessage) => out.events.push(e),
          onRetry: (ms) => out.retries.push(ms),
          onComment: (c) => out.comments.push(c),
          onId: (id) => out.ids.push(id),
          onError: (err) => out.errors.push(err),
        },
  )
  for (const chunk of chunks) parser.feed(chunk)
  parser.end()
  out.lastEventId = parser.lastEventId
  return out
}

/** Cut `bytes` at the given offsets (any order, duplicates allowed). */
export function cutAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => Math.max(0, Math.min(bytes.length, o))))].sort(
    (a, b) => a - b,
  )
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p))
    prev = p
  }
  return out
}

/** One byte at a time, through a single reused buffer (the parser must copy what it keeps). */
export function* byteByByte(bytes: Uint8Array): Generator<Uint8Array> {
  const one = new Uint8Array(1)
  for (const b of bytes) {
    one[0] = b
    yield one
  }
}

/**
 * The ways every conformance case is fed: whole (bytes and text), one byte at
 * a time, one UTF-16 code unit at a time, and cut in two at every byte.
 */
export function chunkings(
  stream: Uint8Array | string,
): { name: string; chunks: () => Iterable<Uint8Array | string> }[] {
  const bytes = typeof stream === 'string' ? utf8(stream) : stream
  const ways: { name: string; chunks: () => Iterable<Uint8Array | string> }[] = [
    { name: 'whole bytes', chunks: () => [bytes] },
    { name: 'byte by byte', chunks: () => byteByByte(bytes) },
  ]
  if (typeof stream === 'string') {
    ways.push({ name: 'whole string', chunks: () => [stream] })
    ways.push({ name: 'char by char', chunks: () => stream.split('') })
  }
  for (let i = 1; i < bytes.length; i++) {
    ways.push({
      name: `bytes cut at ${i}`,
      chunks: () => [bytes.subarray(0, i), bytes.subarray(i)],
    })
  }
  return ways
}
