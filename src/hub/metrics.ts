/**
 * The hub's counters, rendered as Prometheus text for `GET /metrics`.
 */

export type RefusedReason =
  | 'unauthorized'
  | 'forbidden'
  | 'bad_request'
  | 'body_too_large'
  | 'cors'
  | 'method_not_allowed'
  | 'not_found'
  | (string & {})

export class HubMetrics {
  /** Subscriber connections open now (wire and in-process). */
  connections = 0
  connectionsTotal = 0
  /** Events appended through this node. */
  published = 0
  /** Events written to subscribers (live and replayed). */
  delivered = 0
  /** Of those, events sent from history on a resume. */
  replayed = 0
  /** Subscribers cut because their queue passed the cap. */
  slowConsumerDisconnects = 0
  /** Loss notices sent (`sluice-reset`), by kind. */
  readonly historyNotices: Record<'reset' | 'truncated', number> = { reset: 0, truncated: 0 }
  /** Requests refused, by reason. */
  readonly refused: Record<string, number> = {}
  /** Topics this node reads from the store now. */
  topicsWatched = 0
  /** More exposition text after the hub's own, by name (see addSection). */
  private readonly sections = new Map<string, () => string>()

  /**
   * Show another layer's counters in `GET /metrics`, after the hub's own: `text()`
   * is called on each scrape. One section per name; adding a name again replaces
   * it. `sluice serve` adds its runs this way:
   * `hub.metrics.addSection('runs', () => runs.metricsText())`.
   */
  addSection(name: string, text: () => string): void {
    this.sections.set(name, text)
  }

  refuse(reason: RefusedReason): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1
  }

  /** Prometheus text exposition format (version 0.0.4). */
  text(prefix = 'sluice_hub_'): string {
    const lines: string[] = []
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`)
      for (const [labels, v] of samples) lines.push(`${prefix}${name}${labels} ${v}`)
    }
    metric('connections', 'gauge', 'Subscriber connections open now.', [['', this.connections]])
    metric('connections_total', 'counter', 'Subscriber connections opened.', [
      ['', this.connectionsTotal],
    ])
    metric('published_total', 'counter', 'Events published through this node.', [
      ['', this.published],
    ])
    metric('delivered_total', 'counter', 'Events written to subscribers (live and replayed).', [
      ['', this.delivered],
    ])
    metric('replayed_total', 'counter', 'Events sent from history on resume.', [
      ['', this.replayed],
    ])
    metric(
      'slow_consumer_disconnects_total',
      'counter',
      'Subscribers disconnected because their queue passed its cap.',
      [['', this.slowConsumerDisconnects]],
    )
    metric(
      'history_notices_total',
      'counter',
      'sluice-reset notices sent: history reset (new epoch) or truncated.',
      Object.entries(this.historyNotices).map(([k, v]) => [`{kind="${k}"}`, v]),
    )
    const refused = Object.entries(this.refused)
    metric(
      'refused_total',
      'counter',
      'Requests refused, by reason.',
      refused.length ? refused.map(([k, v]) => [`{reason="${k}"}`, v]) : [['{reason="none"}', 0]],
    )
    metric('topics_watched', 'gauge', 'Topics this node reads from the store now.', [
      ['', this.topicsWatched],
    ])
    let text = lines.join('\n') + '\n'
    for (const section of this.sections.values()) text += section()
    return text
  }
}

/** Prometheus text of one metric (for the counters of other layers too). */
export function exposition(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  samples: [string, number][],
): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`
  for (const [labels, v] of samples) out += `${name}${labels} ${v}\n`
  return out
}
