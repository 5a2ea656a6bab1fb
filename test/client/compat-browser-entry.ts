// The compatibility scenarios, bundled for the page: each drives a
// fetchEventSource implementation and logs its callback sequence.
import { fetchEventSource as fes } from '@microsoft/fetch-event-source'
import { fetchEventSource as sluice } from '../../src/client/fetch-event-source.js'

type Impl = (url: string, init: any) => Promise<void>
const impls: Record<string, Impl> = { fes: fes as Impl, sluice: sluice as Impl }

class FatalError extends Error {
  override name = 'FatalError'
}
class RetriableError extends Error {
  override name = 'RetriableError'
}

const msg = (m: { id: string; event: string; data: string }) =>
  'message ' + JSON.stringify([m.id, m.event, m.data])
const open = (log: string[]) => async (r: Response) => void log.push('open ' + r.status)

/** Abort after `ms`: the scenarios that retry forever in one implementation are bounded in time. */
function abortAfter(ctrl: AbortController, ms: number) {
  setTimeout(() => ctrl.abort(), ms)
}

/** Log each message and abort after the `n`-th; `init` adds the scenario's own options. */
function logMessages(f: Impl, url: string, log: string[], n: number, init: object = {}) {
  const ctrl = new AbortController()
  let seen = 0
  return f(url, {
    ...init,
    signal: ctrl.signal,
    onmessage: (m: any) => {
      log.push(msg(m))
      if (++seen === n) ctrl.abort()
    },
  })
}

const scenarios: Record<string, (f: Impl, url: string, log: string[]) => Promise<void>> = {
  // ---- identical in both ----
  async basic(f, url, log) {
    await logMessages(f, url, log, 2, { onopen: open(log), onclose: () => log.push('close') })
  },
  // The FatalError / RetriableError pattern from the fetch-event-source README.
  async 'fatal-onopen'(f, url, log) {
    await f(url, {
      async onopen(r: Response) {
        log.push('open ' + r.status)
        if (r.ok && r.headers.get('content-type')?.startsWith('text/event-stream')) return
        if (r.status >= 400 && r.status < 500 && r.status !== 429) throw new FatalError()
        throw new RetriableError()
      },
      onmessage: (m: any) => log.push(msg(m)),
      onerror(err: Error) {
        log.push('error ' + err.name)
        if (err instanceof FatalError) throw err
      },
    })
  },
  async 'onerror-number'(f, url, log) {
    await logMessages(f, url, log, 1, {
      onerror: () => {
        log.push('error')
        return 50
      },
    })
  },
  async 'onclose-throw'(f, url, log) {
    await logMessages(f, url, log, 2, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'hello' }),
      onopen: open(log),
      onclose: () => {
        log.push('close')
        throw new RetriableError()
      },
      onerror: (e: Error) => void log.push('error ' + e.name),
    })
  },
  async headers(f, url, log) {
    await logMessages(f, url, log, 1, { headers: { 'x-token': 'abc' } })
  },
  // Without openWhenHidden: hiding the page closes the stream, showing it reconnects.
  async visibility(f, url, log) {
    const ctrl = new AbortController()
    let hidden = false
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden })
    const flip = (h: boolean) => {
      hidden = h
      log.push(h ? 'hidden' : 'visible')
      document.dispatchEvent(new Event('visibilitychange'))
    }
    let n = 0
    await f(url, {
      signal: ctrl.signal,
      onopen: open(log),
      onmessage: (m: any) => {
        log.push(msg(m))
        if (++n === 1) {
          flip(true)
          setTimeout(() => flip(false), 300)
        } else ctrl.abort()
      },
      onclose: () => log.push('close'),
      onerror: () => void log.push('error'),
    })
    delete (document as any).hidden
  },
  // ---- the bug fixes ----
  async 'heartbeat-comments'(f, url, log) {
    const ctrl = new AbortController()
    await f(url, {
      signal: ctrl.signal,
      onmessage: (m: any) => {
        log.push(msg(m))
        if (m.data === 'x') ctrl.abort()
      },
    })
  },
  async 'leading-empty-data'(f, url, log) {
    await logMessages(f, url, log, 1)
  },
  async 'id-in-force'(f, url, log) {
    await logMessages(f, url, log, 2)
  },
  async 'accept-case'(f, url, log) {
    await logMessages(f, url, log, 1, { headers: { Accept: 'text/event-stream' } })
  },
  async 'wrong-type'(f, url, log) {
    const ctrl = new AbortController()
    abortAfter(ctrl, 2300)
    await f(url, { signal: ctrl.signal, onerror: () => void log.push('error') })
  },
  async 'no-backoff'(f, url, log) {
    const ctrl = new AbortController()
    abortAfter(ctrl, 2300)
    await f(url, {
      signal: ctrl.signal,
      retry: { initialDelay: 100, jitter: 0 }, // sluice's option; fetch-event-source passes it to fetch, unused
      onopen: async (r: Response) => {
        if (!r.ok) throw new RetriableError()
      },
      onerror: () => void log.push('error'),
    })
  },
  async 'status-404'(f, url, log) {
    await f(url, {
      onmessage: (m: any) => log.push(msg(m)),
      onclose: () => log.push('close'),
      onerror: (e: any) => {
        log.push('error')
        if (e?.code) throw e // sluice: final; fetch-event-source never gets here
      },
    })
  },
  async 'status-204'(f, url, log) {
    const ctrl = new AbortController()
    abortAfter(ctrl, 2300)
    await f(url, {
      signal: ctrl.signal,
      onclose: () => log.push('close'),
      onerror: () => void log.push('error'),
    })
  },
  async 'abort-callback'(f, url, log) {
    await logMessages(f, url, log, 1, {
      onclose: () => log.push('close'),
      onabort: () => log.push('abort'),
    })
  },
  async 'clean-end'(f, url, log) {
    await logMessages(f, url, log, 2, { onopen: open(log), onclose: () => log.push('close') })
  },
  // The guide's onerror: log, then abort the controller.
  async 'guide-onerror-abort'(f, url, log) {
    const ctrl = new AbortController()
    await f(url, {
      signal: ctrl.signal,
      onerror: () => {
        log.push('error')
        ctrl.abort()
      },
    })
    await new Promise((r) => setTimeout(r, 2300)) // a quiet wait: a retry would be logged by now
  },
}

;(globalThis as any).runCompat = async (impl: string, name: string) => {
  const log: string[] = []
  const url = `${location.origin}/c/${name}/${impl}`
  try {
    await scenarios[name](impls[impl], url, log)
    log.push('resolved')
  } catch (e: any) {
    log.push('rejected ' + (e?.code ?? e?.name))
  }
  return log
}
