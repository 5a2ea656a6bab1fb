/** The body of `POST /publish`: `{"topic","data","event"?}`, each part checked, a 400 naming what is wrong. */
import { SluiceError } from '../protocol/errors.js'

export interface PublishBody {
  topic: string
  data: unknown
  event?: string
}

function bad(message: string): SluiceError {
  return new SluiceError('BAD_REQUEST', message)
}

export function parsePublishBody(text: string): PublishBody {
  let body: any
  try {
    body = JSON.parse(text)
  } catch (cause) {
    throw new SluiceError(
      'INVALID_JSON',
      `The body is not valid JSON (${(cause as Error).message}); send {"topic":"news","data":"hello"}.`,
    )
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('Send a JSON object: {"topic":"news","data":"hello"}.')
  }
  if (body.topic === undefined) throw bad('The body needs a "topic" (a string).')
  if (body.data === undefined) throw bad('The body needs "data" (a string or any JSON value).')
  if (body.event !== undefined && typeof body.event !== 'string') {
    throw bad('"event" must be a string.')
  }
  if (typeof body.topic !== 'string') throw bad('"topic" must be a string.')
  return body.event === undefined
    ? { topic: body.topic, data: body.data }
    : { topic: body.topic, data: body.data, event: body.event }
}
