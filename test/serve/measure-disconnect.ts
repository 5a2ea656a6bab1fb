/**
 * How fast a `POST /chat?format=envelope` answer stops when its client leaves:
 * from the client's abort to the simulated model's abort, 20 times, in-process
 * on loopback. Run: node --import tsx test/serve/measure-disconnect.ts
 */
import { createServeApp } from '../../src/cli/serve.js'
import { listenApp } from '../helpers/serve.js'

const running = await listenApp(createServeApp({ log: () => {} }))
const times: number[] = []
for (let i = 0; i < 20; i++) {
  const ctrl = new AbortController()
  const before = running.app.chat.aborted
  const res = await fetch(`${running.url}/chat?format=envelope&delay=20&tokens=1000`, {
    method: 'POST',
    body: '{"message":"x"}',
    signal: ctrl.signal,
  })
  const reader = res.body!.getReader()
  await reader.read()
  await reader.read()
  const t0 = performance.now()
  ctrl.abort()
  // Bounded: a model that never stops fails the measurement after 5 s.
  while (running.app.chat.aborted === before) {
    if (performance.now() - t0 > 5000) throw new Error('the model did not stop within 5 s')
    await new Promise((r) => setImmediate(r))
  }
  times.push(performance.now() - t0)
}
times.sort((a, b) => a - b)
console.log(
  `envelope client gone -> model aborted (20 runs): median ${times[10].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`,
)
await running.close()
