// The client for test/client/share.test.ts's pages: window.sluice.
import { EventSource, events, fetchEventSource } from '../../src/client/index.js'

;(window as unknown as { sluice: object }).sluice = { EventSource, events, fetchEventSource }
