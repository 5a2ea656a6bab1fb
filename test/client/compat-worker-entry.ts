// Runs in a dedicated Web Worker (no `document`, no `window`): each
// implementation reads two events, or reports what it threw.
import { fetchEventSource as fes } from '@microsoft/fetch-event-source'
import { fetchEventSource as sluice } from '../../src/client/fetch-event-source.js'

const impls: Record<string, (url: string, init: any) => Promise<void>> = { fes: fes as any, sluice }

self.onmessage = async (e: MessageEvent<{ impl: string; url: string }>) => {
  const { impl, url } = e.data
  const log: string[] = []
  const ctrl = new AbortController()
  try {
    await impls[impl](url, {
      signal: ctrl.signal,
      openWhenHidden: true,
      onmessage: (m: { data: string }) => {
        log.push(m.data)
        if (log.length === 2) ctrl.abort()
      },
    })
    log.push('resolved')
  } catch (err: any) {
    log.push(`${err?.name}: ${err?.message}`)
  }
  ;(self as any).postMessage(log)
}
