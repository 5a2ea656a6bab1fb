/**
 * The guide's envelope: each event is one `data:` line of JSON that the
 * guide's Python client reads with `json.loads(line[5:])`.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeEnvelope,
  encodeEnvelope,
  envelope,
  envelopeJson,
  type EnvelopeFrame,
  isSluiceError,
} from '../../src/protocol/index.js'
import { collect } from './collect.js'

/** Split an encoded stream into lines the way `requests.iter_lines()` + a `data:` filter would. */
function dataLines(stream: string): string[] {
  return stream.split('\n').filter((line) => line.startsWith('data:'))
}

describe('envelope frames', () => {
  it('writes the guide’s chunk and end frames', () => {
    expect(envelope.chunk('你')).toBe('data:{"code":200,"data":"你"}\n\n')
    expect(envelope.end()).toBe('data:{"code":-200}\n\n')
  })

  it('is read by a line-by-line reader with JSON.parse(line.slice(5))', () => {
    const stream = envelope.chunk('he') + envelope.chunk({ text: 'llo\n' }) + envelope.end()
    const frames = dataLines(stream).map((line) => JSON.parse(line.slice(5)))
    expect(frames).toEqual([
      { code: 200, data: 'he' },
      { code: 200, data: { text: 'llo\n' } },
      { code: -200 },
    ])
  })

  it('writes error and keep-alive frames', () => {
    expect(envelope.error('model overloaded')).toBe(
      'data:{"code":500,"message":"model overloaded"}\n\n',
    )
    expect(envelope.error('busy', 503)).toBe('data:{"code":503,"message":"busy"}\n\n')
    expect(envelope.keepalive()).toBe('data:{"code":102}\n\n')
    expect(decodeEnvelope('{"code":503,"message":"busy"}')).toEqual({
      kind: 'error',
      code: 503,
      message: 'busy',
    })
    expect(decodeEnvelope(envelopeJson({ kind: 'keepalive' }))).toEqual({ kind: 'keepalive' })
  })

  it('decodes every frame kind, from event data or from a raw `data:` line', () => {
    const frames: EnvelopeFrame[] = [
      { kind: 'chunk', data: 'text' },
      { kind: 'chunk', data: { role: 'assistant', content: 'hi' } },
      { kind: 'chunk', data: null },
      { kind: 'binary', data: new Uint8Array([0, 1, 2, 253, 254, 255]) },
      { kind: 'end' },
      { kind: 'error', code: 500, message: 'boom' },
      { kind: 'keepalive' },
    ]
    for (const frame of frames) {
      const line = encodeEnvelope(frame).trimEnd()
      expect(decodeEnvelope(line)).toEqual(frame)
      expect(decodeEnvelope(line.replace('data:', 'data: '))).toEqual(frame)
      expect(decodeEnvelope(collect([encodeEnvelope(frame)]).events[0].data)).toEqual(frame)
    }
  })

  it('round-trips arbitrary bytes through base64 (the guide says streams carry only text)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const stream = envelope.binary(bytes)
        expect(stream).toMatch(
          /^data:\{"code":200,"encoding":"base64","data":"[A-Za-z0-9+/=]*"\}\n\n$/,
        )
        const frame = decodeEnvelope(collect([stream]).events[0].data)
        expect(frame).toEqual({ kind: 'binary', data: bytes })
        // The same bytes as Node's own base64.
        expect(JSON.parse(stream.slice(5)).data).toBe(Buffer.from(bytes).toString('base64'))
      }),
      { numRuns: 500 },
    )
  })

  it('keeps every frame on exactly one data: line, whatever the payload', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((data): EnvelopeFrame => ({ kind: 'chunk', data })),
          fc
            .string({ unit: 'binary' })
            .map((message): EnvelopeFrame => ({ kind: 'error', code: 500, message })),
          fc
            .string({ unit: 'binary' })
            .map((data): EnvelopeFrame => ({ kind: 'chunk', data: `${data}\r\n\r${data}` })),
        ),
        (frame) => {
          const stream = encodeEnvelope(frame)
          expect(stream.endsWith('\n\n')).toBe(true)
          const body = stream.slice(0, -2)
          expect(body.startsWith('data:')).toBe(true)
          expect(/[\r\n]/.test(body)).toBe(false)
          const events = collect([stream]).events
          expect(events).toHaveLength(1)
          const decoded = decodeEnvelope(events[0].data)
          if (frame.kind === 'chunk') {
            // JSON has no -0 and no undefined inside arrays/objects.
            expect(decoded).toEqual({ kind: 'chunk', data: JSON.parse(JSON.stringify(frame.data)) })
          } else {
            expect(decoded).toEqual(frame)
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('envelope errors are INVALID_ENVELOPE', () => {
  const bad = [
    ['not JSON', 'hello'],
    ['JSON without a code', '{"data":1}'],
    ['a non-numeric code', '{"code":"200"}'],
    ['a JSON array', '[200]'],
    ['an unknown code', '{"code":201}'],
    ['an unknown encoding', '{"code":200,"encoding":"hex","data":"00"}'],
    ['base64 data that is not a string', '{"code":200,"encoding":"base64","data":5}'],
    ['invalid base64', '{"code":200,"encoding":"base64","data":"@@@@"}'],
    ['truncated base64', '{"code":200,"encoding":"base64","data":"QUJDR"}'],
  ] as const
  for (const [what, data] of bad) {
    it(`rejects ${what}`, () => {
      let error: unknown
      try {
        decodeEnvelope(data)
      } catch (err) {
        error = err
      }
      expect(isSluiceError(error, 'INVALID_ENVELOPE')).toBe(true)
    })
  }

  it('refuses to encode a chunk without data, or an unknown kind', () => {
    expect(() => envelopeJson({ kind: 'chunk', data: undefined })).toThrow(
      expect.objectContaining({ code: 'INVALID_ENVELOPE' }),
    )
    expect(() => envelopeJson({ kind: 'nope' } as any)).toThrow(
      expect.objectContaining({ code: 'INVALID_ENVELOPE' }),
    )
  })
})
