/**
 * Property: whatever a producer sends, and wherever a follower is cut and
 * resumes with its last id (while the run is still producing, or after it
 * ended), the events it receives, put together, are exactly the run's events
 * in order, numbered 0..n, once each, ending with the one `done`.
 */
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { memoryStore } from '../../src/hub/memory-store.js'
import { createRuns, type RunEvent } from '../../src/runs/index.js'

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Follow a run from `lastEventId` until `cutAfter` events arrived (then close) or the run ended. */
function followOnce(
  runs: ReturnType<typeof createRuns>,
  runId: string,
  lastEventId: string,
  cutAfter: number,
): Promise<{ events: RunEvent[]; ended: boolean; finished: boolean }> {
  return runs.open(runId, lastEventId).then(
    (opened) =>
      new Promise((resolve) => {
        if (opened.status === 'finished') {
          opened.close()
          resolve({ events: [], ended: true, finished: true })
          return
        }
        const events: RunEvent[] = []
        let settled = false
        opened.start({
          event(e) {
            if (settled) return
            events.push(e)
            if (events.length >= cutAfter && e.event !== 'done') {
              settled = true
              opened.close()
              resolve({ events, ended: false, finished: false })
            }
          },
          end() {
            if (settled) return
            settled = true
            resolve({ events, ended: true, finished: false })
          },
        })
      }),
  )
}

it('replay + live + any cuts = the exact run, once, in order', async () => {
  const message = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.record({ event: fc.constantFrom('delta', 'tool', 'token'), data: fc.string() }),
    fc.record({ event: fc.constant('json'), data: fc.dictionary(fc.string(), fc.integer()) }),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.array(message, { maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.boolean(), { maxLength: 30 }),
      async (messages, cuts, pauses) => {
        const runs = createRuns(memoryStore())
        const run = await runs.start(async function* () {
          for (let i = 0; i < messages.length; i++) {
            if (pauses[i]) await tick() // live for some events, replayed for others
            yield messages[i]
          }
        })
        const got: RunEvent[] = []
        let lastId = ''
        for (let i = 0; ; i++) {
          const cut = cuts[i % cuts.length]
          const r = await followOnce(runs, run.runId, lastId, cut)
          got.push(...r.events)
          if (r.events.length > 0) lastId = r.events.at(-1)!.id
          if (r.ended) break
          if (i > 200) throw new Error('the follower never reached the end')
        }
        expect(await run.ended).toBe('complete')
        const expected = [
          { event: 'run', data: JSON.stringify({ runId: run.runId, resumeUrl: run.resumeUrl }) },
          ...messages.map((m) =>
            typeof m === 'string'
              ? { event: 'token', data: m }
              : {
                  event: m.event,
                  data: typeof m.data === 'string' ? m.data : JSON.stringify(m.data),
                },
          ),
          { event: 'done', data: '{"reason":"complete"}' },
        ]
        expect(got.map(({ event, data }) => ({ event, data }))).toEqual(expected)
        expect(got.map((e) => e.id)).toEqual(expected.map((_, i) => `${run.runId}:${i}`))
        // Resuming after the end: nothing more.
        expect((await followOnce(runs, run.runId, lastId, 1)).finished).toBe(true)
        await runs.close()
      },
    ),
    { numRuns: 150 },
  )
}, 30_000)
