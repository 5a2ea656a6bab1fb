import type { EventStream } from './event-stream.js'

/** Run a producer: a sync throw or a rejection ends the stream with `completeWithError`. */
export function runProducer(stream: EventStream, producer: () => unknown): void {
  try {
    const result = producer()
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      ;(result as PromiseLike<unknown>).then(undefined, (err) => stream.completeWithError(err))
    }
  } catch (err) {
    stream.completeWithError(err)
  }
}
