/**
 * `sluice listen URL`: an SSE-aware curl. Prints events as they arrive
 * (data only, `--json` one object per line, or `--raw` bytes). Each retry
 * and its cause go to stderr, piped or not; on a terminal it also colours
 * event names and ids and reports the connection state.
 * Exit status: 0 on a clean end (or `--max-events` reached, or a 204),
 * 1 on a final error, 2 on a usage error, 124 when `--timeout` expires,
 * 130 on Ctrl-C.
 */
import { readFileSync } from 'node:fs'
import { fetchEventSource } from '../client/index.js'
import { createParser } from '../protocol/parser.js'
import { isSluiceError } from '../protocol/errors.js'
import type { EventSourceMessage } from '../protocol/types.js'
import { EXIT_STATUS, UsageError, parseFlags, positiveFlag, intFlag, urlArg } from './args.js'

export const HELP = `Usage: sluice listen URL [options]

Print the event stream at URL as it arrives: the data of each event, one
JSON object per event, or the raw bytes. Reconnects (with backoff, resuming
from the last event id) after a network error or a 5xx, saying so on stderr.

Options:
  -X, --request METHOD      HTTP method (default GET, or POST with -d)
  -H, --header 'K: V'       a request header (repeatable)
  -d, --data BODY | @FILE   a request body (sent again on every retry); JSON gets
                            Content-Type: application/json unless -H sets one
      --last-event-id ID    resume after this event id
      --json                one JSON object per event per line: {"event","id","data"}
      --raw                 print the bytes of the stream as received
      --max-events N        exit 0 after N events
      --timeout S           give up after S seconds (exit 124)
      --no-retry            no reconnection: the first error is final
      --follow              reconnect after a clean end too (as EventSource does)
  -h, --help                this help

${EXIT_STATUS} 124: --timeout expired.`

const FLAGS = {
  request: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string', short: 'd' },
  'last-event-id': { type: 'string' },
  json: { type: 'boolean' },
  raw: { type: 'boolean' },
  'max-events': { type: 'string' },
  timeout: { type: 'string' },
  'no-retry': { type: 'boolean' },
  follow: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const C = {
  dim: '\x1b[2m',
  cyan: '\x1b[36m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  red: '\x1b[31m',
  off: '\x1b[0m',
}

type Colour = keyof typeof C
type Options = Exclude<ReturnType<typeof parse>, { help: true }>

export async function main(argv: string[]): Promise<number> {
  const o = parse(argv)
  if (o.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const out = output(o)
  const ctrl = new AbortController()
  const run = { exit: 0 }
  const release = watch(o, ctrl, run, out.report)
  let count = 0
  /** Count one event; at --max-events, stop. False once stopped (the event is not shown). */
  const counted = (): boolean => {
    if (ctrl.signal.aborted) return false
    if (o.maxEvents !== undefined && ++count >= o.maxEvents) ctrl.abort()
    return true
  }
  out.state('dim', `connecting to ${o.url}`)
  try {
    await fetchEventSource(o.url, {
      method: o.method,
      headers: o.headers,
      body: o.body,
      signal: ctrl.signal,
      lastEventId: o.lastEventId,
      reconnectOnEnd: o.follow ?? false,
      retry: o.noRetry ? { maxRetries: 0 } : undefined,
      fetch: o.raw ? rawFetch(counted, ctrl.signal) : undefined,
      onopen: async (res) => opened(res, out.state),
      onmessage: (ev) => {
        if (!o.raw && counted()) out.print(ev)
      },
      onretry: (r) => {
        const why = r.error === undefined ? 'the stream ended' : describeError(r.error)
        const delay = (r.delay / 1000).toFixed(1)
        out.report('yellow', `retrying in ${delay} s (attempt ${r.attempt}): ${why}`)
      },
      onclose: () => out.state('dim', 'the server ended the stream'),
    })
  } catch (err) {
    out.report('red', describeError(err))
    run.exit = 1
  } finally {
    release()
  }
  return run.exit
}

/** Where events, the connection state and the reports go, coloured on a terminal. */
function output(o: Options) {
  const tty = process.stdout.isTTY === true
  const stateTty = process.stderr.isTTY === true
  const paint = (c: Colour, s: string) => (tty ? C[c] + s + C.off : s)
  return {
    /** The connection's state: on a terminal only (piped stderr stays quiet while all is well). */
    state(c: Colour, s: string) {
      if (stateTty) process.stderr.write(C[c] + '* ' + s + C.off + '\n')
    },
    /** A retry or an error: always, coloured on a terminal. */
    report(c: Colour, s: string) {
      process.stderr.write(stateTty ? C[c] + '* ' + s + C.off + '\n' : `sluice listen: ${s}\n`)
    },
    print(ev: EventSourceMessage) {
      if (process.stdout.destroyed) return
      if (o.json) {
        const line = { event: ev.event || 'message', id: ev.id, data: ev.data }
        process.stdout.write(JSON.stringify(line) + '\n')
      } else if (tty) {
        const head =
          paint('cyan', ev.event || 'message') + (ev.id ? ' ' + paint('dim', '#' + ev.id) : '')
        process.stdout.write(head + ' ' + ev.data + '\n')
      } else {
        process.stdout.write(ev.data + '\n')
      }
    },
  }
}

/**
 * What stops the listening besides the stream: --timeout (124), Ctrl-C (130),
 * a reader that left (`| head -3`: quietly, 0). Returns the cleanup.
 */
function watch(
  o: Options,
  ctrl: AbortController,
  run: { exit: number },
  report: (c: Colour, s: string) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  if (o.timeout !== undefined) {
    timer = setTimeout(() => {
      run.exit = 124
      report('red', `no clean end within ${o.timeout} s (--timeout); giving up.`)
      ctrl.abort()
    }, o.timeout * 1000)
  }
  const onSigint = () => {
    run.exit = 130
    ctrl.abort()
  }
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    ctrl.abort()
  }
  process.once('SIGINT', onSigint)
  process.stdout.on('error', onStdoutError)
  return () => {
    if (timer) clearTimeout(timer)
    process.removeListener('SIGINT', onSigint)
    process.stdout.removeListener('error', onStdoutError)
  }
}

/** The answer's state line: green "open" only for an event stream, red otherwise. */
function opened(res: Response, state: (c: Colour, s: string) => void): void {
  const type = res.headers.get('content-type') ?? ''
  if (res.status === 200 && /^text\/event-stream\b/i.test(type)) {
    state('green', `open: ${res.status} ${type}`)
  } else {
    state('red', `answered ${res.status}${res.statusText ? ' ' + res.statusText : ''} ${type}`)
  }
}

/**
 * What went wrong, with the cause a bare `fetch failed` hides
 * (`connect ECONNREFUSED 127.0.0.1:9`, `getaddrinfo ENOTFOUND host`).
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (isSluiceError(err)) return err.message
  const causes: string[] = []
  let cause = (err as { cause?: unknown }).cause
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    const inner = cause instanceof AggregateError ? cause.errors[0] : undefined
    const code = (cause as NodeJS.ErrnoException).code
    const text = cause.message || (inner instanceof Error ? inner.message : '') || code || ''
    if (text && !causes.includes(text)) causes.push(text)
    cause = (cause as { cause?: unknown }).cause ?? inner
  }
  return [err.message, ...causes].join(': ')
}

/**
 * `--raw`: a fetch whose answer is also copied to stdout byte for byte, line
 * by line through a parser of its own, so that `--max-events N` stops the
 * copy right after the blank line that ends event N (a chunk may hold many).
 */
function rawFetch(counted: () => boolean, signal: AbortSignal): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init)
    if (!res.body || !res.ok) return res
    const [mine, theirs] = res.body.tee()
    let open = true
    const parser = createParser({
      onEvent: () => {
        // Its lines are out already; at --max-events (or Ctrl-C) nothing more is.
        counted()
        if (signal.aborted) open = false
      },
    })
    void (async () => {
      const reader = theirs.getReader()
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          for (const line of lines(value)) {
            if (!open || process.stdout.destroyed) return
            process.stdout.write(line)
            parser.feed(line)
          }
        }
      } catch {
        // the client side ends this copy on abort
      } finally {
        reader.cancel().catch(() => {})
      }
    })()
    const copy = new Response(mine, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    })
    Object.defineProperty(copy, 'url', { value: res.url })
    return copy
  }
}

/** A chunk cut after each line end (LF, CRLF, or a lone CR). */
function* lines(chunk: Uint8Array): Generator<Uint8Array> {
  let start = 0
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i]
    if (b === 10 || (b === 13 && chunk[i + 1] !== 10)) {
      yield chunk.subarray(start, i + 1)
      start = i + 1
    }
  }
  if (start < chunk.length) yield chunk.subarray(start)
}

function parse(argv: string[]) {
  const { values, positionals } = parseFlags(argv, FLAGS)
  if (values.help) return { help: true as const }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'expected a URL.'
        : `expected one URL, got ${positionals.length} arguments.`,
    )
  }
  const url = urlArg('URL', positionals[0], 'http://127.0.0.1:8080/events?topic=news').href
  const headers = new Headers()
  for (const h of values.header ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) throw new UsageError(`-H '${h}': a header is 'Name: value'.`)
    headers.append(h.slice(0, i).trim(), h.slice(i + 1).trim())
  }
  let body: string | undefined
  if (values.data !== undefined) {
    body = values.data.startsWith('@') ? readBody(values.data.slice(1)) : values.data
    if (!headers.has('content-type') && /^\s*[[{]/.test(body))
      headers.set('content-type', 'application/json')
  }
  if (values.json && values.raw) throw new UsageError('--json and --raw are exclusive.')
  const maxEvents = values['max-events']
  const timeout = values.timeout
  return {
    help: false as const,
    url,
    method: values.request ?? (body !== undefined ? 'POST' : 'GET'),
    headers,
    body,
    lastEventId: values['last-event-id'],
    json: values.json === true,
    raw: values.raw === true,
    maxEvents: maxEvents === undefined ? undefined : intFlag('--max-events', maxEvents),
    timeout: timeout === undefined ? undefined : positiveFlag('--timeout', timeout),
    noRetry: values['no-retry'] === true,
    follow: values.follow === true ? true : undefined,
  }
}

/** `-d @FILE`, with a message naming the flag when the file cannot be read. */
function readBody(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new UsageError(`-d @${file}: cannot read the file (${why}).`)
  }
}
