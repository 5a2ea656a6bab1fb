/**
 * `sluice listen`, run as a real process (node + tsx on src/cli/main.ts)
 * against the fixture server: output formats, request options, exit codes,
 * and the terminal view (colour and state on stderr) under a real pty.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeExternal, freePort, requireBinary } from '../helpers/external.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** At most this many listen processes at once: each loads tsx, and the machine is shared. */
const PARALLEL = 4
let running = 0
const waiting: Array<() => void> = []

async function listen(args: string[], opts: { pty?: boolean } = {}): Promise<Run> {
  if (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await spawnListen(args, opts)
  } finally {
    running--
    waiting.shift()?.()
  }
}

function spawnListen(args: string[], opts: { pty?: boolean }): Promise<Run> {
  const argv = ['--import', 'tsx', MAIN, 'listen', ...args]
  const child = opts.pty
    ? spawn(
        requireBinary('script'),
        [
          '-qec',
          [process.execPath, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '),
          '/dev/null',
        ],
        { cwd: ROOT },
      )
    : spawn(process.execPath, argv, { cwd: ROOT })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  // A bound, not a measure: generous for a loaded machine.
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(kill)
      resolve({ code, stdout, stderr })
    }),
  )
}

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
  fx.route('/stream', (_req, res) => {
    sseHead(res)
    res.end(
      'event: token\nid: 1\ndata: Hel\n\n: heartbeat\n\nid: 2\ndata: line one\ndata: line two\n\n',
    )
  })
  fx.route('/echo', (req, res) => {
    sseHead(res)
    const h = req.headers
    res.end(
      `data: ${req.method} ${h['x-a']} ${h['x-b']} ${h['content-type']} ${h['last-event-id']} ${req.body}\n\n`,
    )
  })
  fx.route('/endless', async (_req, res) => {
    sseHead(res)
    for (let i = 0; i < 200 && !res.destroyed; i++) {
      res.write(`id: ${i}\ndata: tick ${i}\n\n`)
      await new Promise((r) => setTimeout(r, 20))
    }
    res.end()
  })
  fx.route('/stall', (_req, res) => {
    sseHead(res)
    res.write('data: first\n\n')
  })
  fx.route('/gone', (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end('{"error":"NOT_FOUND","message":"no such run"}')
  })
  fx.route('/busy', (_req, res) => {
    res.writeHead(503)
    res.end()
  })
  // Its own 503 route: the --no-retry test counts the requests to /busy.
  fx.route('/unavailable', (_req, res) => {
    res.writeHead(503)
    res.end()
  })
  fx.route('/broken', (_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' })
    res.end('database down')
  })
  // Twenty events in one write: a chunk holds many.
  fx.route('/burst', (_req, res) => {
    sseHead(res)
    let text = ''
    for (let i = 0; i < 20; i++) text += `id: ${i}\ndata: e${i}\n\n`
    res.end(text)
  })
})
afterAll(async () => {
  await fx.close()
})

// Each case is its own process on its own route: run them side by side.
describe.concurrent('sluice listen', { timeout: 120_000 }, () => {
  it('piped: prints only the events (data), exit 0 on a clean end', async () => {
    const r = await listen([fx.origin + '/stream'])
    expect(r).toEqual({ code: 0, stdout: 'Hel\nline one\nline two\n', stderr: '' })
  })

  it('--json: one object per event per line', async () => {
    const r = await listen(['--json', fx.origin + '/stream'])
    expect(r.code).toBe(0)
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { event: 'token', id: '1', data: 'Hel' },
      { event: 'message', id: '2', data: 'line one\nline two' },
    ])
  })

  it('--raw: the bytes as received, comments included', async () => {
    const r = await listen(['--raw', fx.origin + '/stream'])
    expect(r.stdout).toBe(
      'event: token\nid: 1\ndata: Hel\n\n: heartbeat\n\nid: 2\ndata: line one\ndata: line two\n\n',
    )
  })

  it('-X, repeatable -H, -d @file and --last-event-id reach the server', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-listen-')), 'body.json')
    writeFileSync(file, '{"message":"hi"}')
    const r = await listen([
      '-X',
      'PUT',
      '-H',
      'X-A: 1',
      '-H',
      'X-B: two words',
      '-d',
      '@' + file,
      '--last-event-id',
      '41',
      fx.origin + '/echo',
    ])
    expect(r.stdout).toBe('PUT 1 two words application/json 41 {"message":"hi"}\n')
    const d = await listen(['-d', 'name=x', fx.origin + '/echo'])
    expect(d.stdout).toBe('POST undefined undefined text/plain;charset=UTF-8 undefined name=x\n') // -d alone means POST
  })

  it('--max-events N: exit 0 after N events', async () => {
    const r = await listen(['--max-events', '3', fx.origin + '/endless'])
    expect(r).toMatchObject({ code: 0, stdout: 'tick 0\ntick 1\ntick 2\n' })
  })

  it('--timeout S: exit 124 with a message when the stream does not end', async () => {
    const r = await listen(['--timeout', '1', fx.origin + '/stall'])
    expect(r.code).toBe(124)
    expect(r.stdout).toBe('first\n')
    expect(r.stderr).toContain('--timeout')
  })

  it('a 404: exit 1, the status and the body in the message, one request', async () => {
    const before = fx.hits('/gone').length
    const r = await listen([fx.origin + '/gone'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('404')
    expect(r.stderr).toContain('no such run')
    expect(fx.hits('/gone').length - before).toBe(1)
  })

  it('--no-retry: a 503 is final at once', async () => {
    const before = fx.hits('/busy').length
    const r = await listen(['--no-retry', fx.origin + '/busy'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('503')
    expect(fx.hits('/busy').length - before).toBe(1)
  })

  it('a reader that leaves early (| head) ends it quietly with exit 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'listen', fx.origin + '/endless'],
      {
        cwd: ROOT,
      },
    )
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.stdout.destroy() // as `head -1` exits
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })

  // Before: piped, a refused port or a 5xx printed nothing and retried forever.
  it('piped, a refused port: each retry and its cause (ECONNREFUSED) on stderr', async () => {
    const port = await freePort() // nothing listens there
    const r = await listen(['--timeout', '3', `http://127.0.0.1:${port}/events`])
    expect(r.code).toBe(124)
    expect(r.stdout).toBe('')
    const retries = r.stderr.split('\n').filter((l) => l.includes('retrying in'))
    expect(retries.length).toBeGreaterThanOrEqual(1)
    for (const line of retries) expect(line).toMatch(/^sluice listen: retrying in .*ECONNREFUSED/)
  })

  it('piped, a 5xx: each retry says the status on stderr', async () => {
    const r = await listen(['--timeout', '2', fx.origin + '/unavailable'])
    expect(r.code).toBe(124)
    expect(r.stderr).toMatch(/^sluice listen: retrying in .*503/m)
  })

  // Before: --raw copied every chunk as it came, 19 events past a limit of 2.
  it('--raw --max-events 2: the bytes of exactly two events', async () => {
    const r = await listen(['--raw', '--max-events', '2', fx.origin + '/burst'])
    expect(r).toMatchObject({ code: 0, stdout: 'id: 0\ndata: e0\n\nid: 1\ndata: e1\n\n' })
  })

  // Before: Ctrl-C exited 0, like a clean end.
  it('SIGINT: exit 130', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'listen', fx.origin + '/endless'],
      {
        cwd: ROOT,
      },
    )
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.kill('SIGINT')
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(130)
  })

  it('an unknown option: a sluice message, exit 2', async () => {
    const r = await listen(['--bogus', fx.origin + '/stream'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^sluice listen: unknown option '--bogus'/)
    expect(r.stderr).not.toMatch(/ERR_PARSE_ARGS|TypeError/)
  })

  it('a flag value that looks like a flag is refused', async () => {
    const r = await listen(['--last-event-id', '--json', fx.origin + '/stream'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--last-event-id needs a value, but '--json' follows it")
  })

  it('a usage error: exit 2 with the help', async () => {
    const r = await listen(['not a url'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('not an absolute URL')
    expect(r.stderr).toContain('Usage: sluice listen')
  })
})

describeExternal(['script'], 'sluice listen on a terminal', () => {
  it('colours event names and ids, and reports connection state on stderr', async () => {
    const r = await listen([fx.origin + '/stream'], { pty: true })
    expect(r.code).toBe(0)
    const out = r.stdout // the pty merges stdout and stderr
    expect(out).toContain('\x1b[36mtoken\x1b[0m \x1b[2m#1\x1b[0m Hel')
    expect(out).toContain('* connecting to ' + fx.origin + '/stream')
    expect(out).toContain('* open: 200 text/event-stream')
  })

  // Before: "fetch failed" without the cause, and a 500 shown in green as "open".
  it('a refused port: the retry names the cause', async () => {
    const port = await freePort()
    const r = await listen(['--timeout', '3', `http://127.0.0.1:${port}/`], { pty: true })
    expect(r.stdout).toMatch(/\* retrying in .*fetch failed: .*ECONNREFUSED/)
  })

  it('a 500 is not shown as open, nor in green', async () => {
    const r = await listen(['--no-retry', fx.origin + '/broken'], { pty: true })
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('open: 500')
    expect(r.stdout).not.toMatch(/\x1b\[32m[^\n]*500/)
    expect(r.stdout).toContain('\x1b[31m* answered 500')
    expect(r.stdout).toContain('database down')
  })
})
