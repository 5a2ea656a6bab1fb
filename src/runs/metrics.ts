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

  /** Prometheus text; `active` is the number of runs this node produces now. */
  text(active: number, prefix = 'sluice_runs_'): string {
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
      exposition(`${prefix}active`, 'gauge', 'Runs this node is producing now.', [['', active]])
    )
  }
}
