/**
 * On Redis, events reach subscribers when this node's XREAD brings them back,
 * after `publish()` resolved: a publisher that awaits only `publish()` can get
 * far ahead of the fan-out, and one XREAD then returns many events at once.
 * The store hands such a batch over in slices with a turn of the event loop
 * between them, so each subscriber gets it at its own pace: readers that read
 * are never cut, and one that does not read is still cut at its cap.
 */
import { afterAll, beforeAll, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import {
  BURST_EVENTS,
  burstPayload,
  expectPacedBurst,
  type ServedHub,
  serveHub,
} from './support.js'

describeExternal(
  ['redis-server'],
  'Redis hub: fan-out follows each subscriber, not the XREAD batch',
  () => {
    let redis: RedisServer
    let served: ServedHub
    beforeAll(async () => {
      redis = await startRedis()
      // The default cap: a subscriber may fall 1 MiB behind (16 of these events).
      served = await serveHub(
        createHub({ store: await redisStore({ url: redis.url }), heartbeat: 0 }),
      )
    })
    afterAll(async () => {
      await served?.close()
      await redis?.stop()
    })

    it('200 events of 64 KB published at once: 5 readers get all, in order, none cut; a non-reader is cut', async () => {
      // Every publish at once, awaiting only publish(): 12.5 MiB appended in a
      // few script calls, far faster than the fan-out, so XREAD returns big batches.
      await expectPacedBurst(served, (hub) =>
        Promise.all(
          Array.from({ length: BURST_EVENTS }, (_, i) => hub.publish('big', burstPayload(i))),
        ),
      )
    }, 40_000)
  },
)
