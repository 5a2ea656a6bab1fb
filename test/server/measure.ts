/**
 * Measurements of the emitter (not a test: numbers, no assertions).
 *
 *   node --expose-gc --import tsx test/server/measure.ts
 *
 * 1. Heap per open stream of the emitter itself (10 000 streams on a null
 *    transport, heartbeats on: what the emitter adds to each connection, not
 *    node's socket and request objects).
 * 2. Events per second through one real loopback socket, producer awaiting
 *    every send (64-byte events), read by a client in the same process.
 */
import { createServer, request } from 'node:http'
import {
  EventStream,
  type Sink,
  createEventStream,
  heartbeatTimerCount,
} from '../../src/server/index.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) {
  console.error('run with --expose-gc')
  process.exit(1)
}

class NullSink implements Sink {
  write(): boolean {
    return true
  }
  buffered(): number {
    return 0
  }
  end(): void {}
  abort(): void {}
}

function heapPerStream(n: number, touchSignal: boolean): number {
  gc!()
  const before = process.memoryUsage().heapUsed
  const streams: EventStream[] = []
  for (let i = 0; i < n; i++) {
    const s = new EventStream({ heartbeat: 15_000 })
    s.attach(new NullSink())
    if (touchSignal) void s.signal
    streams.push(s)
  }
  gc!()
  const after = process.memoryUsage().heapUsed
  const timers = heartbeatTimerCount()
  for (const s of streams) s.complete()
  console.log(
    `  ${n} streams${touchSignal ? ' (signal used)' : ''}: ${Math.round((after - before) / n)} bytes of heap each, ${timers} heartbeat timer(s)`,
  )
  return after - before
}

async function throughput(ms: number): Promise<void> {
  const payload = 'x'.repeat(64 - 7) // 'data:' + 57 + '\n\n' = 64 bytes on the wire
  let sent = 0
  const server = createServer(async (req, res) => {
    const stream = createEventStream(req, res, { heartbeat: 0 })
    const end = performance.now() + ms
    while (performance.now() < end && !stream.isClosed) {
      for (let i = 0; i < 256; i++) await stream.send(payload)
      sent += 256
    }
    stream.complete()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  let bytes = 0
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    request(`http://127.0.0.1:${port}/`, (res) => {
      res.on('data', (d: Buffer) => (bytes += d.length))
      res.on('end', resolve)
    }).end()
  })
  const secs = (performance.now() - t0) / 1000
  server.close()
  console.log(
    `  ${Math.round(sent / secs).toLocaleString('en')} events/s, ${(bytes / secs / 1e6).toFixed(1)} MB/s (64-byte events, awaited sends, ${sent.toLocaleString('en')} events in ${secs.toFixed(1)} s)`,
  )
}

console.log('Heap per stream (emitter only):')
heapPerStream(10_000, false)
heapPerStream(10_000, true)
console.log('One stream over loopback:')
await throughput(2000)
