/**
 * Where fetchEventSource, events() and EventSource start a stream: the engine
 * itself, or, for a stream opened with `share` in a browser that can share
 * it, src/client/share.ts. That module is loaded only then (a dynamic
 * import), so a page that never shares does not carry it.
 */
import {
  type EngineHooks,
  type FetchEventSourceInit,
  requestUrl,
  runEventStream,
} from './connection.js'

export function openStream(
  input: RequestInfo | URL,
  init: FetchEventSourceInit,
  hooks: EngineHooks = {},
): Promise<void> {
  const name = init.share ? shareName(input, init, hooks.spec === true) : undefined
  if (name === undefined || !canShare()) return runEventStream(input, init, hooks)
  return import('./share.js').then((m) => m.runShared(input, init, hooks, name))
}

/**
 * The name of the lock and channel a shared stream meets on, or undefined
 * when the stream is not shared: `share: true` shares GET streams only (a POST
 * starts something on the server; sharing it takes an explicit key).
 */
export function shareName(
  input: RequestInfo | URL,
  init: FetchEventSourceInit,
  spec: boolean,
): string | undefined {
  const kind = spec ? 'es' : 'fes'
  if (typeof init.share === 'string') return `sluice-share:${kind}:key:${init.share}`
  const method = (init.method ?? (input as { method?: string }).method ?? 'GET').toUpperCase()
  if (init.share !== true || method !== 'GET') return undefined
  return `sluice-share:${kind}:${requestUrl(input)}`
}

/** Web Locks and BroadcastChannel in a window or a worker: a browser. */
function canShare(): boolean {
  const g = globalThis as {
    BroadcastChannel?: unknown
    navigator?: { locks?: { request?: unknown } }
    document?: unknown
    WorkerGlobalScope?: unknown
  }
  return (
    typeof g.BroadcastChannel === 'function' &&
    typeof g.navigator?.locks?.request === 'function' &&
    (g.document !== undefined || g.WorkerGlobalScope !== undefined)
  )
}
