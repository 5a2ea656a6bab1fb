/**
 * The rules of WHATWG HTML §9.2.6 "Interpreting an event stream", one named
 * test each (cases after web-platform-tests `eventsource/format-*`). Every
 * case is fed whole, byte by byte, char by char and cut in two at every byte,
 * and must give the same result each way.
 */
import { describe, expect, it } from 'vitest'
import { createParser, type EventSourceMessage, SluiceError } from '../../src/protocol/index.js'
import { byteByByte, chunkings, type Collected, collect, utf8 } from './collect.js'

type Expected = Partial<Omit<Collected, 'errors'>> & { errors?: string[] }

/** Parse `stream` every way it can be cut and check each result against `expected`. */
function expectParse(
  stream: Uint8Array | string,
  expected: Expected,
  options: { maxEventSize?: number } = {},
): void {
  for (const way of chunkings(stream)) {
    const got = collect(way.chunks(), options)
    const view: Record<string, unknown> = {}
    for (const key of Object.keys(expected) as (keyof Expected)[]) {
      view[key] = key === 'errors' ? got.errors.map((e) => e.code) : got[key]
    }
    expect(view, way.name).toEqual(expected)
    // The same with only onEvent/onError (the parser's other fast path).
    const lean = collect(way.chunks(), { ...options, minimal: true })
    expect(lean.events, `${way.name}, onEvent only`).toEqual(got.events)
    expect(lean.lastEventId, `${way.name}, onEvent only`).toEqual(got.lastEventId)
    expect(lean.errors.length, `${way.name}, onEvent only`).toEqual(got.errors.length)
  }
}

const ev = (data: string, extra: Partial<EventSourceMessage> = {}): EventSourceMessage => ({
  id: '',
  event: '',
  data,
  ...extra,
})

describe('decoding', () => {
  it('decodes UTF-8, including a character split across chunks', () => {
    expectParse('data: héllo wörld — 世界 🚀\n\n', { events: [ev('héllo wörld — 世界 🚀')] })
  })

  it('turns invalid UTF-8 into U+FFFD, the same however the bytes are cut', () => {
    // A lone continuation byte, a truncated 3-byte sequence, an overlong form, 0xFF,
    // and a 4-byte sequence cut short by the line end.
    const bytes = new Uint8Array([
      ...utf8('data: a'),
      0x80,
      ...utf8('b'),
      0xe2,
      0x82,
      ...utf8('c'),
      0xc0,
      0xaf,
      0xff,
      0xf0,
      0x9f,
      0x98,
      ...utf8('\n\n'),
    ])
    expectParse(bytes, { events: [ev(new TextDecoder().decode(bytes.subarray(6, -2)))] })
    expect(collect([bytes]).events[0].data).toBe('a\uFFFDb\uFFFDc\uFFFD\uFFFD\uFFFD\uFFFD')
  })

  it('is always UTF-8 (format-utf-8)', () => {
    expectParse(new Uint8Array([...utf8('data:ok'), 0xe2, 0x80, 0xa6, 10, 10]), {
      events: [ev('ok…')],
    })
  })

  it('drops one leading BOM, even when it arrives one byte at a time', () => {
    expectParse('\uFEFFdata:1\n\n', { events: [ev('1')] })
    const parts = [new Uint8Array([0xef]), new Uint8Array([0xbb]), new Uint8Array([0xbf])]
    expect(collect([...parts, utf8('data:1\n\n')]).events).toEqual([ev('1')])
  })

  it('treats a second BOM as data: the first line becomes an unknown field (format-bom-2)', () => {
    expectParse('\uFEFF\uFEFFdata:1\n\ndata:2\n\ndata:3', { events: [ev('2')] })
  })

  it('keeps a BOM that is not at the start of the stream', () => {
    expectParse('data:x\n\ndata:\uFEFFy\n\n', { events: [ev('x'), ev('\uFEFFy')] })
  })

  it('passes NULL characters in data through (format-null-character)', () => {
    expectParse('data:\u0000\n\n', { events: [ev('\u0000')] })
  })
})

describe('lines', () => {
  it('ends lines with LF', () => {
    expectParse('data:a\ndata:b\n\n', { events: [ev('a\nb')] })
  })

  it('ends lines with CRLF', () => {
    expectParse('data:a\r\ndata:b\r\n\r\n', { events: [ev('a\nb')] })
  })

  it('ends lines with CR alone', () => {
    expectParse('data:a\rdata:b\r\r', { events: [ev('a\nb')] })
  })

  it('mixes all three line ends in one stream', () => {
    expectParse('data:a\r\ndata:b\rdata:c\n\r\ndata:d\r\r', { events: [ev('a\nb\nc'), ev('d')] })
  })

  it('counts a CR ending one chunk and an LF starting the next as one line end', () => {
    const got = collect(['data:a\r', '\ndata:b\r', '\n\r', '\n'])
    expect(got.events).toEqual([ev('a\nb')])
    const bytes = collect([utf8('data:a\r'), utf8('\n'), utf8('\r'), utf8('\n')])
    expect(bytes.events).toEqual([ev('a')])
  })

  it('dispatches on a CR at the very end of a chunk without waiting for the next one', () => {
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed(utf8('data:now\r\r'))
    expect(events).toEqual([ev('now')])
  })

  it('handles the comment fest (format-comments)', () => {
    const long = 'x'.repeat(300) // WPT uses 2 KiB; every cut point is tried here, so shorter
    expectParse(
      `data:1\r:\u0000\n:\r\ndata:2\n:${long}\rdata:3\n:data:fail\r:${long}\ndata:4\n\n`,
      { events: [ev('1\n2\n3\n4')] },
    )
  })
})

describe('fields', () => {
  it('joins data lines with LF, and an empty data line adds an empty line (format-field-data)', () => {
    expectParse('data:\n\ndata\ndata\n\ndata:test\n\n', {
      events: [ev(''), ev('\n'), ev('test')],
    })
  })

  it('removes exactly one space after the colon', () => {
    expectParse('data:  two\n\ndata: one\n\ndata:none\n\ndata: \n\n', {
      events: [ev(' two'), ev('one'), ev('none'), ev('')],
    })
  })

  it('takes a line without a colon as a field name with an empty value', () => {
    expectParse('data\n\nevent\ndata:x\n\n', { events: [ev(''), ev('x')] })
  })

  it('splits at the first colon only', () => {
    expectParse('data:a:b: c\n\n', { events: [ev('a:b: c')] })
  })

  it('sets the event type, and an empty event field means the default (format-field-event-empty)', () => {
    expectParse('event: token\ndata:1\n\nevent:\ndata:2\n\ndata:3\n\n', {
      events: [ev('1', { event: 'token' }), ev('2'), ev('3')],
    })
  })

  it('resets the event type after each event', () => {
    expectParse('event:a\ndata:1\n\ndata:2\n\n', { events: [ev('1', { event: 'a' }), ev('2')] })
  })

  it('ignores unknown fields, and field names are case-sensitive', () => {
    expectParse('foo: bar\nData: x\nDATA:y\ndata:z\n\n', { events: [ev('z')] })
  })

  it('ignores comments, and reports them through onComment', () => {
    expectParse(': hello\n:world\n:\ndata:x\n\n', {
      events: [ev('x')],
      comments: ['hello', 'world', ''],
    })
  })

  it('dispatches nothing for a block without data', () => {
    expectParse('event:x\n\n: c\n\nretry:5\n\n', { events: [], retries: [5] })
  })

  it('accepts retry made of ASCII digits only (format-field-retry, -bogus)', () => {
    expectParse('retry:2000\nretry:1000x\nretry: 300\nretry:-1\nretry:\nretry:1.5\ndata:x\n\n', {
      retries: [2000, 300],
      events: [ev('x', { retry: 300 })],
    })
  })

  it('attaches retry only to the event whose block carried it', () => {
    expectParse('retry:10\ndata:a\n\ndata:b\n\n', { events: [ev('a', { retry: 10 }), ev('b')] })
  })
})

describe('the last event ID', () => {
  it('persists across events until an id field changes it (format-field-id-3)', () => {
    expectParse('id:1\ndata:a\n\ndata:b\n\nid:2\ndata:c\n\ndata:d\n\nid\ndata:e\n\ndata:f\n\n', {
      events: [
        ev('a', { id: '1' }),
        ev('b', { id: '1' }),
        ev('c', { id: '2' }),
        ev('d', { id: '2' }),
        ev('e', { id: '' }),
        ev('f', { id: '' }),
      ],
      lastEventId: '',
      ids: ['1', '2', ''],
    })
  })

  it('is committed by a block without data (id-only block), through lastEventId and onId', () => {
    expectParse('data:a\n\nid: 7\n\n', { events: [ev('a')], lastEventId: '7', ids: ['7'] })
  })

  it('is not committed by an unterminated block (format-data-before-final-empty-line)', () => {
    expectParse('retry:1000\ndata:test1\n\nid:test\ndata:test2', {
      events: [ev('test1', { retry: 1000 })],
      lastEventId: '',
    })
  })

  it('ignores an id containing NULL (format-field-id-null)', () => {
    expectParse('id:1\ndata:a\n\nid:2\u00003\ndata:b\n\nid:\u0000\n\n', {
      events: [ev('a', { id: '1' }), ev('b', { id: '1' })],
      lastEventId: '1',
      ids: ['1'],
    })
  })

  it('keeps non-ASCII ids intact', () => {
    expectParse('id: 日本-🚀\ndata:x\n\n', { events: [ev('x', { id: '日本-🚀' })] })
  })

  it('is settable, for a client resuming from a stored id, and survives reset()', () => {
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.lastEventId = '41'
    parser.feed('data:a\n\n')
    parser.reset()
    parser.feed('data:b\n\nid:42\n\n')
    expect(events).toEqual([ev('a', { id: '41' }), ev('b', { id: '41' })])
    expect(parser.lastEventId).toBe('42')
  })
})

describe('callbacks', () => {
  it('may set lastEventId from onEvent; later events carry it', () => {
    for (const withOnId of [false, true]) {
      const events: EventSourceMessage[] = []
      const parser = createParser({
        onEvent: (e) => {
          events.push(e)
          if (e.data === 'a') parser.lastEventId = 'X'
        },
        onId: withOnId ? () => {} : undefined,
      })
      parser.feed(utf8('id:1\ndata:a\n\ndata:b\n\n'))
      expect(events.map((e) => e.id)).toEqual(['1', 'X'])
      expect(parser.lastEventId).toBe('X')
    }
  })
})

describe('callbacks may reset the parser', () => {
  it('from onError: the rest of the chunk is dropped, the next chunk starts a new stream', () => {
    for (const feedAs of ['bytes', 'string'] as const) {
      for (const where of ['a whole line', 'a line the chunk cuts']) {
        const events: string[] = []
        const parser = createParser({
          maxEventSize: 20,
          onEvent: (e) => events.push(e.data),
          onError: () => parser.reset(),
        })
        const big = `data:${'x'.repeat(50)}`
        const text =
          where === 'a whole line'
            ? `data:before\n\n${big}\n\ndata:dropped\n\n`
            : `data:before\n\n${big}`
        parser.feed(feedAs === 'bytes' ? utf8(text) : text)
        parser.feed(feedAs === 'bytes' ? utf8('data:next\n\n') : 'data:next\n\n')
        expect(events, `${feedAs}, too large in ${where}`).toEqual(['before', 'next'])
      }
    }
  })
})

describe('end of stream', () => {
  it('drops an unterminated last event on end() (a browser does the same)', () => {
    expectParse('data:1\n\ndata:2\n', { events: [ev('1')] })
    expectParse('data:1\n\ndata:2', { events: [ev('1')] })
  })

  it('drops bytes of an unfinished character on end()', () => {
    expectParse(new Uint8Array([...utf8('data:1\n\ndata:'), 0xe4, 0xb8]), { events: [ev('1')] })
  })

  it('carries nothing of a broken character into the next stream after reset()', () => {
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    // Multi-byte text first (the parser then prefers its streaming decoder)...
    parser.feed(utf8(`data: ${'é'.repeat(200)}\n\n`))
    // ...then a lone lead byte at a chunk's end, and a chunk cut inside a character.
    parser.feed(new Uint8Array([0x64, 0xe2]))
    parser.feed(new Uint8Array([0xe4, 0xb8]))
    parser.reset() // the connection dropped
    parser.feed(utf8('data: ok\n\n'))
    expect(events.map((e) => e.data)).toEqual(['é'.repeat(200), 'ok'])
  })

  it('can be reused after end(): the next stream starts fresh, BOM check included', () => {
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    parser.feed('data:1\n\ndata:half')
    parser.end()
    parser.feed(utf8('\uFEFFdata:2\n\n'))
    parser.end()
    expect(events).toEqual([ev('1'), ev('2')])
  })

  it('stops processing the chunk when a callback calls reset()', () => {
    const events: EventSourceMessage[] = []
    const parser = createParser({
      onEvent: (e) => {
        events.push(e)
        if (e.data === 'stop') parser.reset()
      },
    })
    parser.feed(utf8('data:a\n\ndata:stop\n\ndata:ignored\n\ndata:partial'))
    parser.feed(utf8('data:after\n\n'))
    expect(events.map((e) => e.data)).toEqual(['a', 'stop', 'after'])
  })
})

describe('maxEventSize', () => {
  const tooLarge = (n: number) => 'x'.repeat(n)

  it('skips an oversized event up to the next blank line, reports it once, and goes on', () => {
    expectParse(
      `data:small\n\ndata:${tooLarge(300)}\ndata:more\nevent:big\n\ndata:after\n\n`,
      { events: [ev('small'), ev('after')], errors: ['EVENT_TOO_LARGE'] },
      { maxEventSize: 100 },
    )
  })

  it('counts data gathered over many lines', () => {
    const lines = Array.from({ length: 20 }, () => `data:${tooLarge(10)}\n`).join('')
    expectParse(
      `${lines}\ndata:ok\n\n`,
      { events: [ev('ok')], errors: ['EVENT_TOO_LARGE'] },
      { maxEventSize: 100 },
    )
  })

  it('bounds a single line that never ends, however it is fed', () => {
    const got = collect(byteByByte(utf8(`data:${tooLarge(10_000)}`)), { maxEventSize: 1000 })
    expect(got.errors.map((e) => e.code)).toEqual(['EVENT_TOO_LARGE'])
    const chunks = Array.from({ length: 50 }, () => utf8(tooLarge(100)))
    const got2 = collect([utf8('data:'), ...chunks, utf8('\n\ndata:next\n\n')], {
      maxEventSize: 1000,
    })
    expect(got2.events).toEqual([ev('next')])
    expect(got2.errors).toHaveLength(1)
  })

  it('reports a SluiceError that says what to do', () => {
    const got = collect([`data:${tooLarge(200)}\n\n`], { maxEventSize: 50 })
    const err = got.errors[0]
    expect(err).toBeInstanceOf(SluiceError)
    expect(err.code).toBe('EVENT_TOO_LARGE')
    expect(err.message).toMatch(/maxEventSize/)
    expect(err.details).toMatchObject({ maxEventSize: 50 })
  })

  it('reports each oversized event once', () => {
    const big = `data:${tooLarge(200)}\ndata:${tooLarge(200)}\n\n`
    expectParse(
      `${big}data:a\n\n${big}`,
      { events: [ev('a')], errors: ['EVENT_TOO_LARGE', 'EVENT_TOO_LARGE'] },
      { maxEventSize: 100 },
    )
  })

  it('still commits the id of a skipped event, so a reconnect does not ask for it again', () => {
    expectParse(
      `id:9\ndata:${tooLarge(200)}\n\n`,
      { events: [], lastEventId: '9', errors: ['EVENT_TOO_LARGE'] },
      { maxEventSize: 100 },
    )
  })

  it('accepts events up to the bound', () => {
    expectParse(
      `data:${tooLarge(90)}\n\n`,
      { events: [ev(tooLarge(90))], errors: [] },
      {
        maxEventSize: 100,
      },
    )
  })
})

describe('arguments', () => {
  it('explains a function passed instead of callbacks', () => {
    expect(() => createParser((() => {}) as any)).toThrow(/createParser\(\{ onEvent: fn \}\)/)
  })

  it('needs onEvent and a positive maxEventSize', () => {
    expect(() => createParser({} as any)).toThrow(SluiceError)
    expect(() => createParser({ onEvent() {}, maxEventSize: 0 })).toThrow(/maxEventSize/)
  })

  it('rejects chunks that are neither bytes nor strings', () => {
    const parser = createParser({ onEvent() {} })
    expect(() => parser.feed(new ArrayBuffer(4) as any)).toThrow(/new Uint8Array/)
    expect(() => parser.feed(42 as any)).toThrow(/INVALID_ARGUMENT|Uint8Array/)
  })

  it('accepts a Node Buffer (a Uint8Array)', () => {
    expect(collect([Buffer.from('data:buf\n\n')]).events).toEqual([ev('buf')])
  })
})

describe('linear time', () => {
  // A quadratic parser (re-scanning or re-copying the partial line on every
  // feed) would need hours here; a linear one needs well under a second.
  it('parses a 10 MB line fed one byte at a time', () => {
    const size = 10_000_000
    const parser = createParser({
      onEvent: (e) => got.push(e.data.length),
      maxEventSize: size + 10,
    })
    const got: number[] = []
    const one = new Uint8Array(1)
    const started = Date.now()
    for (const b of utf8('data:')) {
      one[0] = b
      parser.feed(one)
    }
    one[0] = 120 // 'x'
    for (let i = 0; i < size; i++) parser.feed(one)
    one[0] = 10
    parser.feed(one)
    parser.feed(one)
    expect(got).toEqual([size])
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it('parses a 2 MB line fed one character at a time as strings', () => {
    const size = 2_000_000
    const got: number[] = []
    const parser = createParser({
      onEvent: (e) => got.push(e.data.length),
      maxEventSize: size + 10,
    })
    parser.feed('data:')
    for (let i = 0; i < size; i++) parser.feed('é')
    parser.feed('\n\n')
    expect(got).toEqual([size])
  })

  it('parses a 10 MB line fed in 1 KiB chunks', () => {
    const size = 10 * 1024 * 1024
    const got: number[] = []
    const parser = createParser({
      onEvent: (e) => got.push(e.data.length),
      maxEventSize: size + 10,
    })
    const chunk = utf8('y'.repeat(1024))
    parser.feed('data:')
    for (let i = 0; i < size / 1024; i++) parser.feed(chunk)
    parser.feed(utf8('\n\n'))
    expect(got).toEqual([size])
  })
})
