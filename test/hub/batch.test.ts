/**
 * The hub hands the live events of one tick to each subscriber as one write
 * (one HTTP chunk on the wire), up to ~16 KiB, and a subscriber of several
 * topics still gets every event in publish order, once.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub, memoryStore } from '../../src/hub/index.js'
import { openSse } from '../helpers/sse.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { listenedStore, type ServedHub, serveHub } from './support.js'

let served: ServedHub

beforeAll(async () => {
  served = await serveHub(createHub({ store: memoryStore({ maxLength: 100_000 }) }))
})

afterAll(() => served.close())

/**
 * A raw HTTP/1.1 subscriber: the body's chunks as they came (the chunked
 * framing undone, each chunk kept apart), so a test sees how many writes
 * the server made.
 */
function rawSubscriber(port: number, path: string) {
  const socket = connect(port, '127.0.0.1')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  let buf = Buffer.alloc(0)
  let headDone = false
  const chunks: string[] = []
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    if (!headDone) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      expect(buf.subarray(0, end).toString('latin1')).toMatch(/transfer-encoding: chunked/i)
      buf = buf.subarray(end + 4)
      headDone = true
    }
    for (;;) {
      const eol = buf.indexOf('\r\n')
      if (eol < 0) return
      const size = Number.parseInt(buf.subarray(0, eol).toString('latin1'), 16)
      if (buf.length < eol + 2 + size + 2) return
      chunks.push(buf.subarray(eol + 2, eol + 2 + size).toString('utf8'))
      buf = buf.subarray(eol + 2 + size + 2)
    }
  })
  // The position event is the protocol's, not a published event.
  const dataLines = () =>
    chunks
      .join('')
      .replace(/^event:sluice-position\n[\s\S]*?\n\n/m, '')
      .match(/^data:.*$/gm) ?? []
  /** The stream's opening writes (retry, then the position event) have arrived. */
  const opened = () => /^id:/m.test(chunks.join(''))
  return { socket, chunks, dataLines, opened }
}

it('a burst published in one tick reaches a subscriber as one write', async () => {
  const { hub, port } = served
  const sub = rawSubscriber(port, '/events?topic=burst')
  // The stream's opening writes (retry, position) go out first.
  await waitUntil(() => hub.metrics.connections === 1 && sub.opened())
  try {
    const before = sub.chunks.length
    for (let i = 0; i < 100; i++) void hub.publish('burst', `event ${i}`)
    await waitUntil(() => sub.dataLines().length === 100)
    expect(sub.dataLines()).toEqual(Array.from({ length: 100 }, (_, i) => `data:event ${i}`))
    // One chunk carries all 100 events (one per event before the hub gathered them).
    expect(sub.chunks.length - before).toBe(1)
  } finally {
    sub.socket.destroy()
    await waitUntil(() => hub.metrics.connections === 0)
  }
})

it('a burst larger than ~16 KiB goes out in writes of about that size, in order', async () => {
  const { hub, port } = served
  const sub = rawSubscriber(port, '/events?topic=big-burst')
  await waitUntil(() => hub.metrics.connections === 1 && sub.opened())
  try {
    const before = sub.chunks.length
    const data = (i: number) => `${i}:`.padEnd(1000, 'x')
    for (let i = 0; i < 200; i++) void hub.publish('big-burst', data(i))
    await waitUntil(() => sub.dataLines().length === 200)
    expect(sub.dataLines()).toEqual(Array.from({ length: 200 }, (_, i) => `data:${data(i)}`))
    const writes = sub.chunks.slice(before)
    // ~200 KB in writes of at most 16 KiB plus one event: more than a dozen, far fewer than 200.
    expect(writes.length).toBeGreaterThanOrEqual(12)
    expect(writes.length).toBeLessThan(50)
    for (const w of writes) expect(Buffer.byteLength(w)).toBeLessThanOrEqual(16 * 1024 + 1100)
  } finally {
    sub.socket.destroy()
    await waitUntil(() => hub.metrics.connections === 0)
  }
})

const TOPICS = ['a', 'b', 'c']

it('subscribers of any set of topics get their events in publish order, once, however publishes fall into ticks (property)', async () => {
  let runNo = 0
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ topic: fc.nat(2), yieldAfter: fc.boolean() }), {
        minLength: 1,
        maxLength: 60,
      }),
      async (publishes) => {
        const { hub, url } = served
        const prefix = `p${runNo++}-`
        // One subscriber per non-empty set of topics (bit i: topic i).
        const subs = await Promise.all(
          [1, 2, 3, 4, 5, 6, 7].map(async (mask) => {
            const topics = TOPICS.filter((_, i) => mask & (1 << i))
            const query = topics.map((t) => `topic=${prefix}${t}`).join('&')
            return { topics, conn: await openSse(`${url}/events?${query}`) }
          }),
        )
        await waitUntil(() => hub.metrics.connections === 7)
        const sent: { topic: string; data: string }[] = []
        for (const [i, p] of publishes.entries()) {
          const topic = TOPICS[p.topic]
          sent.push({ topic, data: `${topic}${i}` })
          void hub.publish(prefix + topic, `${topic}${i}`)
          if (p.yieldAfter) await new Promise((r) => setImmediate(r))
        }
        try {
          for (const { topics, conn } of subs) {
            const want = sent.filter((s) => topics.includes(s.topic)).map((s) => s.data)
            const got = () => conn.events.filter((e) => e.data !== '').map((e) => e.data)
            await conn.waitFor(() => got().length >= want.length, 5000)
            expect(got()).toEqual(want)
          }
        } finally {
          for (const { conn } of subs) conn.close()
          await waitUntil(() => hub.metrics.connections === 0)
        }
      },
    ),
    { numRuns: 25 },
  )
})

it('events gathered in the tick of a store reset go out before its notice, and once', async () => {
  // A reset reported the way a flushed Redis does (see listenedStore).
  const { store, listeners } = listenedStore({ epoch: 'old' })
  const own = await serveHub(createHub({ store }))
  try {
    const sub = await openSse(`${own.url}/events?topic=t`)
    await waitUntil(() => own.hub.metrics.connections === 1)
    // In one tick: an event the hub gathers (written at the end of the tick),
    // then the reset. The event belongs before the notice.
    void own.hub.publish('t', 'before')
    for (const l of listeners) l.onReset?.({ epoch: 'new', previousEpoch: 'old' })
    await sub.waitFor((ev) => ev.some((e) => e.event === 'sluice-reset'))
    await sleep(50) // a bounded quiet wait: 'once' means no second 'before' trails in
    expect(sub.events.filter((e) => e.data !== '').map((e) => e.event || e.data)).toEqual([
      'before',
      'sluice-reset',
    ])
    sub.close()
  } finally {
    await own.close()
  }
})
