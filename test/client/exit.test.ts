/**
 * A finished stream lets the process end: nothing sluice armed (the
 * heartbeatTimeout watchdog) keeps Node's event loop alive after
 * `fetchEventSource` resolved. Run in a child process, since only its exit
 * shows a leaked timer.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CLIENT = fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))

/** Run fetchEventSource(url, { heartbeatTimeout: 30 s, no reconnection on end }) in a fresh node; time until it resolved and until the process exited. */
function runClient(
  url: string,
): Promise<{ code: number | null; resolvedAt: number; exitedAt: number }> {
  const script = `
    import { fetchEventSource } from ${JSON.stringify(CLIENT)}
    const t0 = performance.now()
    await fetchEventSource(${JSON.stringify(url)}, { heartbeatTimeout: 30_000, reconnectOnEnd: false, onmessage() {} })
    process.stdout.write(String(performance.now() - t0))
  `
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
  })
  let err = ''
  let resolvedAt = Number.NaN
  // The script writes once fetchEventSource resolved.
  child.stdout.on('data', () => {
    resolvedAt = performance.now() - t0
  })
  child.stderr.on('data', (d) => (err += d))
  // Past the 30 s watchdog, a leaked timer would have fired anyway: kill before.
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000)
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(kill)
      if (err) process.stderr.write(err)
      resolve({ code, resolvedAt, exitedAt: performance.now() - t0 })
    }),
  )
}

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
  fx.route('/done', (_req, res) => {
    res.writeHead(204)
    res.end()
  })
  fx.route('/ends', (_req, res) => {
    sseHead(res)
    res.end('data: one\n\n')
  })
})
afterAll(() => fx.close())

describe.concurrent('the process exits once the stream is over', () => {
  // Before the fix the 204 branch returned with the watchdog armed: the
  // promise resolved at once and the process lived on for heartbeatTimeout.
  it('after a 204 (a finished run), with heartbeatTimeout set', async () => {
    const r = await runClient(fx.origin + '/done')
    // Liveness, not speed: generous for a loaded machine, far below the 30 s watchdog.
    expect(r.exitedAt - r.resolvedAt).toBeLessThan(5_000)
    expect(r.code).toBe(0)
  }, 30_000)

  it('after a stream that ends (no reconnection), with heartbeatTimeout set', async () => {
    const r = await runClient(fx.origin + '/ends')
    expect(r.exitedAt - r.resolvedAt).toBeLessThan(5_000)
    expect(r.code).toBe(0)
  }, 30_000)
})
