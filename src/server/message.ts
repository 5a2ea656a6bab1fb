/**
 * What `send()` turns into an event: a string as data, an event-shaped object
 * as an event, anything else as JSON data; and the default error frame.
 */
import { SluiceError } from '../protocol/errors.js'
import type { EventInit } from '../protocol/types.js'
import type { SendEvent } from './options.js'

const EVENT_KEYS = new Set(['data', 'event', 'id', 'retry'])

/** A plain object whose keys are all among data/event/id/retry is an event; anything else is data. */
function isEventShape(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  let any = false
  for (const key in value) {
    if (!EVENT_KEYS.has(key)) return false
    any = true
  }
  return any
}

function dataText(data: unknown): string | undefined {
  if (data === undefined) return undefined
  if (typeof data === 'string') return data
  const json = JSON.stringify(data)
  if (json === undefined) {
    throw new SluiceError(
      'INVALID_FIELD',
      `Cannot send ${typeof data} as data: it has no JSON form.`,
      {
        field: 'data',
      },
    )
  }
  return json
}

export function toEventInit(message: unknown): EventInit {
  if (typeof message === 'string') return { data: message }
  if (message === undefined) {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`send()` needs something to send: a string, an event `{ data, event?, id?, retry? }`, or a JSON value.',
    )
  }
  if (message !== null && typeof message === 'object' && isEventShape(message)) {
    const m = message as SendEvent
    const init: EventInit = {}
    const data = dataText(m.data)
    if (data !== undefined) init.data = data
    if (m.event !== undefined) init.event = m.event
    if (m.id !== undefined) init.id = m.id
    if (m.retry !== undefined) init.retry = m.retry
    return init
  }
  return { data: dataText(message) }
}

/** The default error frame: safe to show a user. */
export function defaultFormatError(error: unknown): SendEvent {
  const exposed =
    error instanceof SluiceError ||
    (error !== null && typeof error === 'object' && (error as { expose?: unknown }).expose === true)
  const code =
    error !== null && typeof error === 'object' && typeof (error as any).code === 'string'
      ? (error as any).code
      : 'INTERNAL'
  const message =
    exposed && error instanceof Error
      ? error.message
      : 'The server failed while streaming this response.'
  return { event: 'error', data: JSON.stringify({ error: exposed ? code : 'INTERNAL', message }) }
}
