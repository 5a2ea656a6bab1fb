/**
 * No block sluice writes dispatches nothing or empty data (issue 14): a
 * Python parser with httpx-sse's rule (a blank line yields an event when the
 * block set an event, data, retry, or when an id was ever seen: the id
 * persists) reads `sluice serve`'s streams, with fast heartbeats, and finds
 * no event with empty data. It found the standalone `retry:` block and the
 * id-only position block before.
 */
import { execFile } from 'node:child_process'
import { expect, it } from 'vitest'
import { describeExternal } from '../helpers/external.js'
import { type RunningApp, serveApp } from '../helpers/serve.js'
import { createHub } from '../../src/hub/index.js'

const PARSER = `
import sys, json, time, urllib.request
url, method, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
req = urllib.request.Request(url, method=method, data=(b'hi' if method == 'POST' else None))
out = []
event, data, last_id, retry = '', [], '', None
try:
    with urllib.request.urlopen(req, timeout=seconds) as res:
        deadline = time.time() + seconds
        for raw in res:
            if time.time() > deadline: break
            line = raw.decode('utf-8').rstrip('\\r\\n')
            if line == '':
                if not event and not data and not last_id and retry is None:
                    continue
                out.append({'event': event, 'data': '\\n'.join(data), 'id': last_id})
                event, data, retry = '', [], None
                continue
            if line.startswith(':'):
                continue
            name, _, value = line.partition(':')
            if value.startswith(' '): value = value[1:]
            if name == 'event': event = value
            elif name == 'data': data.append(value)
            elif name == 'id': last_id = value
            elif name == 'retry': retry = value
except Exception:
    pass
print(json.dumps(out))
`

function parse(
  url: string,
  method: string,
  seconds: number,
): Promise<Array<Record<string, string>>> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', PARSER, url, method, String(seconds)], (err, stdout) =>
      err ? reject(err) : resolve(JSON.parse(stdout)),
    )
  })
}

describeExternal(['python3'], 'httpx-sse-style parsers see no empty event', () => {
  it('on /events (fresh, with heartbeats and a publish) and on POST /chat', async () => {
    const hub = createHub({ heartbeat: 100 })
    const running: RunningApp = await serveApp({ hub })
    try {
      const events = parse(`${running.url}/events?topic=t`, 'GET', 1.5)
      setTimeout(() => void hub.publish('t', 'hello'), 700)
      const topic = await events
      expect(topic.map((e) => e.event)).toEqual(['sluice-position', ''])
      expect(topic[1]!.data).toBe('hello')
      const chat = await parse(`${running.url}/chat?tokens=5&delay=10&heartbeat=50`, 'POST', 10)
      expect(chat.at(-1)!.event).toBe('done')
      for (const e of [...topic, ...chat]) expect(e.data, JSON.stringify(e)).not.toBe('')
    } finally {
      await running.close()
    }
  })
})
