/**
 * Client throughput over loopback: how many events per second each client
 * delivers to application code, for the same pre-encoded stream.
 * Run: node --import tsx test/client/measure.ts [events]
 *
 * Clients: sluice fetchEventSource, sluice events(), sluice EventSource,
 * @microsoft/fetch-event-source (given `window`/`document` shims so it runs in
 * Node at all), and the `eventsource` package. Median of 3 runs each; bounded
 * in count (default 200 000 events) and time (60 s per run).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fetchEventSource as fes } from '@microsoft/fetch-event-source'
import { EventSource as SpecEventSource } from 'eventsource'
import { EventSource, events, fetchEventSource } from '../../src/client/index.js'
import { encodeEvent } from '../../src/protocol/index.js'

const N = Number(process.argv[2] ?? 200_000)
const payload = JSON.stringify({ token: 'lorem ipsum', n: 0 }).padEnd(60, ' ')
let text = ''
for (let i = 0; i < N; i++) text += encodeEvent({ id: String(i), event: 'token', data: payload })
text += encodeEvent({ event: 'token', data: 'END' })
const body = Buffer.from(text)

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  let o = 0
  const pump = () => {
    while (o < body.length) {
      const ok = res.write(body.subarray(o, o + 65536))
      o += 65536
      if (!ok) return void res.once('drain', pump)
    }
    // stay open: the client closes after END
  }
  pump()
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

// fetch-event-source needs these globals; sluice does not.
const g = globalThis as any
g.window = globalThis
g.document = { hidden: false, addEventListener() {}, removeEventListener() {} }

type Client = () => Promise<number>
const clients: Record<string, Client> = {
  'sluice fetchEventSource': async () => {
    const ctrl = new AbortController()
    let n = 0
    await fetchEventSource(url, {
      signal: ctrl.signal,
      onmessage: (ev) => {
        if (ev.data === 'END') ctrl.abort()
        else n++
      },
    })
    return n
  },
  'sluice events()': async () => {
    let n = 0
    for await (const ev of events(url)) {
      if (ev.data === 'END') break
      n++
    }
    return n
  },
  'sluice EventSource': () =>
    new Promise((resolve) => {
      let n = 0
      const es = new EventSource(url)
      es.addEventListener('token', (e) => {
        if ((e as MessageEvent).data === 'END') {
          es.close()
          resolve(n)
        } else n++
      })
    }),
  '@microsoft/fetch-event-source': async () => {
    const ctrl = new AbortController()
    let n = 0
    await fes(url, {
      signal: ctrl.signal,
      openWhenHidden: true,
      onmessage: (ev) => {
        if (ev.data === 'END') ctrl.abort()
        else n++
      },
    })
    return n
  },
  'eventsource (package)': () =>
    new Promise((resolve) => {
      let n = 0
      const es = new SpecEventSource(url)
      es.addEventListener('token', (e: MessageEvent) => {
        if (e.data === 'END') {
          es.close()
          resolve(n)
        } else n++
      })
    }),
}

const rows: string[] = []
for (const [name, run] of Object.entries(clients)) {
  const rates: number[] = []
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    const n = await Promise.race([
      run(),
      new Promise<number>((_, rej) =>
        setTimeout(() => rej(new Error(name + ' took over 60 s')), 60_000),
      ),
    ])
    const s = (performance.now() - t0) / 1000
    if (n !== N) throw new Error(`${name} delivered ${n} of ${N} events`)
    rates.push(N / s)
  }
  rates.sort((a, b) => a - b)
  rows.push(`| ${name} | ${Math.round(rates[1]).toLocaleString('en')} |`)
}
console.log(
  `${N} events of ${Buffer.byteLength(encodeEvent({ id: '100000', event: 'token', data: payload }))} bytes over loopback, node ${process.version}, median of 3\n`,
)
console.log('| client | events/s |\n| --- | ---: |\n' + rows.join('\n'))
server.closeAllConnections()
server.close()
