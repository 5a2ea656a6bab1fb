/**
 * The counters of resumable runs, rendered as Prometheus text for
 * `GET /metrics` (`runs.metricsText()`; `sluice serve` adds it to the hub's).
 */
import { exposition } from '../hub/metrics.js'

export class RunMetrics {
  /** Runs started on this node. */
  started = 0
  /** Runs this node produced that ended, by the reason of their final `done` event. */
  readonly ended: Record<'complete' | 'stopped' | 'error' | 'lost', number> = {
    complete: 0,
    stopped: 0,
    error: 0,
    lost: 0,
  }
  /** Followers on this node that found a run produced elsewhere lost (lease lapsed, log gone). */
  lostDetected = 0
  /** Resume requests (`GET` on a resume URL) that were answered with the run (200 or 204). */
  resumed = 0
  /** New runs refused: `limit` (maxActive), `budget` (memoryBudget), `store` (its first write failed). */
  readonly refused: Record<'limit' | 'budget' | 'store', number> = { limit: 0, budget: 0, store: 0 }
  /** Finished runs dropped from the store before their TTL to make room. */
  evicted = 0
  /** Runs stopped because nobody followed them (stopOnDisconnect, abandonAfter). */
  abandoned = 0

  /** Prometheus text; `active` is the number of runs this node produces now, `memory` what they hold. */
  text(
    active: number,
    memory: { logs: number; buffers: number; limit: number } = { logs: 0, buffers: 0, limit: 0 },
    prefix = 'sluice_runs_',
  ): string {
    return (
      exposition(`${prefix}started_total`, 'counter', 'Runs started on this node.', [
        ['', this.started],
      ]) +
      exposition(
        `${prefix}ended_total`,
        'counter',
        'Runs produced on this node that ended, by reason (complete, stopped, error, lost).',
        Object.entries(this.ended).map(([k, v]) => [`{reason="${k}"}`, v]),
      ) +
      exposition(
        `${prefix}lost_detected_total`,
        'counter',
        'Followers on this node told that a run produced elsewhere was lost (its lease lapsed or its log vanished).',
        [['', this.lostDetected]],
      ) +
      exposition(
        `${prefix}resumed_total`,
        'counter',
        'Resume requests (GET on a resume URL) answered with the run.',
        [['', this.resumed]],
      ) +
      exposition(`${prefix}active`, 'gauge', 'Runs this node is producing now.', [['', active]]) +
      exposition(
        `${prefix}refused_total`,
        'counter',
        'New runs refused with 503: limit (maxActive), budget (memoryBudget), store (the store failed).',
        Object.entries(this.refused).map(([k, v]) => [`{reason="${k}"}`, v]),
      ) +
      exposition(
        `${prefix}evicted_total`,
        'counter',
        'Finished runs dropped from the store before their TTL to make room in the budget.',
        [['', this.evicted]],
      ) +
      exposition(
        `${prefix}abandoned_total`,
        'counter',
        'Runs stopped because nobody followed them (stopOnDisconnect, abandonAfter).',
        [['', this.abandoned]],
      ) +
      exposition(
        `${prefix}bytes`,
        'gauge',
        "Bytes this node's runs hold (estimated): logs of running and finished runs, followers' buffers.",
        [
          ['{kind="logs"}', memory.logs],
          ['{kind="buffers"}', memory.buffers],
        ],
      ) +
      exposition(`${prefix}memory_budget_bytes`, 'gauge', 'The budget of those bytes.', [
        ['', memory.limit],
      ])
    )
  }
}
