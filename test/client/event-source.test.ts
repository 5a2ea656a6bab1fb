/**
 * sluice's EventSource beyond the WPT cases: method, headers and body (sent
 * again on reconnection), an initial lastEventId, the handler properties, the
 * idle watchdog, and the failure reason on `lastError`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource } from '../../src/client/index.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
})
afterAll(async () => {
  await fx.close()
})

function until(source: EventSource, done: (log: string[]) => boolean): Promise<string[]> {
  const log: string[] = []
  return new Promise((resolve) => {
    const check = () => {
      if (done(log)) {
        source.close()
        resolve(log)
      }
    }
    source.onopen = () => {
      log.push('open')
      check()
    }
    source.onerror = () => {
      log.push('error:' + source.readyState)
      check()
    }
    source.onmessage = (e) => {
      log.push(`${e.data}|${e.lastEventId}`)
      check()
    }
  })
}

describe('EventSource', () => {
  it('takes method, headers and a body, and sends them again on reconnection with Last-Event-ID', async () => {
    fx.route('/es-post', (req, res, { n }) => {
      sseHead(res)
      res.end(
        `retry: 10\nid: ${n + 1}\ndata: ${req.method} ${req.headers.authorization} ${req.body}\n\n`,
      )
    })
    const source = new EventSource(fx.origin + '/es-post', {
      method: 'POST',
      headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
      body: '{"q":1}',
    })
    expect(source.readyState).toBe(EventSource.CONNECTING)
    const log = await until(source, (l) => l.filter((x) => x.includes('|')).length === 2)
    expect(log).toEqual([
      'open',
      'POST Bearer x {"q":1}|1',
      'error:0',
      'open',
      'POST Bearer x {"q":1}|2',
    ])
    expect(fx.hits('/es-post').map((h) => h.headers['last-event-id'])).toEqual([undefined, '1'])
    expect(source.readyState).toBe(EventSource.CLOSED)
  })

  it('an initial lastEventId is sent on the first request', async () => {
    fx.route('/es-resume', (req, res) => {
      sseHead(res)
      res.write(`data: after ${req.headers['last-event-id']}\n\n`)
    })
    const source = new EventSource(fx.origin + '/es-resume', { lastEventId: '17' })
    expect(await until(source, (l) => l.length === 2)).toEqual(['open', 'after 17|17']) // the id in force is the one resumed from
  })

  it('a handler property replaces the previous handler; addEventListener adds', async () => {
    fx.route('/es-handlers', (_req, res) => {
      sseHead(res)
      res.write('data: x\n\n')
    })
    const source = new EventSource(fx.origin + '/es-handlers')
    const calls: string[] = []
    source.onmessage = () => calls.push('first')
    source.onmessage = () => calls.push('second')
    expect(typeof source.onmessage).toBe('function')
    await new Promise<void>((resolve) =>
      source.addEventListener('message', () => {
        calls.push('listener')
        resolve()
      }),
    )
    source.close()
    expect(calls).toEqual(['second', 'listener'])
  })

  it('heartbeatTimeout reestablishes a stalled connection', async () => {
    fx.route('/es-stall', (_req, res, { n }) => {
      sseHead(res)
      res.write(`id: ${n}\ndata: connection ${n}\n\n`) // then silence
    })
    const source = new EventSource(fx.origin + '/es-stall', {
      heartbeatTimeout: 500,
      retry: { initialDelay: 10 },
    })
    const log = await until(source, (l) => l.filter((x) => x.includes('|')).length === 2)
    expect(log).toEqual(['open', 'connection 0|0', 'error:0', 'open', 'connection 1|1'])
    expect((source.lastError as { code: string }).code).toBe('TIMEOUT')
  })

  it('a refused connection is CLOSED with the reason on lastError', async () => {
    fx.route('/es-refused', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"error":"UNAUTHORIZED","message":"log in"}')
    })
    const source = new EventSource(fx.origin + '/es-refused')
    expect(await until(source, (l) => l.includes('error:2'))).toEqual(['error:2'])
    expect(source.lastError).toMatchObject({ code: 'BAD_STATUS', details: { status: 401 } })
  })
})
