/**
 * `npm run bench`: sluice's parser against eventsource-parser v3, and the encoder.
 *
 * Fairness: both parsers start from the same `Uint8Array` chunks. eventsource-parser
 * takes strings, so it is fed the way its users feed it (and the way its own
 * `EventSourceParserStream` does): through one streaming `TextDecoder`.
 * sluice is fed the bytes. Each case: warm-up runs, then the median of timed
 * repeats, all in this one process, the two parsers alternating, so the ratio
 * compares like with like. Times are CPU time of the process (see `time()`).
 *
 * Cases (from the issue):
 *   (a) 200,000 LLM-token-like events (`id`, `event: token`, one JSON `data` line), 16 KiB chunks
 *   (b) large events (two 8 KB data lines each), 16 KiB chunks
 *   (c) one event of 5 MB and of 10 MB fed 1 byte at a time (time must scale ~linearly)
 *
 * Every run is bounded in count; the whole bench takes well under a minute.
 * Set BENCH_QUICK=1 for a smoke run (fewer repeats, smaller inputs).
 */
import { createParser as createEsParser } from 'eventsource-parser'
import { arch, cpus, platform } from 'node:os'
import {
  createParser,
  encodeEvent,
  encodeEventBytes,
  type EventSourceMessage,
} from '../src/protocol/index.js'

const QUICK = process.env.BENCH_QUICK === '1'
const textEncoder = new TextEncoder()

interface Workload {
  name: string
  /** Calls `sink` with each chunk in turn. */
  feed: (sink: (chunk: Uint8Array) => void) => void
  bytes: number
  events: number
  /** Largest event, in characters (maxEventSize must allow it). */
  maxEvent: number
  warmups: number
  repeats: number
}

function chunked(bytes: Uint8Array, size: number): Workload['feed'] {
  const chunks: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return (sink) => {
    for (const chunk of chunks) sink(chunk)
  }
}

/**
 * One byte at a time through one reused 1-byte array (both parsers copy what
 * they keep): ten million separate arrays would make the garbage collector,
 * not the parsers, the thing measured.
 */
function byteByByte(bytes: Uint8Array): Workload['feed'] {
  return (sink) => {
    const one = new Uint8Array(1)
    for (let i = 0; i < bytes.length; i++) {
      one[0] = bytes[i]
      sink(one)
    }
  }
}

/** English output: every byte ASCII (also what servers that escape JSON as \\uXXXX send). */
const WORDS = ['The', ' stream', ' of', ' tokens', ',', ' one', ' at', ' a', ' time', '.\\n']
/** Mixed output: accented, CJK and emoji tokens, so every 16 KiB chunk holds multi-byte UTF-8. */
const WORDS_UTF8 = [
  'The',
  ' stream',
  ' of',
  ' tokens',
  ',',
  ' héllo',
  ' 世界',
  ' 🚀',
  '\\n',
  ' end',
]

function tokenEvents(count: number, utf8: boolean): Workload {
  const words = utf8 ? WORDS_UTF8 : WORDS
  const parts: string[] = []
  for (let i = 0; i < count; i++) {
    const content = words[i % words.length]
    parts.push(
      `id: ${i}\nevent: token\ndata: {"id":"chatcmpl-7a1b","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"}}]}\n\n`,
    )
  }
  const bytes = textEncoder.encode(parts.join(''))
  return {
    name: `(a) ${count.toLocaleString('en-US')} token events, ${utf8 ? 'mixed UTF-8' : 'ASCII'}, 16 KiB chunks`,
    feed: chunked(bytes, 16 * 1024),
    bytes: bytes.length,
    events: count,
    maxEvent: 1024,
    warmups: QUICK ? 1 : 3,
    repeats: QUICK ? 3 : 9,
  }
}

function largeEvents(count: number, utf8: boolean): Workload {
  let line = ''
  const sentence = utf8
    ? 'Lorem ipsum dolor sit amet, consectetur — adipiscing élit. '
    : 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '
  while (line.length < 8 * 1024) line += sentence
  line = line.slice(0, 8 * 1024)
  const parts: string[] = []
  for (let i = 0; i < count; i++) parts.push(`id: ${i}\ndata: ${line}\ndata: ${line}\n\n`)
  const bytes = textEncoder.encode(parts.join(''))
  return {
    name: `(b) ${count.toLocaleString('en-US')} events of two 8 KB data lines, ${utf8 ? 'mixed UTF-8' : 'ASCII'}, 16 KiB chunks`,
    feed: chunked(bytes, 16 * 1024),
    bytes: bytes.length,
    events: count,
    maxEvent: 64 * 1024,
    warmups: QUICK ? 1 : 3,
    repeats: QUICK ? 3 : 9,
  }
}

function hugeEvent(megabytes: number): Workload {
  const size = megabytes * 1_000_000
  const unit = 'a long line of model output, with ü and 漢字 — '
  const unitBytes = textEncoder.encode(unit).length
  const body = unit.repeat(Math.ceil(size / unitBytes))
  const bytes = textEncoder.encode(`data: ${body}\n\n`)
  return {
    name: `(c) one ${megabytes} MB event, 1-byte chunks`,
    feed: byteByByte(bytes),
    bytes: bytes.length,
    events: 1,
    maxEvent: bytes.length + 16,
    warmups: 1,
    repeats: QUICK ? 1 : 3,
  }
}

type Runner = (w: Workload) => { events: number; dataChars: number }

const runSluice: Runner = (w) => {
  let events = 0
  let dataChars = 0
  const parser = createParser({
    maxEventSize: w.maxEvent,
    onEvent(e: EventSourceMessage) {
      events++
      dataChars += e.data.length
    },
  })
  w.feed((chunk) => parser.feed(chunk))
  parser.end()
  return { events, dataChars }
}

const runEventsourceParser: Runner = (w) => {
  let events = 0
  let dataChars = 0
  const parser = createEsParser({
    onEvent(e) {
      events++
      dataChars += e.data.length
    },
  })
  const decoder = new TextDecoder()
  w.feed((chunk) => parser.feed(decoder.decode(chunk, { stream: true })))
  parser.feed(decoder.decode())
  return { events, dataChars }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * CPU time (user + system) of this process, not wall time: the parsers are
 * synchronous, so on a shared machine this leaves out time spent descheduled.
 */
function time(run: Runner, w: Workload): { ms: number; result: ReturnType<Runner> } {
  const t0 = process.cpuUsage()
  const result = run(w)
  const t = process.cpuUsage(t0)
  return { ms: (t.user + t.system) / 1000, result }
}

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000)
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

interface Row {
  name: string
  sluiceMBs: number
  esMBs: number
  ratio: number
  sluiceMs: number
  esMs: number
}

/**
 * The two parsers run alternately (warm-ups, then `repeats` pairs), so load
 * from other processes hits both alike; the ratio is the median of the
 * per-pair ratios.
 */
function compare(w: Workload): Row {
  const esTimes: number[] = []
  const slTimes: number[] = []
  const ratios: number[] = []
  for (let i = 0; i < w.warmups + w.repeats; i++) {
    const es = time(runEventsourceParser, w)
    const sl = time(runSluice, w)
    if (
      sl.result.events !== w.events ||
      es.result.events !== w.events ||
      sl.result.dataChars !== es.result.dataChars
    ) {
      throw new Error(
        `${w.name}: parsers disagree (sluice ${JSON.stringify(sl.result)}, eventsource-parser ${JSON.stringify(es.result)}, expected ${w.events} events)`,
      )
    }
    if (i < w.warmups) continue
    esTimes.push(es.ms)
    slTimes.push(sl.ms)
    ratios.push(es.ms / sl.ms)
  }
  const sluiceMs = median(slTimes)
  const esMs = median(esTimes)
  const row = {
    name: w.name,
    sluiceMBs: mbps(w.bytes, sluiceMs),
    esMBs: mbps(w.bytes, esMs),
    ratio: median(ratios),
    sluiceMs,
    esMs,
  }
  console.error(
    `  ${row.name}: sluice ${fmt(row.sluiceMBs)} MB/s, eventsource-parser ${fmt(row.esMBs)} MB/s, ${fmt(row.ratio, 2)}x`,
  )
  return row
}

function benchEncoder(): { name: string; perSec: number }[] {
  const events: { id: string; event: string; data: string }[] = []
  for (let i = 0; i < 1000; i++) {
    events.push({
      id: String(i),
      event: 'token',
      data: `{"choices":[{"delta":{"content":"${WORDS[i % WORDS.length]}"}}]}`,
    })
  }
  const multi = { id: '1', data: 'line one\nline two\r\nline three' }
  const cases: [string, () => unknown][] = [
    ['encodeEvent (string), token event', () => events.map(encodeEvent)],
    ['encodeEventBytes (Uint8Array), token event', () => events.map(encodeEventBytes)],
    ['encodeEvent, 3-line data', () => events.map(() => encodeEvent(multi))],
  ]
  const out: { name: string; perSec: number }[] = []
  for (const [name, fn] of cases) {
    for (let i = 0; i < 200; i++) fn()
    const times: number[] = []
    for (let r = 0; r < (QUICK ? 3 : 9); r++) {
      const t0 = performance.now()
      for (let i = 0; i < 100; i++) fn()
      times.push(performance.now() - t0)
    }
    const perSec = (100 * events.length) / (median(times) / 1000)
    out.push({ name, perSec })
    console.error(`  ${name}: ${fmt(perSec)} events/s`)
  }
  return out
}

function main(): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.error(
    `sluice parser bench — node ${process.version}, ${platform()}/${arch()}, ${cpus().length} × ${cpu}${QUICK ? ' (BENCH_QUICK)' : ''}`,
  )
  const rows: Row[] = []
  rows.push(compare(tokenEvents(QUICK ? 20_000 : 200_000, false)))
  rows.push(compare(tokenEvents(QUICK ? 20_000 : 200_000, true)))
  rows.push(compare(largeEvents(QUICK ? 200 : 2_000, false)))
  rows.push(compare(largeEvents(QUICK ? 200 : 2_000, true)))
  const small = compare(hugeEvent(QUICK ? 1 : 5))
  const big = compare(hugeEvent(QUICK ? 2 : 10))
  rows.push(small, big)

  console.error('encoder:')
  const enc = benchEncoder()

  const lines = [
    '| case | sluice MB/s | eventsource-parser MB/s | ratio |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) => `| ${r.name} | ${fmt(r.sluiceMBs)} | ${fmt(r.esMBs)} | ${fmt(r.ratio, 2)}x |`,
    ),
  ]
  console.log('\n' + lines.join('\n'))
  const scale = big.sluiceMs / small.sluiceMs
  console.log(
    `\n(c) scaling: sluice ${fmt(small.sluiceMs)} ms for the smaller event, ${fmt(big.sluiceMs)} ms for the one twice as large: ${fmt(scale, 2)}x the time for 2x the bytes (linear = 2.00x)`,
  )
  console.log(
    '\n| encoder | events/s |\n| --- | ---: |\n' +
      enc.map((e) => `| ${e.name} | ${fmt(e.perSec)} |`).join('\n'),
  )
  const targets = [
    ['(a) ASCII >= 2x eventsource-parser', rows[0].ratio >= 2],
    ['(a) UTF-8 >= 2x eventsource-parser', rows[1].ratio >= 2],
    ['(b) ASCII >= 1x eventsource-parser', rows[2].ratio >= 1],
    ['(b) UTF-8 >= 1x eventsource-parser', rows[3].ratio >= 1],
    ['(c) linear (time ratio for 2x input <= 2.6x)', scale <= 2.6],
  ] as const
  console.log('\ntargets: ' + targets.map(([t, ok]) => `${ok ? 'met' : 'MISSED'} ${t}`).join('; '))
}

main()
