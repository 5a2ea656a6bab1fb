import { createParser, type ParserCallbacks } from './parser.js'
import type { SluiceError } from './errors.js'
import type { EventSourceMessage } from './types.js'

export interface EventStreamParserOptions extends Omit<ParserCallbacks, 'onEvent' | 'onError'> {
  /**
   * What to do when an event is too large: `'terminate'` errors the stream,
   * a function is called and parsing goes on. Default: parsing goes on and the
   * error is dropped, as with `createParser` without `onError`.
   */
  onError?: 'terminate' | ((error: SluiceError) => void)
}

/**
 * A `TransformStream` from bytes (or strings) to events:
 * `response.body.pipeThrough(new EventStreamParser())`.
 */
export class EventStreamParser extends TransformStream<Uint8Array | string, EventSourceMessage> {
  constructor(options: EventStreamParserOptions = {}) {
    let parser!: ReturnType<typeof createParser>
    const { onError, ...rest } = options
    super({
      start(controller) {
        parser = createParser({
          ...rest,
          onEvent: (event) => controller.enqueue(event),
          onError:
            onError === 'terminate'
              ? (error) => {
                  controller.error(error)
                  // Stop here: the rest of the chunk belongs to a failed stream.
                  parser.reset()
                }
              : typeof onError === 'function'
                ? onError
                : undefined,
        })
      },
      transform(chunk) {
        parser.feed(chunk)
      },
      flush() {
        parser.end()
      },
    })
  }
}
