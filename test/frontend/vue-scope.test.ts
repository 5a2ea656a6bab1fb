/**
 * `sluice/vue` outside a component, in an effect scope (as Pinia stores and
 * composables use it), against the real `sluice serve`: the URL is reactive,
 * and stopping the scope closes the stream on the server.
 */
import { effectScope, nextTick, ref } from 'vue'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningApp, serveApp } from '../helpers/serve.js'
import { useChat, useEventStream } from '../../src/integrations/vue.js'
import { until } from './support.js'

describe('sluice/vue in an effect scope', () => {
  let running: RunningApp
  let base: string

  beforeAll(async () => {
    running = await serveApp()
    base = running.url
  })
  afterAll(() => running.close())

  const subscribers = async () =>
    Number(
      /^sluice_hub_connections (\d+)$/m.exec(await (await fetch(base + '/metrics')).text())?.[1],
    )
  const publish = (topic: string, data: string) =>
    fetch(base + '/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, data }),
    })

  it('follows a reactive URL and closes when the scope stops', async () => {
    const topic = ref('alpha')
    const scope = effectScope()
    const feed = scope.run(() =>
      useEventStream(() => `${base}/events?topic=${topic.value}`, { maxEvents: 3 }),
    )!
    await until(() => feed.status.value === 'open', 5000, 'open')
    await publish('alpha', 'a1')
    await until(() => feed.data.value === 'a1', 5000, 'a1')

    topic.value = 'beta'
    await nextTick()
    await until(() => feed.status.value === 'open' && feed.data.value === 'a1', 5000, 'reopen')
    await until(async () => (await subscribers()) === 1, 5000, 'one subscriber (the old one gone)')
    await publish('alpha', 'a2') // no longer subscribed
    for (const d of ['b1', 'b2', 'b3', 'b4']) await publish('beta', d)
    await until(() => feed.data.value === 'b4', 5000, 'b4')
    // maxEvents bounds the list; lastEventId is the hub's id of the latest event.
    expect(feed.events.value.map((e) => e.data)).toEqual(['b2', 'b3', 'b4'])
    expect(feed.lastEventId.value).toBe(feed.events.value[2].id)

    scope.stop()
    await until(async () => (await subscribers()) === 0, 5000, 'the server to see the stream close')
    expect(feed.status.value).toBe('closed')
  })

  it('useChat streams an answer, and stop() ends the run on the server', async () => {
    const scope = effectScope()
    const chat = scope.run(() =>
      useChat({ url: `${base}/chat?delay=40&tokens=200`, persist: false }),
    )!
    const sent = chat.send('hi')
    await until(() => chat.text.value.length > 20, 5000, 'tokens')
    expect(chat.busy.value).toBe(true)
    const aborted = running.app.chat.aborted
    await chat.stop()
    await sent
    expect(chat.status.value).toBe('stopped')
    await until(() => running.app.chat.aborted > aborted, 5000, 'the model to stop')
    const atStop = chat.text.value
    await new Promise((r) => setTimeout(r, 200)) // a bounded quiet wait: no token may follow
    expect(chat.text.value).toBe(atStop)
    scope.stop()
  })
})
