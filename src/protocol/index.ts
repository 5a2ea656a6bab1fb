export { createParser } from './parser.js'
export type { ParserCallbacks, EventStreamParserHandle } from './parser.js'
export { EventStreamParser } from './stream.js'
export type { EventStreamParserOptions } from './stream.js'
export { encodeEvent, encodeComment, encodeEventBytes, encodeCommentBytes } from './encoder.js'
export {
  envelope,
  encodeEnvelope,
  decodeEnvelope,
  envelopeJson,
} from './envelope.js'
export type { EnvelopeFrame } from './envelope.js'
export { SluiceError, isSluiceError } from './errors.js'
export type { SluiceErrorCode } from './errors.js'
export type { EventSourceMessage, EventInit } from './types.js'
