/**
 * `sluice listen URL`: an SSE-aware curl. Prints events as they arrive
 * (data only, `--json` one object per line, or `--raw` bytes); on a terminal
 * it colours event names and ids and reports the connection state on stderr.
 * Exit status: 0 on a clean end (or `--max-events` reached, or a 204),
 * 1 on a final error, 2 on a usage error, 124 when `--timeout` expires.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { fetchEventSource } from '../client/index.js'
import type { EventSourceMessage } from '../protocol/types.js'

const HELP = `Usage: sluice listen URL [options]

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
  -h, --help

Exit status: 0 clean end, 1 final error, 2 usage error, 124 timeout.`

const C = {
  dim: '\x1b[2m',
  cyan: '\x1b[36m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  red: '\x1b[31m',
  off: '\x1b[0m',
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (err) {
    process.stderr.write(`sluice listen: ${(err as Error).message}\n\n${HELP}\n`)
    return 2
  }
  if (parsed.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const o = parsed
  const tty = process.stdout.isTTY === true
  const stateTty = process.stderr.isTTY === true
  const paint = (c: keyof typeof C, s: string) => (tty ? C[c] + s + C.off : s)
  const state = (c: keyof typeof C, s: string) => {
    if (stateTty) process.stderr.write(C[c] + '* ' + s + C.off + '\n')
  }

  const ctrl = new AbortController()
  let count = 0
  let exit = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  if (o.timeout !== undefined) {
    timer = setTimeout(() => {
      exit = 124
      process.stderr.write(
        `sluice listen: no clean end within ${o.timeout} s (--timeout); giving up.\n`,
      )
      ctrl.abort()
    }, o.timeout * 1000)
  }
  const onSigint = () => ctrl.abort()
  process.once('SIGINT', onSigint)
  // `sluice listen URL | head -3`: the reader left, so stop listening, quietly.
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    ctrl.abort()
  }
  process.stdout.on('error', onStdoutError)

  const print = (ev: EventSourceMessage) => {
    if (o.raw || process.stdout.destroyed) return
    if (o.json) {
      process.stdout.write(
        JSON.stringify({ event: ev.event || 'message', id: ev.id, data: ev.data }) + '\n',
      )
    } else if (tty) {
      const head =
        paint('cyan', ev.event || 'message') + (ev.id ? ' ' + paint('dim', '#' + ev.id) : '')
      process.stdout.write(head + ' ' + ev.data + '\n')
    } else {
      process.stdout.write(ev.data + '\n')
    }
  }

  const rawFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    if (!res.body || !res.ok) return res
    const [mine, theirs] = res.body.tee()
    void (async () => {
      const reader = theirs.getReader()
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          process.stdout.write(value)
        }
      } catch {
        // the client side ends this copy on abort
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

  state('dim', `connecting to ${o.url}`)
  try {
    await fetchEventSource(o.url, {
      method: o.method,
      headers: o.headers,
      body: o.body,
      signal: ctrl.signal,
      lastEventId: o.lastEventId,
      reconnectOnEnd: o.follow ?? false,
      retry: o.noRetry ? { maxRetries: 0 } : undefined,
      fetch: o.raw ? rawFetch : undefined,
      onopen: async (res) => {
        state('green', `open: ${res.status} ${res.headers.get('content-type') ?? ''}`)
      },
      onmessage: (ev) => {
        if (ctrl.signal.aborted) return
        print(ev)
        if (o.maxEvents !== undefined && ++count >= o.maxEvents) ctrl.abort()
      },
      onretry: (r) => {
        const why = r.error instanceof Error ? r.error.message : 'the stream ended'
        state('yellow', `retrying in ${(r.delay / 1000).toFixed(1)} s (${why})`)
      },
      onclose: () => state('dim', 'the server ended the stream'),
    })
  } catch (err) {
    const e = err as Error & { cause?: unknown }
    process.stderr.write(`sluice listen: ${e.message}\n`)
    exit = 1
  } finally {
    if (timer) clearTimeout(timer)
    process.removeListener('SIGINT', onSigint)
    process.stdout.removeListener('error', onStdoutError)
  }
  return exit
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
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
    },
  })
  if (values.help) return { help: true as const, url: '' } as any
  if (positionals.length !== 1) throw new Error('expected exactly one URL.')
  const url = positionals[0]
  try {
    new URL(url)
  } catch {
    throw new Error(`'${url}' is not an absolute URL (try http://127.0.0.1:8080/events).`)
  }
  const headers = new Headers()
  for (const h of values.header ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) throw new Error(`-H '${h}': a header is 'Name: value'.`)
    headers.append(h.slice(0, i).trim(), h.slice(i + 1).trim())
  }
  let body: string | undefined
  if (values.data !== undefined) {
    body = values.data.startsWith('@') ? readFileSync(values.data.slice(1), 'utf8') : values.data
    if (!headers.has('content-type') && /^\s*[[{]/.test(body))
      headers.set('content-type', 'application/json')
  }
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!(n > 0)) throw new Error(`--${name} takes a positive number, got '${v}'.`)
    return n
  }
  if (values.json && values.raw) throw new Error('--json and --raw are exclusive.')
  return {
    help: false as const,
    url,
    method: values.request ?? (body !== undefined ? 'POST' : 'GET'),
    headers,
    body,
    lastEventId: values['last-event-id'],
    json: values.json === true,
    raw: values.raw === true,
    maxEvents: num('max-events', values['max-events']),
    timeout: num('timeout', values.timeout),
    noRetry: values['no-retry'] === true,
    follow: values.follow === true ? true : undefined,
  }
}
