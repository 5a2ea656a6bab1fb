/**
 * The guide's envelope: every event is exactly one `data:` line holding JSON,
 * so a client that reads line by line and calls `json.loads(line[5:])` works.
 *
 *   {"code":200,"data":...}                          a chunk (text or any JSON value)
 *   {"code":200,"encoding":"base64","data":"..."}    a binary chunk
 *   {"code":-200}                                    the end
 *   {"code":500,"message":"..."}                     an error (then the stream ends)
 *   {"code":102}                                     keep-alive, ignored by readers
 *
 * The guide says event streams carry only text; the base64 frame shows
 * otherwise. `JSON.stringify` escapes CR and LF inside strings, so a frame is
 * always a single line.
 */
import { SluiceError } from './errors.js'

export const ENVELOPE_CHUNK = 200
export const ENVELOPE_END = -200
export const ENVELOPE_ERROR = 500
export const ENVELOPE_KEEPALIVE = 102

export type EnvelopeFrame =
  | { kind: 'chunk'; data: unknown }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'end' }
  | { kind: 'error'; message: string; code: number }
  | { kind: 'keepalive' }

/** The JSON object of a frame (what goes after `data:`). */
export function envelopeJson(frame: EnvelopeFrame): string {
  switch (frame.kind) {
    case 'chunk':
      if (frame.data === undefined) {
        throw new SluiceError(
          'INVALID_ENVELOPE',
          'An envelope chunk needs `data` (use null for "nothing").',
        )
      }
      return '{"code":200,"data":' + JSON.stringify(frame.data) + '}'
    case 'binary':
      return '{"code":200,"encoding":"base64","data":"' + toBase64(frame.data) + '"}'
    case 'end':
      return '{"code":-200}'
    case 'error':
      return JSON.stringify({ code: frame.code || ENVELOPE_ERROR, message: String(frame.message) })
    case 'keepalive':
      return '{"code":102}'
    default:
      throw new SluiceError(
        'INVALID_ENVELOPE',
        `Unknown envelope frame kind: ${(frame as any)?.kind}.`,
      )
  }
}

/** A whole event-stream event carrying the frame: `data:{...}\n\n`. */
export function encodeEnvelope(frame: EnvelopeFrame): string {
  return 'data:' + envelopeJson(frame) + '\n\n'
}

export const envelope = {
  chunk: (data: unknown): string => encodeEnvelope({ kind: 'chunk', data }),
  binary: (data: Uint8Array): string => encodeEnvelope({ kind: 'binary', data }),
  end: (): string => encodeEnvelope({ kind: 'end' }),
  error: (message: string, code = ENVELOPE_ERROR): string =>
    encodeEnvelope({ kind: 'error', message, code }),
  keepalive: (): string => encodeEnvelope({ kind: 'keepalive' }),
}

/** Decode the `data` of an event (or a raw line starting with `data:`) into a frame. */
export function decodeEnvelope(data: string): EnvelopeFrame {
  let text = data
  if (text.startsWith('data:')) text = text.slice(text.charCodeAt(5) === 32 ? 6 : 5)
  let obj: any
  try {
    obj = JSON.parse(text)
  } catch (cause) {
    throw new SluiceError(
      'INVALID_ENVELOPE',
      'Envelope data is not JSON: ' + snippet(text),
      {},
      { cause },
    )
  }
  if (obj === null || typeof obj !== 'object' || typeof obj.code !== 'number') {
    throw new SluiceError(
      'INVALID_ENVELOPE',
      'Envelope JSON needs a numeric `code`: ' + snippet(text),
    )
  }
  switch (obj.code) {
    case ENVELOPE_CHUNK:
      if (obj.encoding === 'base64') {
        if (typeof obj.data !== 'string') {
          throw new SluiceError('INVALID_ENVELOPE', 'A base64 envelope needs string `data`.')
        }
        return { kind: 'binary', data: fromBase64(obj.data) }
      }
      if (obj.encoding !== undefined) {
        throw new SluiceError(
          'INVALID_ENVELOPE',
          `Unknown envelope encoding ${JSON.stringify(obj.encoding)}.`,
        )
      }
      return { kind: 'chunk', data: obj.data }
    case ENVELOPE_END:
      return { kind: 'end' }
    case ENVELOPE_KEEPALIVE:
      return { kind: 'keepalive' }
    default:
      if (obj.code >= 400 || typeof obj.message === 'string') {
        return { kind: 'error', code: obj.code, message: String(obj.message ?? '') }
      }
      throw new SluiceError('INVALID_ENVELOPE', `Unknown envelope code ${obj.code}.`)
  }
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Base64 without Buffer, so the envelope works in browsers and workers too. */
export function toBase64(bytes: Uint8Array): string {
  let out = ''
  const n = bytes.length
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63]
  }
  if (i < n) {
    const v = (bytes[i] << 16) | (i + 1 < n ? bytes[i + 1] << 8 : 0)
    out += B64[v >> 18] + B64[(v >> 12) & 63] + (i + 1 < n ? B64[(v >> 6) & 63] : '=') + '='
  }
  return out
}

export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '')
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) {
    throw new SluiceError('INVALID_ENVELOPE', 'Envelope data is not valid base64.')
  }
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4))
  let o = 0
  for (let i = 0; i < clean.length; i += 4) {
    const a = B64.indexOf(clean[i])
    const b = B64.indexOf(clean[i + 1])
    const c = i + 2 < clean.length ? B64.indexOf(clean[i + 2]) : 0
    const d = i + 3 < clean.length ? B64.indexOf(clean[i + 3]) : 0
    const v = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = v >> 16
    if (i + 2 < clean.length) out[o++] = (v >> 8) & 255
    if (i + 3 < clean.length) out[o++] = v & 255
  }
  return out
}
