/**
 * The simulated model behind `POST /chat`: a deterministic answer per
 * message, produced word by word and never held whole.
 *
 * An answer of `tokens=100000` used to be built as an array before its first
 * token went out (~1 MB per run, for a stranger to multiply: issue 17 row 1).
 * Here every token is computed from its index as it is produced: the first
 * sentence echoes the message, then sentences are drawn from a pool by a hash
 * of the message and the sentence's number, never the same one twice in a row.
 * A token is a whole word with its trailing space (the last one without), so
 * an answer cut at any count still ends on a word boundary.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export type ChatMode = 'chars' | 'words'

/** What the model needs to know of a request. */
export interface ModelParams {
  message: string
  mode: ChatMode
  /** Words mode: exactly this many tokens (default: the first sentences, `answerFor`). */
  tokens?: number
  /** Pause before each token (ms). */
  delay: number
  /** Throw after this many tokens. */
  fail?: number
}

/** The answer's second sentence, and the pool every later sentence is drawn from. */
const SENTENCES = [
  'Server-Sent Events send one set of HTTP headers per stream, then only small event frames.',
  'An event stream is plain text, yet JSON and base64 envelopes carry any structure or bytes.',
  'A parser that buffers partial lines never loses or glues events, however the bytes are chunked.',
  'Reverse proxies must not buffer an event stream; X-Accel-Buffering: no tells nginx so.',
  'Each event may carry an id, and a client that reconnects sends the last one it saw.',
  'The server then replays what the client missed before it follows the stream live.',
  'A comment line every fifteen seconds keeps idle proxies from closing the connection.',
  'The retry field tells the browser how long to wait before it reconnects.',
  'Unlike a WebSocket, an event stream flows one way and rides on ordinary HTTP.',
  'HTTP/2 lets one connection carry many streams, so the old six-connection limit fades away.',
  'A slow reader is cut once it falls too far behind, and it resumes from its last id.',
  'Tokens of a long answer arrive as they are generated, so the first words show at once.',
  'A resumable answer keeps running when its tab closes, and a reload picks it up again.',
  'The browser decodes the stream as UTF-8, even when a character is split across packets.',
  'Events can be named, so one stream can carry tokens, progress and a final summary.',
  'A hub fans each published event out to every subscriber of its topic.',
  'With Redis behind it, any node can replay a stream that another node produced.',
  'Backpressure matters: a producer that outruns its readers must wait or drop them.',
  'Stopping an answer early is one DELETE on the URL the response named.',
  'Every stream ends in a way the client can tell apart: done, stopped, failed or lost.',
]

/** FNV-1a of the message: the seed of its answer. */
function hashOf(message: string): number {
  let h = 2166136261
  for (let i = 0; i < message.length; i++) h = Math.imul(h ^ message.charCodeAt(i), 16777619)
  return h >>> 0
}

/** A well-mixed 32-bit value of (seed, n) (a finaliser of murmur3). */
function mix(seed: number, n: number): number {
  let h = Math.imul(seed ^ Math.imul(n + 1, 0x9e3779b1), 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The deterministic answer text for a message (same message, same answer): its first two sentences. */
export function answerFor(message: string): string {
  const shown = message.trim() === '' ? 'an empty message' : `"${message.trim()}"`
  return `You said ${shown}. ${SENTENCES[hashOf(message) % SENTENCES.length]}`
}

/** The words of a text, each with its trailing whitespace. */
function wordsOf(text: string): string[] {
  return text.match(/\S+\s*/g) ?? []
}

/** The pool's sentences as words, split once. */
const SENTENCE_WORDS = SENTENCES.map((s) => wordsOf(`${s} `))

/**
 * The words of an answer's sentences, a sentence at a time: `answerFor`'s,
 * then one from the pool per number, chosen by (message, number), never the
 * previous one again. Each word has a trailing space.
 */
function* sentenceWords(message: string): Generator<readonly string[]> {
  const seed = hashOf(message)
  let previous = seed % SENTENCES.length
  yield wordsOf(`${answerFor(message)} `)
  for (let n = 1; ; n++) {
    let pick = mix(seed, n) % (SENTENCES.length - 1)
    if (pick >= previous) pick++ // skip the previous sentence: never twice in a row
    previous = pick
    yield SENTENCE_WORDS[pick]
  }
}

/**
 * The tokens of an answer, one at a time: characters (code points) of the
 * message in `chars` mode; in `words` mode `answerFor`'s words, or exactly
 * `tokens` words (each with one trailing space, the last without).
 * Memory: one sentence at a time, whatever `tokens` is.
 */
export function* answerTokens(
  params: Pick<ModelParams, 'message' | 'mode' | 'tokens'>,
): Generator<string> {
  if (params.mode === 'chars') {
    yield* params.message
    return
  }
  const count = params.tokens
  if (count === undefined) {
    yield* wordsOf(answerFor(params.message))
    return
  }
  let i = 0
  for (const words of sentenceWords(params.message)) {
    for (const word of words) {
      if (++i === count) {
        yield word.trimEnd()
        return
      }
      yield word
    }
  }
}

/**
 * The tokens of an answer as an array (tests, and short answers): exactly
 * what `answerTokens` produces. The model itself never builds it.
 */
export function tokenize(params: Pick<ModelParams, 'message' | 'mode' | 'tokens'>): string[] {
  return [...answerTokens(params)]
}

/**
 * The simulated model: yields tokens, one per `delay` ms, and stops as soon
 * as `signal` aborts (the pause is cancelled, not waited out).
 */
export async function* simulateModel(
  params: ModelParams,
  signal: AbortSignal,
): AsyncGenerator<string> {
  let i = 0
  for (const token of answerTokens(params)) {
    if (params.fail !== undefined && i === params.fail) {
      throw new Error(`simulated model failure after ${i} tokens`)
    }
    if (params.delay > 0) await sleep(params.delay, undefined, { signal })
    // With no delay, still let other connections run now and then.
    else if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve))
    signal.throwIfAborted()
    i++
    yield token
  }
  if (params.fail !== undefined && params.fail >= i) {
    throw new Error(`simulated model failure after ${i} tokens`)
  }
}
