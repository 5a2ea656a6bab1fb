/**
 * sluice's EventSource is typed like the DOM's: a listener for a named event
 * gets a MessageEvent (`e.data`, `e.lastEventId` without a cast), `open` and
 * `error` listeners a plain Event; removing a listener works the same way.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { EventSource } from '../../src/client/index.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
  fx.route('/status', (_req, res) => {
    sseHead(res)
    res.write('event: status\nid: 1\ndata: shipped\n\nevent: other\nid: 2\ndata: x\n\n')
    res.end()
  })
})
afterAll(() => fx.close())

describe('EventSource.addEventListener types', () => {
  it('a named event listener reads e.data and e.lastEventId; removeEventListener detaches it', async () => {
    const es = new EventSource(`${fx.origin}/status`)
    const seen: string[] = []
    const other = (e: MessageEvent) => seen.push(`other ${e.data}`)
    es.addEventListener('other', other)
    es.removeEventListener('other', other)
    es.addEventListener('open', (e) => {
      expectTypeOf(e).toEqualTypeOf<Event>()
    })
    await new Promise<void>((resolve) => {
      es.addEventListener('status', (e) => {
        expectTypeOf(e).toEqualTypeOf<MessageEvent>()
        seen.push(`${e.data}|${e.lastEventId}`)
        es.close()
        resolve()
      })
    })
    expect(seen).toEqual(['shipped|1'])
  })
})
