/**
 * Issue 17's findings on runs, as a stranger would send them. Row 1: runs
 * could exhaust the server's memory (a whole answer built before its first
 * token, runs going on for no one, finished runs kept by count). Each test
 * failed before its fix.
 */
import { readFileSync } from 'node:fs'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { freePort, start, waitForPort } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'

const SECRET = 'a-long-enough-test-secret-of-32-bytes!'
let running: RunningApp | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

/** The resident set of a process in bytes (Linux /proc), or undefined elsewhere. */
function rssOf(pid: number | undefined): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

/** A gauge from `/metrics` text, or undefined when the server does not expose it. */
function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+?\\d+)?)$`, 'm').exec(text)
  return m ? Number(m[1]) : undefined
}

const MiB = 1024 * 1024

describe('row 1: runs cannot exhaust memory', () => {
  it('a server with a 256 MB heap survives 600 abandoned POST /chat?delay=60000&tokens=100000 (16 in parallel, each cut after 1 s) and answers /healthz throughout (600 requests, < 2 min)', async () => {
    const port = await freePort()
    const server = start(
      process.execPath,
      ['--max-old-space-size=256', '--import', 'tsx', 'src/cli/main.ts', 'serve'].concat([
        '--port',
        String(port),
      ]),
      { cwd: ROOT },
    )
    const base = `http://127.0.0.1:${port}`
    try {
      await waitForPort(port, 20_000)
      const t0 = performance.now()
      // /healthz every 250 ms while the requests go on: each must answer 200 within 2 s.
      const probes: Array<{ at: number; ok: boolean; ms: number; why?: string }> = []
      let firing = true
      const prober = (async () => {
        while (firing) {
          const p0 = performance.now()
          try {
            const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })
            await res.text()
            probes.push({ at: p0 - t0, ok: res.status === 200, ms: performance.now() - p0 })
          } catch (err) {
            probes.push({ at: p0 - t0, ok: false, ms: performance.now() - p0, why: String(err) })
          }
          await new Promise((r) => setTimeout(r, 250))
        }
      })()
      // 600 requests, 16 at a time, each abandoned after ~1 s (curl -m 1).
      const statuses = new Map<number | string, number>()
      let next = 0
      const worker = async (w: number) => {
        while (next < 600) {
          const i = next++
          let status: number | string = 'no answer'
          try {
            const res = await fetch(`${base}/chat?delay=60000&tokens=100000`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ message: `abandoned ${w}/${i}` }),
              signal: AbortSignal.timeout(1000),
            })
            status = res.status
            await res.text() // read until the 1 s cut
          } catch {}
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
        }
      }
      await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)))
      firing = false
      await prober
      const elapsed = performance.now() - t0
      // The process lived through it, and still answers.
      expect(server.proc.exitCode, server.output().slice(-2000)).toBeNull()
      expect(server.proc.signalCode).toBeNull()
      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })
      expect(health.status).toBe(200)
      const failed = probes.filter((p) => !p.ok)
      expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([])
      expect(probes.length).toBeGreaterThan(10)
      const metrics = await (await fetch(`${base}/metrics`)).text()
      const rss = rssOf(server.proc.pid)
      const heap = gauge(metrics, 'nodejs_heap_used_bytes')
      console.log(
        `row 1: 600 abandoned runs in ${(elapsed / 1000).toFixed(1)} s; answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
          `/healthz ${probes.length} probes, slowest ${Math.max(...probes.map((p) => p.ms)).toFixed(0)} ms; ` +
          `RSS ${rss === undefined ? '?' : (rss / MiB).toFixed(0)} MiB, heap used ${heap === undefined ? '?' : (heap / MiB).toFixed(0)} MiB, ` +
          `runs active ${gauge(metrics, 'sluice_runs_active')}, run bytes ${gauge(metrics, 'sluice_runs_bytes')}`,
      )
      // Liveness bound of the whole test (the requests alone take ~40 s).
      expect(elapsed).toBeLessThan(110_000)
    } finally {
      await server.stop('SIGKILL')
    }
  }, 120_000)
})

describe('row 1: POST /chat is authorized as /publish is', () => {
  const chat = (headers: Record<string, string>, body = '{"message":"hi"}') =>
    fetch(`${running!.url}/chat?delay=0&tokens=3`, { method: 'POST', headers, body })

  it('with a key: no token 401, a token without the chat publish claim 403, with it 200', async () => {
    running = await serveApp({ hub: createHub({ auth: { secret: SECRET } }) })
    const json = { 'content-type': 'application/json' }
    const none = await chat(json)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="sluice"')
    expect((await none.json()).error).toBe('UNAUTHORIZED')
    const subscriber = await token({ sluice: { subscribe: ['*'] } })
    const refused = await chat({ ...json, authorization: `Bearer ${subscriber}` })
    expect(refused.status).toBe(403)
    expect((await refused.json()).error).toBe('FORBIDDEN')
    const publisher = await token({ sub: 'alice', sluice: { publish: ['chat'] } })
    const ok = await chat({ ...json, authorization: `Bearer ${publisher}` })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('event:done')
    expect(running.app.chat.started).toBe(1)
    const metrics = await (await fetch(`${running.url}/metrics`)).text()
    expect(metrics).toMatch(/sluice_hub_refused_total\{reason="unauthorized"\} 1/)
  })

  it('the cookie never authorizes a cross-site or non-JSON chat (CSRF), as for /publish', async () => {
    running = await serveApp({ hub: createHub({ auth: { secret: SECRET } }) })
    const cookie = `sluice_token=${await token({ sluice: { publish: ['*'] } })}`
    const text = await chat({ cookie, 'content-type': 'text/plain' })
    expect(text.status).toBe(415)
    const evil = await chat({
      cookie,
      origin: 'https://evil.example',
      'content-type': 'application/json',
    })
    expect(evil.status).toBe(403)
    expect((await evil.json()).error).toBe('CORS_REFUSED')
    const own = await chat({ cookie, 'content-type': 'application/json' })
    expect(own.status).toBe(200)
    await own.text()
    expect(running.app.chat.started).toBe(1)
  })

  it('an open server (no key) still answers anyone on its own origin', async () => {
    running = await serveApp()
    const res = await chat({ 'content-type': 'text/plain' }, 'hello')
    expect(res.status).toBe(200)
    await res.text()
  })
})
