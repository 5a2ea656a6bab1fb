/** The Redis keys of one hub (one prefix): nodes that share a prefix are one hub. */
export class RedisKeys {
  /** The epoch, created once with SET NX: a flushed or restarted Redis gets a new one. */
  readonly epoch: string
  /** The hub-wide counter every append INCRBYs. */
  readonly seq: string
  private readonly topicPrefix: string
  private readonly markPrefix: string

  constructor(prefix: string) {
    this.epoch = prefix + 'epoch'
    this.seq = prefix + 'seq'
    this.topicPrefix = prefix + 'topic:'
    this.markPrefix = prefix + 'trimmed:'
  }

  /** A topic's stream. */
  stream(topic: string): string {
    return this.topicPrefix + topic
  }

  /** The topic a stream key belongs to. */
  topicOf(streamKey: string): string {
    return streamKey.slice(this.topicPrefix.length)
  }

  /** The highest seq trimmed from a topic's stream (see APPEND_LUA). */
  mark(topic: string): string {
    return this.markPrefix + topic
  }
}
