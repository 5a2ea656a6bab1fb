/**
 * Fan-out reads each topic from Redis once per node, not once per connection:
 * with 50 subscribers on one node, the number of XREAD calls follows the
 * events, not the subscribers (counted by Redis itself, INFO commandstats).
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub, redisStore, type Hub } from '../../src/hub/index.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { openSse } from '../helpers/sse.js'
import { type ServedHub, serveHub } from './support.js'

async function calls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info('commandstats')
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)
  return m ? Number(m[1]) : 0
}

describeExternal(['redis-server'], 'fan-out on Redis', () => {
  let redis: RedisServer
  let served: ServedHub
  let hub: Hub
  let base: string
  let admin: Redis
  beforeAll(async () => {
    redis = await startRedis()
    admin = new Redis(redis.url)
    served = await serveHub(
      createHub({ store: await redisStore({ url: redis.url }), heartbeat: 0 }),
    )
    ;({ hub, url: base } = served)
  })
  afterAll(async () => {
    await served?.close()
    admin?.disconnect()
    await redis?.stop()
  })

  it('50 subscribers, 200 events: one XREAD stream per node, not per connection', async () => {
    const subs = await Promise.all(
      Array.from({ length: 50 }, () => openSse(`${base}/events?topic=fan`)),
    )
    await admin.config('RESETSTAT')
    for (let i = 0; i < 200; i++) await hub.publish('fan', `e${i}`)
    for (const s of subs) await s.waitFor((ev) => ev.length === 200)
    const xread = await calls(admin, 'xread')
    console.log(`XREAD calls for 200 events x 50 subscribers: ${xread}`)
    // At most one read round per event (plus idle timeouts), each round two XREADs (a
    // blocking one that waits, one in a MULTI that reads every stream at one instant);
    // a read per connection would be >= 10,000.
    expect(xread).toBeLessThanOrEqual(2 * (200 + 20))
    for (const s of subs) {
      expect(s.events.map((e) => e.data)).toEqual(Array.from({ length: 200 }, (_, i) => `e${i}`))
      s.close()
    }
  })
})
