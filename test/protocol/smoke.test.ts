import { describe, expect, it } from 'vitest'
import { createParser, encodeEvent, type EventSourceMessage } from '../../src/protocol/index.js'

function parseAll(chunks: (string | Uint8Array)[]) {
  const events: EventSourceMessage[] = []
  const p = createParser({ onEvent: (e) => events.push(e) })
  for (const c of chunks) p.feed(c)
  p.end()
  return { events, lastEventId: p.lastEventId }
}

describe('parser smoke', () => {
  it('parses a simple event from bytes split everywhere', () => {
    const text = '\uFEFFid: 1\r\nevent: token\rdata: héllo\ndata:wörld\n\n: c\nid: 2\n\n'
    const bytes = new TextEncoder().encode(text)
    const whole = parseAll([bytes])
    expect(whole.events).toEqual([{ id: '1', event: 'token', data: 'héllo\nwörld' }])
    expect(whole.lastEventId).toBe('2')
    for (let i = 0; i <= bytes.length; i++) {
      const split = parseAll([bytes.subarray(0, i), bytes.subarray(i)])
      expect(split.events).toEqual(whole.events)
      expect(split.lastEventId).toBe('2')
    }
    const single = parseAll(Array.from(bytes, (b) => new Uint8Array([b])))
    expect(single.events).toEqual(whole.events)
  })

  it('round-trips the encoder', () => {
    const e = { id: '7', event: 'x', data: ' a\r\nb\rc\n' }
    expect(parseAll([encodeEvent(e)]).events).toEqual([{ id: '7', event: 'x', data: ' a\nb\nc\n' }])
  })
})
