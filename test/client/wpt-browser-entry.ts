// The WPT cases and sluice's EventSource, bundled for the page.
import { EventSource } from '../../src/client/event-source.js'
import { cases } from './wpt-cases.js'

;(globalThis as any).runCase = (name: string) =>
  cases.find((c) => c.name === name)!.run(EventSource, location.origin)
