/**
 * Shared parts for the `sluice serve` tests: the app in-process on a free
 * loopback port, or the real CLI as a child process.
 */
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { createServeApp, listen, type ServeApp, shutdown } from '../../src/cli/serve.js'
import { freePort, start, type Started, waitForPort } from '../helpers/external.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface RunningApp {
  app: ServeApp
  server: Server
  url: string
  port: number
  close: () => Promise<void>
}

/** `createServeApp()` listening on 127.0.0.1 and a free port. */
export async function startApp(): Promise<RunningApp> {
  const logs: string[] = []
  const app = createServeApp({ log: (line) => logs.push(line) })
  const server = await listen(app, '127.0.0.1', 0)
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    app,
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => shutdown(app, server, 500),
  }
}

/** `sluice serve` as a real child process (run from source with tsx). */
export async function startCli(): Promise<{ proc: Started; url: string; port: number }> {
  const port = await freePort()
  const proc = start(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--host', '127.0.0.1', '--port', String(port)],
    { cwd: ROOT },
  )
  try {
    await waitForPort(port, 20_000)
  } catch (err) {
    await proc.stop()
    throw new Error(`sluice serve did not start: ${proc.output()}`, { cause: err })
  }
  return { proc, url: `http://127.0.0.1:${port}`, port }
}

export interface Timed<T> {
  at: number
  value: T
}

/** POST a chat message with fetch; parse the answer with sluice's parser, timing each event. */
export async function postChat(
  url: string,
  body: unknown,
  init: { signal?: AbortSignal; onEvent?: (e: EventSourceMessage) => void } = {},
): Promise<{
  status: number
  headers: Headers
  events: Timed<EventSourceMessage>[]
  text: string
}> {
  const t0 = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  })
  const events: Timed<EventSourceMessage>[] = []
  const parser = createParser({
    onEvent: (e) => {
      events.push({ at: performance.now() - t0, value: e })
      init.onEvent?.(e)
    },
  })
  let text = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const s = decoder.decode(chunk, { stream: true })
    text += s
    parser.feed(s)
  }
  return { status: res.status, headers: res.headers, events, text }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<number> {
  const t0 = performance.now()
  while (!check()) {
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`condition not met within ${timeoutMs} ms`)
    await sleep(5)
  }
  return performance.now() - t0
}
