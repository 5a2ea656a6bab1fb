/**
 * The real `sluice serve` process: `curl -N` sees tokens as they are
 * produced, and SIGTERM stops accepting, ends open streams cleanly and exits.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { describeExternal, requireBinary } from '../helpers/external.js'
import { listenLoopback } from '../helpers/http.js'
import { ROOT, type SluiceProcess, startSluice } from '../helpers/serve.js'

describeExternal(['curl'], 'sluice serve (the process)', () => {
  let cli: SluiceProcess
  beforeAll(async () => {
    cli = await startSluice('serve', ['--host', '127.0.0.1'])
  })
  afterAll(() => cli.proc.stop())

  it('curl -N shows the tokens as they are produced, not at the end', async () => {
    const curl = requireBinary('curl')
    const t0 = performance.now()
    const child = spawn(curl, [
      '-N',
      '-sS',
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"message":"Hello World!"}',
      `${cli.url}/chat?mode=chars&delay=100`,
    ])
    const arrivals: Array<{ at: number; text: string }> = []
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text: string) => arrivals.push({ at: performance.now() - t0, text }))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    const events: Array<EventSourceMessage & { at: number }> = []
    let now = 0
    const parser = createParser({ onEvent: (e) => events.push({ ...e, at: now }) })
    for (const a of arrivals) {
      now = a.at
      parser.feed(a.text)
    }
    const tokens = events.filter((e) => e.event === 'token')
    expect(tokens.map((t) => t.data).join('')).toBe('Hello World!')
    expect(events.at(-1)!.event).toBe('done')
    // 12 characters, 100 ms apart: curl printed the first one about a second before the last.
    expect(tokens.at(-1)!.at - tokens[0].at).toBeGreaterThan(700)
    expect(arrivals.length).toBeGreaterThanOrEqual(6)
  })

  it('SIGTERM: open streams end cleanly, new connections are refused, the process exits within seconds', async () => {
    const res = await fetch(`${cli.url}/chat?delay=50&tokens=10000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: '{"message":"a very long answer"}',
    })
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    while (events.length < 3) parser.feed(decoder.decode((await reader.read()).value))
    const t0 = performance.now()
    const exited = new Promise<number | null>((resolve) => cli.proc.proc.once('exit', resolve))
    cli.proc.proc.kill('SIGTERM')
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(decoder.decode(value, { stream: true }))
    }
    // The stream ended with a clear event, not a cut connection.
    // A chat answer in progress ends with its done, lost (issue 16).
    expect(events.at(-1)!.event).toBe('done')
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ reason: 'lost' })
    expect(await exited).toBe(0)
    expect(performance.now() - t0).toBeLessThan(5000)
    await expect(fetch(`${cli.url}/healthz`)).rejects.toThrow()
    expect(cli.proc.output()).toContain('SIGTERM, shutting down')
  })

  it('SIGINT stops it the same way; --help and bad options answer without listening', async () => {
    const other = await startSluice('serve', ['--host', '127.0.0.1'])
    const exited = new Promise<number | null>((resolve) => other.proc.proc.once('exit', resolve))
    other.proc.proc.kill('SIGINT')
    // Interrupted: 130, as for every sluice command (issue 16; it was 0, like a clean end).
    expect(await exited).toBe(130)
    expect(other.proc.output()).toContain('SIGINT, shutting down')

    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args],
          {
            cwd: ROOT,
          },
        )
        let out = ''
        child.stdout.on('data', (d) => (out += d))
        child.stderr.on('data', (d) => (out += d))
        // Bounded: a serve that did start is stopped after 10 s.
        const guard = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.on('exit', (code) => {
          clearTimeout(guard)
          resolve({ code, out })
        })
      })
    const help = await run(['--help'])
    expect(help.code).toBe(0)
    expect(help.out).toContain('--port P')
    const bad = await run(['--port', 'eighty'])
    expect(bad.code).toBe(2)
    expect(bad.out).toContain('--port')
    expect(bad.out).not.toContain('--host') // it blamed --host too
    // A port already taken: a clear message, exit 1.
    const holder = createServer()
    const heldPort = (await listenLoopback(holder)).port
    try {
      const taken = await run(['--port', String(heldPort)])
      expect(taken.code).toBe(1)
      expect(taken.out).toContain('EADDRINUSE')
    } finally {
      holder.close()
    }
  }, 90_000) // a liveness bound: five sluice processes, slow on a loaded machine
})
