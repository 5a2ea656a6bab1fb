/**
 * `sluice/envelope`: the guide's envelope codec (`data:{"code":200,"data":...}`
 * frames), also exported from `sluice/parser`. See docs/protocol.md.
 */
export { decodeEnvelope, encodeEnvelope, envelope, envelopeJson } from './envelope.js'
export type { EnvelopeFrame } from './envelope.js'
