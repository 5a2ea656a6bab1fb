/**
 * A node that falls behind the Redis history (more events trimmed than it has
 * read: a burst larger than `maxLength` between two of its reads) cannot
 * deliver the trimmed events; it must say so, in order, and never let them go
 * missing unnoticed. A node that keeps up must never report a loss, even while
 * history is trimmed behind it.
 */
import { expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { createRuns } from '../../src/runs/index.js'
import type { Store, StoredEvent } from '../../src/hub/store.js'
import { describeExternal } from '../helpers/external.js'
import { openSse, readEvents } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { listenedStore, redisStores, serveHub } from './support.js'

type Seen =
  | { kind: 'event'; e: StoredEvent }
  | { kind: 'gap'; afterSeq: number; throughSeq: number }

describeExternal(['redis-server'], 'Redis store: a node behind its history reports the gap', () => {
  const { open } = redisStores('gap')

  const watchAll = async (store: Store, topic: string) => {
    const seen: Seen[] = []
    await store.watch(topic, {
      onEvent: (e) => seen.push({ kind: 'event', e }),
      onGap: (g) => seen.push({ kind: 'gap', ...g }),
    })
    return seen
  }

  it('3,000 appends in one tick into a history of 100: every event is delivered or inside a reported gap, in order', async () => {
    const store = await open(100)
    const seen = await watchAll(store, 'g')
    const events = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => store.append('g', { data: `e${i}` })),
    )
    const lastSeq = events[events.length - 1].seq
    await waitUntil(
      () => seen.some((s) => s.kind === 'event' && s.e.seq === lastSeq),
      10_000,
      'the last event live',
    )
    // In seq order: each gap starts where the previous delivery left off.
    let at = events[0].seq - 1
    const covered = new Set<number>()
    for (const s of seen) {
      if (s.kind === 'event') {
        expect(s.e.seq).toBeGreaterThan(at)
        covered.add(s.e.seq)
        at = s.e.seq
      } else {
        expect(s.afterSeq).toBe(at)
        expect(s.throughSeq).toBeGreaterThan(s.afterSeq)
        for (let q = s.afterSeq + 1; q <= s.throughSeq; q++) covered.add(q)
        at = s.throughSeq
      }
    }
    const missing = events.filter((e) => !covered.has(e.seq)).map((e) => e.seq)
    expect(missing).toEqual([])
    // The history kept 100 of 3,000: most were trimmed before any read.
    expect(seen.filter((s) => s.kind === 'gap').length).toBeGreaterThan(0)
  })

  it('a node that keeps up reports no gap while history is trimmed behind it', async () => {
    const store = await open(100)
    const seen = await watchAll(store, 'k')
    let total = 0
    for (let round = 0; round < 10; round++) {
      // 50 per tick, each tick read before the next: trims only remove what was read.
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.append('k', { data: `r${round}-${i}` })),
      )
      total += 50
      await waitUntil(() => seen.length === total, 5000, `round ${round} live`)
    }
    expect(seen.every((s) => s.kind === 'event')).toBe(true)
    expect((await store.info('k'))!.trimmedSeq).toBeGreaterThan(0)
  })

  it('over HTTP: every hole in what a subscriber receives is preceded by a truncated notice', async () => {
    const store = await open(100)
    const served = await serveHub(createHub({ store }))
    try {
      const sub = await openSse(`${served.url}/events?topic=h`)
      await waitUntil(() => served.hub.metrics.connections === 1)
      for (let i = 0; i < 3000; i++) void served.hub.publish('h', `e${i}`)
      await sub.waitFor((ev) => ev.some((e) => e.data === 'e2999'), 10_000)
      let last = -1
      let noticed = false
      for (const e of sub.events) {
        if (e.event === 'sluice-reset') {
          expect(JSON.parse(e.data).reason).toBe('truncated')
          noticed = true
          continue
        }
        if (!e.data.startsWith('e')) continue
        const i = Number(e.data.slice(1))
        if (i !== last + 1) expect(noticed, `hole before e${i}`).toBe(true)
        noticed = false
        last = i
      }
      expect(last).toBe(2999)
      sub.close()
    } finally {
      await served.close()
    }
  })
})

it('a run follower is told RUN_TRUNCATED when its store reports a gap, and the run goes on to its end', async () => {
  // A gap reported as the Redis store does when a node falls behind its
  // history (see listenedStore).
  const { store, listeners } = listenedStore()
  const runs = createRuns(store)
  try {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const run = await runs.start(async (r) => {
      await r.send('before')
      await gate
      await r.send('after')
    })
    const res = await runs.resume(new Request(`http://app.test/chat/${run.runId}`), run.runId)
    const arrived: string[] = []
    const reading = readEvents(res, (e) => {
      arrived.push(e.event)
      return false
    })
    // The follower is live and has passed 'before' on when the gap comes.
    await waitUntil(() => listeners.size > 0 && arrived.includes('token'))
    const { seq } = await store.head()
    for (const l of listeners) l.onGap?.({ afterSeq: seq, throughSeq: seq + 1 })
    release()
    const evs = await reading
    expect(evs.map((e) => (e.event === 'error' ? JSON.parse(e.data).error : e.event))).toEqual([
      'run',
      'token',
      'RUN_TRUNCATED',
      'token',
      'done',
    ])
    expect(JSON.parse(evs.at(-1)!.data)).toEqual({ reason: 'complete' })
  } finally {
    await runs.close()
    await store.close()
  }
})
