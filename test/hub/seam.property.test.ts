/**
 * Property: for any interleaving of publishes, subscriptions to any set of
 * topics, resumes from any earlier id, and cuts followed by reconnects with
 * the last id seen, every subscriber ends with exactly the events of its
 * topics after its starting point, in publish order, each once.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  createHub,
  memoryStore,
  redisStore,
  type HubEvent,
  type Store,
} from '../../src/hub/index.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'

const TOPICS = ['a', 'b', 'c']

type Command =
  | { kind: 'publish'; topic: number; yields: number }
  | { kind: 'subscribe'; mask: number; from: number | null; yields: number }
  | { kind: 'cut'; sub: number; yields: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      topic: fc.nat(2),
      yields: fc.nat(3),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      mask: fc.integer({ min: 1, max: 7 }),
      from: fc.option(fc.nat(40), { nil: null }),
      yields: fc.nat(3),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('cut' as const), sub: fc.nat(5), yields: fc.nat(3) }),
  },
)

class Client {
  got: HubEvent[] = []
  private ac = new AbortController()
  private loop: Promise<void> = Promise.resolve()
  constructor(
    readonly topics: string[],
    private readonly hub: ReturnType<typeof createHub>,
    firstId: string,
    /** Where a reconnect resumes when nothing was received: the id-only block a fresh subscription starts with. */
    readonly startId: string,
  ) {
    this.start(firstId)
  }
  private start(lastEventId: string): void {
    this.ac = new AbortController()
    const signal = this.ac.signal
    this.loop = (async () => {
      for await (const e of this.hub.subscribe(this.topics, { lastEventId, signal }))
        this.got.push(e)
    })()
  }
  private cutting: Promise<void> = Promise.resolve()
  /** Drop the connection and reconnect with the last id seen (one reconnect at a time, as a client does). */
  cut(): Promise<void> {
    this.cutting = this.cutting.then(async () => {
      this.ac.abort()
      await this.loop
      this.start(this.got.length ? this.got[this.got.length - 1].id : this.startId)
    })
    return this.cutting
  }
  async stop(): Promise<void> {
    await this.cutting
    this.ac.abort()
    await this.loop
  }
}

const tick = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

/**
 * `fresh`: how a subscriber without a starting id joins. 'no-id' opens with no
 * Last-Event-ID (the hub starts it at the head when the subscription opens);
 * 'position' opens from `hub.position()`. With Redis the head is read over
 * the network, so a publish racing the subscribe may fall on either side of
 * it: the property then uses 'position', which fixes the start exactly.
 */
function property(
  makeStore: () => Promise<Store>,
  numRuns: number,
  fresh: 'no-id' | 'position',
): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 60 }), async (commands) => {
      const hub = createHub({ store: await makeStore() })
      const published: { id: string; topic: string; data: string }[] = []
      const clients: { client: Client; after: number }[] = []
      const pending: Promise<unknown>[] = []
      let n = 0
      for (const c of commands) {
        if (c.kind === 'publish') {
          // Not awaited: publishes race with opening subscriptions.
          const data = `d${n++}`
          const topic = TOPICS[c.topic]
          const p = hub.publish(topic, data).then((id) => published.push({ id, topic, data }))
          pending.push(p)
        } else if (c.kind === 'subscribe') {
          await Promise.all(pending)
          const topics = TOPICS.filter((_, i) => c.mask & (1 << i))
          const from = c.from !== null && c.from < published.length ? c.from : null
          // Without an id the subscriber starts "now": everything published after it joins.
          const position = await hub.position()
          const firstId = from !== null ? published[from].id : fresh === 'no-id' ? '' : position
          const startId = from === null ? position : firstId
          const after = from === null ? published.length - 1 : from
          clients.push({ client: new Client(topics, hub, firstId, startId), after })
        } else if (clients.length > 0) {
          pending.push(clients[c.sub % clients.length].client.cut())
        }
        await tick(c.yields)
      }
      await Promise.all(pending)
      for (const { client, after } of clients) {
        const want = published.slice(after + 1).filter((p) => client.topics.includes(p.topic))
        const deadline = Date.now() + 3000
        while (client.got.length < want.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 2))
        }
        await new Promise((r) => setTimeout(r, 5)) // a bounded quiet wait: nothing extra trails in
        expect(client.got.map((e) => `${e.topic}:${e.data}`)).toEqual(
          want.map((p) => `${p.topic}:${p.data}`),
        )
        await client.stop()
      }
      await hub.close()
    }),
    { numRuns },
  )
}

it('memory store: replay + live + reconnects = the exact sequence, for any interleaving', async () => {
  await property(async () => memoryStore({ maxLength: 10_000 }), 150, 'no-id')
})

describeExternal(['redis-server'], 'redis store', () => {
  let redis: RedisServer
  let n = 0
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  it('replay + live + reconnects = the exact sequence, for any interleaving', async () => {
    await property(
      () => redisStore({ url: redis.url, prefix: `seam${++n}:`, maxLength: 10_000 }),
      25,
      'position',
    )
  }, 60_000)
})
