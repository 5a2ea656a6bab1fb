/**
 * Whatever a producer sends (any text, event names, ids, JSON values, raw
 * pre-encoded frames, comments), a client reading the real socket with
 * sluice's parser gets exactly those events back, in order.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { encodeEvent, type EventSourceMessage } from '../../src/protocol/index.js'
import { createEventStream, type SendEvent } from '../../src/server/index.js'
import { readWire, startServer, type TestServer } from './support.js'

type Op =
  | { kind: 'send'; event: SendEvent }
  | { kind: 'text'; data: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; event: { data: string; event: string } }
  | { kind: 'comment'; text: string }

const fieldText = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\r\n\0]/.test(s))
// Any code point, and (as often) text dense in line ends: uniform code points
// almost never draw a CR, so the CR, LF and CRLF cases need their own source.
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(fc.constantFrom('a', 'é', '😀', ' ', ':', '\r', '\n', '\r\n', '\0'), { maxLength: 16 })
    .map((parts) => parts.join('')),
)

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('send' as const),
    event: fc.record(
      { data: anyText, event: fieldText, id: fieldText },
      { requiredKeys: ['data'] },
    ),
  }),
  fc.record({ kind: fc.constant('text' as const), data: anyText }),
  fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({
    kind: fc.constant('raw' as const),
    event: fc.record({ data: anyText, event: fieldText }),
  }),
  fc.record({ kind: fc.constant('comment' as const), text: anyText }),
)

/** What a spec-following reader sees for a data string: CR, LF, CRLF all become LF. */
const normalise = (s: string): string => s.replace(/\r\n|\r/g, '\n')

let server: TestServer
let current: Op[] = []

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    const stream = createEventStream(req, res, { heartbeat: 0 })
    for (const o of current) {
      if (o.kind === 'send') await stream.send(o.event)
      else if (o.kind === 'text') await stream.send(o.data)
      else if (o.kind === 'json') await stream.send({ data: o.value })
      else if (o.kind === 'raw') await stream.write(encodeEvent(o.event))
      else await stream.comment(o.text)
    }
    stream.complete()
  })
})
afterAll(() => server.close())

it('every send arrives as the same event, in order, through a real socket', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
      current = ops
      const wire = await readWire(server.url)
      const expected: Array<Pick<EventSourceMessage, 'event' | 'id' | 'data'>> = []
      let lastId = ''
      for (const o of ops) {
        if (o.kind === 'send') {
          if (o.event.id !== undefined) lastId = o.event.id
          expected.push({
            event: o.event.event ?? '',
            id: lastId,
            data: normalise(o.event.data as string),
          })
        } else if (o.kind === 'text')
          expected.push({ event: '', id: lastId, data: normalise(o.data) })
        else if (o.kind === 'json') {
          // A string is data as is; any other value goes out as its JSON.
          const data = typeof o.value === 'string' ? normalise(o.value) : JSON.stringify(o.value)
          expected.push({ event: '', id: lastId, data })
        } else if (o.kind === 'raw') {
          expected.push({ event: o.event.event, id: lastId, data: normalise(o.event.data) })
        }
      }
      expect(wire.events.map((e) => ({ event: e.event, id: e.id, data: e.data }))).toEqual(expected)
    }),
    { numRuns: 60 },
  )
})
