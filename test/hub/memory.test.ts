/**
 * The memory store holds steady memory: 1,000,000 events through the hub into
 * one topic with a history of 10,000, heap measured after GC at intervals.
 */
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { expect, it } from 'vitest'
import { createHub, memoryStore } from '../../src/hub/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

it('1,000,000 events with history 10,000: heap stays flat once the history is full', async () => {
  const store = memoryStore({ maxLength: 10_000 })
  const hub = createHub({ store })
  const payload = 'x'.repeat(100)
  const samples: number[] = []
  const started = Date.now()
  for (let i = 1; i <= 1_000_000; i++) {
    await hub.publish('ticks', payload + i) // a distinct string per event
    if (i % 100_000 === 0) samples.push(heapAfterGc())
    if (Date.now() - started > 60_000) throw new Error(`too slow: ${i} events in 60 s`)
  }
  const info = await store.info('ticks')
  expect(info!.length).toBe(10_000)
  expect(info!.lastSeq).toBe(1_000_000)
  const mb = samples.map((b) => Math.round(b / 1e5) / 10)
  console.log(`heap after GC every 100k events (MB): ${mb.join(' ')}`)
  // From the first sample (history already full) to the last: no growth
  // beyond noise, and far below what 1,000,000 kept events would take (>100 MB).
  const first = samples[0]
  const last = samples[samples.length - 1]
  expect(last - first).toBeLessThan(8 * 1024 * 1024)
  expect(Math.max(...samples) - Math.min(...samples)).toBeLessThan(16 * 1024 * 1024)
  await hub.close()
}, 90_000)
