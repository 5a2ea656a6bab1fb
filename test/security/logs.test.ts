/**
 * Issue 17 rows 12 and 13: no secret reaches a log, and a client's faults do
 * not flood it. Each failed before its fix.
 */
import { execFile } from 'node:child_process'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { rateLimitedLog, redact } from '../../src/cli/redact.js'
import { startFixture } from '../fixtures/sse-server.js'
import { ROOT, type RunningApp, serveApp, startSluice } from '../helpers/serve.js'
import { waitUntil } from '../helpers/wait.js'

const run = promisify(execFile)
let running: RunningApp | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

describe('redact()', () => {
  it('hides token parameters and URL passwords, in URLs and in any text', () => {
    expect(redact('/events?topic=a&access_token=eyJ.abc.def&x=1')).toBe(
      '/events?topic=a&access_token=***&x=1',
    )
    expect(redact('redis://:hunter2@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0')
    expect(redact('redis://user:pw@h:1')).toBe('redis://user:***@h:1')
    expect(redact('Cannot connect to Redis at rediss://u:s3cret@db:6380 (refused)')).not.toContain(
      's3cret',
    )
    expect(redact('GET /x?token=T1 and /y?jwt=T2')).toBe('GET /x?token=*** and /y?jwt=***')
    expect(redact('nothing secret in /events?topic=news')).toBe(
      'nothing secret in /events?topic=news',
    )
  })
})

describe('rateLimitedLog()', () => {
  it('passes max lines per window, then says how many it left out', () => {
    const lines: string[] = []
    let t = 0
    const log = rateLimitedLog(
      (l) => lines.push(l),
      3,
      1000,
      () => t,
    )
    for (let i = 0; i < 10; i++) log(`line ${i}`)
    expect(lines).toEqual(['line 0', 'line 1', 'line 2'])
    t = 1000
    log('next')
    expect(lines.slice(3)).toEqual(['(7 similar lines left out in the last 1 s)', 'next'])
  })
})

describe('sluice serve', () => {
  it('row 12: a 500 logs the URL without its access_token', async () => {
    const lines: string[] = []
    running = await serveApp({ log: (l) => lines.push(l) })
    running.app.routes.unshift({
      method: 'GET',
      path: '/boom',
      handler: () => {
        throw new Error('model crashed')
      },
    })
    const res = await fetch(`${running.url}/boom?access_token=SECRET-TOKEN-1`)
    expect(res.status).toBe(500)
    await waitUntil(() => lines.length > 0)
    expect(lines.join('\n')).toContain('/boom?access_token=***')
    expect(lines.join('\n')).not.toContain('SECRET-TOKEN-1')
  })

  it('row 13: a client that leaves mid-body is dropped without a log line', async () => {
    const lines: string[] = []
    running = await serveApp({ log: (l) => lines.push(l) })
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(running!.port, '127.0.0.1', () => {
          s.write(
            'POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"message":',
          )
          setTimeout(() => {
            s.destroy()
            resolve()
          }, 50)
        })
      })
    }
    // The server is still there, and said nothing about those five.
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200)
    expect(lines).toEqual([])
  })

  it('row 12: an unreachable Redis is reported without its password', async () => {
    const out = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        '--port',
        '0',
        '--redis',
        'redis://:hunter2-secret@127.0.0.1:1',
      ],
      { cwd: ROOT, timeout: 30_000 },
    ).catch((e: { stdout: string; stderr: string; code: number }) => e)
    const text = `${out.stdout}${out.stderr}`
    expect(text).toContain('redis://:***@127.0.0.1:1')
    expect(text).not.toContain('hunter2-secret')
  })
})

describe('sluice proxy', () => {
  it('row 12: logs each request without its token', async () => {
    const fx = await startFixture()
    fx.route('/events', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end('data: hi\n\n')
    })
    const proxy = await startSluice('proxy', ['--target', fx.origin])
    try {
      const res = await fetch(`${proxy.url}/events?access_token=SECRET-TOKEN-2`)
      await res.text()
      await waitUntil(() => proxy.proc.output().includes('/events'), 10_000, 'the log line')
      expect(proxy.proc.output()).toContain('access_token=***')
      expect(proxy.proc.output()).not.toContain('SECRET-TOKEN-2')
    } finally {
      await proxy.stop()
      await fx.close()
    }
  })
})
