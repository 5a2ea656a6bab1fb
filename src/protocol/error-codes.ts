/**
 * Every code sluice raises or answers with, and its meaning in a line: the
 * registry that the code union (SluiceErrorCode) is derived from and that
 * docs/errors.md is checked against (test/protocol/error-codes.test.ts).
 * Kept apart from errors.ts so that bundles with SluiceError do not carry
 * these strings (errors.ts imports this module's type only).
 */
export const ERROR_CODES = {
  // protocol
  EVENT_TOO_LARGE: 'an event outgrew the parser’s maxEventSize; it was skipped',
  INVALID_FIELD:
    'an event field cannot be encoded (line break in event/id, bad retry, non-string data)',
  INVALID_ENVELOPE: 'data is not a valid {"code":...} envelope',
  INVALID_ARGUMENT: 'a function was called with a bad argument or option',
  // server
  STREAM_CLOSED: 'send() after the stream (or hub, run, runs manager) ended',
  SLOW_CONSUMER: 'the reader fell too far behind; the stream was cut',
  TIMEOUT: 'nothing arrived for heartbeatTimeout ms; the client reconnects',
  ABORTED: 'the client closed the connection before sending its whole body',
  INTERNAL: 'a failure whose cause is not shown to the client',
  // sluice serve (HTTP answers; see docs/server.md)
  INVALID_JSON: 'the request body is empty or not JSON',
  MISSING_MESSAGE: 'the chat body has no message string',
  BODY_TOO_LARGE: 'the request body is over the limit (64 KiB)',
  METHOD_NOT_ALLOWED: 'a known path with another method (see Allow)',
  SHUTTING_DOWN: 'the server is stopping',
  MODEL_FAILED: 'the simulated chat model failed (event: error)',
  APP_NOT_BUILT: 'the demo page was not built into dist/app',
  BAD_GATEWAY: 'sluice proxy could not reach its target',
  // client
  BAD_STATUS: 'the server answered a status other than 200 (details.status)',
  BAD_CONTENT_TYPE: 'a 200 that is not text/event-stream',
  NETWORK: 'a network failure (retried)',
  RETRIES_EXHAUSTED: 'maxRetries or the deadline was reached',
  DECODE_FAILED: 'an event’s data could not be decoded',
  // hub
  UNAUTHORIZED: 'no valid token where one is needed',
  FORBIDDEN: 'the token’s claims do not cover the topic',
  BAD_REQUEST: 'a bad query parameter, topic, body or URL',
  NOT_FOUND: 'no route or asset for the path',
  HISTORY_RESET: 'declared; a lost history is told by Sluice-History instead',
  STORE_ERROR: 'the store failed (Redis down, a closed store)',
  CORS_REFUSED: 'an origin that is not allowed',
  UNSUPPORTED_MEDIA_TYPE: 'a cookie-authorized publish that is not JSON',
  MISSING_DEPENDENCY: 'an optional peer dependency (ioredis) is not installed',
  // resumable runs
  RUN_NOT_FOUND: 'no such run on this store (never existed, or expired)',
  RUN_LIMIT: 'the node already produces maxActive runs',
  RUN_BUDGET:
    'the runs of this node hold their memoryBudget (a new run refused, or a running one ended)',
  RUN_EXISTS: 'a run with that id exists already',
  RUN_FORBIDDEN: 'the run belongs to another token subject',
  RUN_TRUNCATED: 'a resumed run lost events older than what is kept',
  RUN_FAILED: 'the run’s producer threw (event: error)',
  RUN_STOPPED: 'the run was stopped, lost or shut down (abort reason)',
  RUN_ENDED: 'the run ended normally (abort reason)',
} as const
