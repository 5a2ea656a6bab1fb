/**
 * `sluice/runs`: resumable runs, a layer above the hub. A producer's events go
 * into a `Store` (memory, or Redis across nodes) under the run's id; any
 * request replays what it missed and follows the rest live, and a DELETE
 * anywhere stops it. `createRuns(store)`; `sluice serve` composes it with the
 * hub. See docs/runs.md.
 */
export { createRuns } from './runs.js'
export type { Runs } from './runs.js'
export { sseRunFormat, envelopeRunFormat } from './formats.js'
export type { RunEndReason } from './log.js'
export type { RunMetrics } from './metrics.js'
export type {
  RunsOptions,
  RunOptions,
  FollowOptions,
  StopOptions,
  RunProducer,
  RunEmitter,
  RunMessage,
  RunEvent,
  RunFormat,
  StartedRun,
  StopResult,
  OpenedRun,
} from './types.js'
