/**
 * A port of the web-platform-tests `eventsource/` cases (format-*,
 * request-accept, request-cache-control, request-status-error, reconnect,
 * close, last-event-id) to sluice's EventSource. Each case runs a source
 * against the fixture server and returns what it observed; wpt.test.ts runs
 * every case in Node and in headless Chromium and compares with `expected`.
 * Environment-free on purpose (no node: imports): it is bundled for the page.
 */
import type { EventSource as SluiceEventSource } from '../../src/client/event-source.js'

type ES = typeof SluiceEventSource
export interface WptCase {
  name: string
  expected: unknown
  run: (EventSource: ES, base: string) => Promise<unknown>
}

const msg = (message: string, extra = '') =>
  `/wpt/message?message=${encodeURIComponent(message)}${extra}`

/**
 * Log what a source does ('open', 'message:<data>|<lastEventId>', 'error:<readyState>')
 * until `stop(log)` says so or `timeout` ms pass; then close it.
 */
function observe(
  source: InstanceType<ES>,
  stop: (log: string[]) => boolean,
  opts: { timeout?: number; types?: string[] } = {},
): Promise<string[]> {
  const log: string[] = []
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer)
      source.close()
      resolve(log)
    }
    const timer = setTimeout(() => {
      log.push('timeout')
      finish()
    }, opts.timeout ?? 4000)
    const check = () => {
      if (stop(log)) finish()
    }
    source.onopen = () => {
      log.push('open')
      check()
    }
    source.onerror = () => {
      log.push('error:' + source.readyState)
      check()
    }
    for (const type of opts.types ?? ['message']) {
      source.addEventListener(type, (e) => {
        const m = e as MessageEvent
        log.push((type === 'message' ? 'message' : type) + ':' + m.data + '|' + m.lastEventId)
        check()
      })
    }
  })
}

const messages = (log: string[]) => log.filter((l) => l.startsWith('message:'))
const nMessages = (n: number) => (log: string[]) => messages(log).length >= n
const closedError = (log: string[]) => log.includes('error:2')

async function statusCase(ES: ES, base: string, status: number) {
  const log = await observe(new ES(base + '/wpt/status-error?status=' + status), closedError)
  return log
}

export const cases: WptCase[] = [
  {
    name: 'format-bom: one leading BOM is stripped, a later one makes an unknown field',
    expected: ['message:1|', 'message:3|'],
    run: async (ES, base) =>
      messages(
        await observe(new ES(base + msg('\uFEFFdata:1\n\n\uFEFFdata:2\n\ndata:3')), nMessages(2)),
      ),
  },
  {
    name: 'format-bom-2: only the first of two BOMs is stripped',
    expected: ['message:2|', 'message:3|'],
    run: async (ES, base) =>
      messages(
        await observe(new ES(base + msg('\uFEFF\uFEFFdata:1\n\ndata:2\n\ndata:3')), nMessages(2)),
      ),
  },
  {
    name: 'format-comments: comment lines anywhere, with CR, LF, CRLF and NUL',
    expected: ['message:1\n2\n3\n4|'],
    run: async (ES, base) => {
      const long = 'x'.repeat(2 * 1024)
      const m =
        'data:1\r:\0\n:\r\ndata:2\n:' + long + '\rdata:3\n:data:fail\r:' + long + '\ndata:4\n'
      return messages(await observe(new ES(base + msg(m, '&newline=none')), nMessages(1)))
    },
  },
  {
    name: 'format-data-before-final-empty-line: an unterminated event is dropped, its id not committed',
    expected: ['message:test1|', 'message:test1|'],
    run: async (ES, base) =>
      messages(
        await observe(
          new ES(base + msg('retry:10\ndata:test1\n\nid:test\ndata:test2', '&newline=none')),
          nMessages(2),
        ),
      ),
  },
  {
    name: 'format-field-data: "data:" and "data" lines',
    expected: ['message:|', 'message:\n|'],
    run: async (ES, base) =>
      messages(
        await observe(
          new ES(base + msg('data:\n\ndata\ndata\n\ndata:test', '&newline=none')),
          nMessages(2),
        ),
      ),
  },
  {
    name: 'format-field-event: a named event goes to its listeners only',
    expected: ['test:x|', 'message:x|'],
    run: async (ES, base) =>
      (
        await observe(new ES(base + msg('event:test\ndata:x\n\ndata:x')), (l) => l.length >= 3, {
          types: ['test', 'message'],
        })
      ).filter((l) => l !== 'open'),
  },
  {
    name: 'format-field-event-empty: an empty event name means message',
    expected: ['message:data|'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + msg('event: \ndata:data')), nMessages(1))),
  },
  {
    name: 'format-field-id: lastEventId persists, changes and resets',
    expected: ['message:1|1', 'message:2|1', 'message:3|2', 'message:4|'],
    run: async (ES, base) =>
      messages(
        await observe(
          new ES(
            base + msg('id: 1\ndata: 1\n\ndata: 2\n\nid: 2\ndata: 3\n\nid\ndata: 4\n\ndata: x'),
          ),
          nMessages(4),
        ),
      ),
  },
  {
    name: 'format-field-id-2 / last-event-id round trip: Last-Event-ID is sent on reconnection',
    expected: ['message:hello|…', 'message:…|…', 'message:…|…'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + '/wpt/last-event-id'), nMessages(3))),
  },
  {
    name: 'format-field-id-3: persists / changes and persists / resets',
    expected: [
      ['message:1|1', 'message:2|1'],
      ['message:1|1', 'message:2|2', 'message:3|2'],
      ['message:1|1', 'message:2|', 'message:3|'],
    ],
    run: async (ES, base) =>
      Promise.all(
        [
          [1, 2],
          [2, 3],
          [3, 3],
        ].map(async ([type, n]) =>
          messages(await observe(new ES(base + '/wpt/last-event-id2?type=' + type), nMessages(n))),
        ),
      ),
  },
  {
    name: 'format-field-id-null: an id containing U+0000 is ignored',
    expected: ['message:hello|', 'message:hello|'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + '/wpt/last-event-id?idvalue=%00%00'), nMessages(2))),
  },
  {
    name: 'format-field-retry: retry sets the reconnection time (spec mode)',
    expected: true,
    run: (ES, base) => reconnectGap(ES, base + msg('retry:300\ndata:x')),
  },
  {
    name: 'format-field-retry-bogus: "retry:100x" is ignored, the earlier value stays',
    expected: true,
    run: async (ES, base) => reconnectGap(ES, base + msg('retry:300\nretry:100x\ndata:x')),
  },
  {
    name: 'format-field-retry-empty: a "retry" line without value is ignored',
    expected: ['message:test|'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + msg('retry\ndata:test')), nMessages(1))),
  },
  {
    name: 'format-field-unknown: unknown fields and stray text are ignored',
    expected: ['message:test\n\ntest|'],
    run: async (ES, base) =>
      messages(
        await observe(
          new ES(
            base +
              msg(
                'data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test',
              ),
          ),
          nMessages(1),
        ),
      ),
  },
  {
    name: 'format-leading-space: exactly one leading space is removed',
    expected: ['message:\t test\n test|'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + msg('data:\t test\ndata:  test')), nMessages(1))),
  },
  {
    name: 'format-mime-bogus: a wrong type fails the connection',
    expected: ['error:2'],
    run: async (ES, base) => observe(new ES(base + msg('data:x', '&mime=x/x')), closedError),
  },
  {
    name: 'format-mime-trailing-semicolon: "text/event-stream;" is accepted',
    expected: ['open', 'message:data|'],
    run: async (ES, base) =>
      observe(new ES(base + msg('data: data', '&mime=text/event-stream%3B')), nMessages(1)),
  },
  {
    name: 'format-mime-valid-bogus: a valid but wrong type fails the connection',
    expected: ['error:2'],
    run: async (ES, base) =>
      observe(new ES(base + msg('data:x', '&mime=text/x-bogus')), closedError),
  },
  {
    name: 'format-newlines: CRLF, LF and CR all end lines',
    expected: ['message:test\n\ntest|'],
    run: async (ES, base) =>
      messages(
        await observe(new ES(base + msg('data:test\r\ndata\ndata:test\r\n\r')), nMessages(1)),
      ),
  },
  {
    name: 'format-null-character: U+0000 in data is kept',
    expected: ['message:\0|'],
    run: async (ES, base) =>
      messages(await observe(new ES(base + msg('data:\0\n\n')), nMessages(1))),
  },
  {
    name: 'format-utf-8: always UTF-8, whatever the charset parameter says',
    expected: ['message:ok…|'],
    run: async (ES, base) =>
      messages(
        await observe(
          new ES(base + msg('data:ok…', '&mime=text/event-stream%3Bcharset%3Dwindows-1252')),
          nMessages(1),
        ),
      ),
  },
  {
    name: 'request-accept: Accept is text/event-stream',
    expected: ['message:text/event-stream|'],
    run: async (ES, base) => messages(await observe(new ES(base + '/wpt/accept'), nMessages(1))),
  },
  {
    name: 'request-cache-control: Cache-Control is no-cache, twice in a row',
    expected: [['message:no-cache|'], ['message:no-cache|']],
    run: async (ES, base) => [
      messages(await observe(new ES(base + '/wpt/cache-control'), nMessages(1))),
      messages(await observe(new ES(base + '/wpt/cache-control'), nMessages(1))),
    ],
  },
  {
    name: 'request-status-error: 204, 205, 210, 299, 404, 410, 503 fail the connection',
    expected: Array(7).fill(['error:2']),
    run: async (ES, base) =>
      Promise.all([204, 205, 210, 299, 404, 410, 503].map((s) => statusCase(ES, base, s))),
  },
  {
    name: 'eventsource-reconnect: a clean end reconnects; error fires with CONNECTING',
    expected: [
      ['open', 'message:data|'],
      ['open', 'message:ok|', 'error:0', 'open', 'message:data|'],
    ],
    run: async (ES, base) => {
      const id = String(Math.random()).slice(2)
      return [
        await observe(
          new ES(base + '/wpt/status-reconnect?status=200&id=a' + id),
          nMessages(1),
        ).then(
          // the first response (status 200, no data) ends cleanly, so the data comes on reconnection
          (log) => log.filter((l) => l !== 'error:0').slice(-2),
        ),
        await observe(
          new ES(base + '/wpt/status-reconnect?status=200&ok_first&id=b' + id),
          nMessages(2),
        ),
      ]
    },
  },
  {
    name: 'eventsource-close: readyState through open and close; reconnect then 204 ends in CLOSED',
    expected: [
      [0, 1, 2],
      ['open', 'message:opened|', 'error:0', 'open', 'message:reconnected|', 'error:0', 'error:2'],
    ],
    run: async (ES, base) => {
      const states: number[] = []
      const source = new ES(base + msg('data: data'))
      states.push(source.readyState)
      await new Promise<void>((resolve) => {
        source.onopen = () => {
          states.push(source.readyState)
          source.close()
          states.push(source.readyState)
          resolve()
        }
      })
      const log = await observe(
        new ES(base + '/wpt/reconnect-fail?id=' + String(Math.random()).slice(2)),
        closedError,
      )
      return [states, log]
    },
  },
]

/** Time between the first two opens of a source in spec mode. */
async function reconnectGap(ES: ES, url: string): Promise<boolean> {
  const opens: number[] = []
  const source = new ES(url, { retry: { mode: 'spec' } })
  source.addEventListener('open', () => opens.push(Date.now()))
  await observe(source, (log) => log.filter((l) => l === 'open').length >= 2)
  const gap = opens[1] - opens[0]
  return opens.length >= 2 && gap >= 270 && gap < 2000
}
