/**
 * `hub.subscribe()`: an in-process subscription as an async iterator, with a
 * bounded queue (`maxQueue`; past it the subscriber is ended with
 * SLOW_CONSUMER and resumes with its last id), ended by `signal`, `return()`
 * or the hub's close. Its state is explicit fields, not closures.
 */
import { SluiceError } from '../protocol/errors.js'
import type { HubCore, OpenedSubscription, SubscribeOptions } from './contract.js'
import type { HubEvent } from './subscription.js'

/** The bytes an in-process subscriber's output is handed: it reads the event objects. */
const EMPTY = new Uint8Array(0)

export class LocalSubscription implements AsyncIterator<HubEvent> {
  private readonly queue: HubEvent[] = []
  private readonly maxQueue: number
  private wake: (() => void) | null = null
  private failure: unknown = null
  private done = false
  private opened: OpenedSubscription | null = null
  private readonly unregister: () => void
  private readonly ready: Promise<void>

  constructor(
    private readonly hub: HubCore,
    topics: readonly string[],
    private readonly options: SubscribeOptions,
  ) {
    this.maxQueue = options.maxQueue ?? 10_000
    hub.metrics.connections++
    hub.metrics.connectionsTotal++
    this.unregister = hub.onClose(this.finish)
    if (options.signal?.aborted) this.finish()
    options.signal?.addEventListener('abort', this.finish, { once: true })
    this.ready = hub.open(topics, options.lastEventId ?? '').then(
      (o) => this.started(o),
      (err) => this.fail(err),
    )
  }

  async next(): Promise<IteratorResult<HubEvent>> {
    await this.ready
    for (;;) {
      if (this.queue.length > 0) return { value: this.queue.shift()!, done: false }
      if (this.failure) {
        const err = this.failure
        this.failure = null
        throw err
      }
      if (this.done) return { value: undefined, done: true }
      await new Promise<void>((r) => (this.wake = r))
      this.wake = null
    }
  }

  async return(): Promise<IteratorResult<HubEvent>> {
    this.finish()
    return { value: undefined, done: true }
  }

  private started(o: OpenedSubscription): void {
    this.opened = o
    if (this.done) {
      o.close()
      return
    }
    const hub = this.hub
    const self = this
    o.start({
      event(e) {
        hub.metrics.delivered++
        self.push({ id: e.id, topic: e.topic, event: e.event ?? '', data: e.data })
      },
      events(events) {
        for (const e of events) this.event(e, EMPTY, false)
      },
      notice(e) {
        self.push(e)
      },
      overflow() {
        self.slow(
          'Too many live events arrived while history was replayed; resume with the last id.',
        )
      },
    })
  }

  private push(e: HubEvent): void {
    if (this.done) return
    if (this.queue.length >= this.maxQueue) {
      this.slow(
        `The subscriber fell ${this.maxQueue} events behind (maxQueue) and was ended; resume with its last id.`,
        { maxQueue: this.maxQueue },
      )
      return
    }
    this.queue.push(e)
    this.wake?.()
  }

  private slow(message: string, details?: Record<string, unknown>): void {
    this.failure = new SluiceError('SLOW_CONSUMER', message, details)
    this.hub.metrics.slowConsumerDisconnects++
    this.finish()
  }

  private fail(err: unknown): void {
    this.failure = err
    this.finish()
  }

  private readonly finish = (): void => {
    if (this.done) return
    this.done = true
    this.unregister?.()
    this.hub.metrics.connections--
    this.opened?.close()
    this.options.signal?.removeEventListener('abort', this.finish)
    this.wake?.()
  }
}
