/**
 * A run's log in its store: where it lives, how its events are named and
 * numbered, and the rule every reader applies to it.
 *
 * In order: `event: run` `{"runId","resumeUrl"}`, the producer's events, then
 * exactly one terminal `event: done` `{"reason":...}` where the reason is
 * `complete`, `stopped` (DELETE), `error` (after an `event: error`) or `lost`
 * (its node died). Several nodes may race to write a terminal event (a stop
 * against the producer's own end, two followers noticing a lapsed lease): the
 * FIRST terminal event in the log wins for every reader, and anything after
 * it is never delivered. That one rule keeps every follower, on every node,
 * and every later resume in agreement without a lock.
 *
 * Ids: a run's events are numbered from 0 (the `run` event) by the producer;
 * the SSE id is `<runId>:<n>`, so an id names its run as well as the place in
 * it: any request that carries it as `Last-Event-ID` (even a re-sent POST)
 * can only mean "continue this run after event n". The store keeps the
 * number in the event name (`<n>:<name>`); a terminal event another node
 * writes carries no number and takes the next one, which every reader
 * computes alike from the log.
 */
import { SluiceError } from '../protocol/errors.js'
import type { StoredEvent } from '../hub/store.js'

/** Store topics of runs start with a NUL, which a pub/sub topic may never contain: runs and topics never meet. */
export const RUN_TOPIC_PREFIX = '\u0000run:'
export const RUN_EVENT = 'run'
export const DONE_EVENT = 'done'
/** The producing node's lease marker: in the log, never delivered to clients. */
export const LEASE_EVENT = 'sluice-lease'
/**
 * A follower's presence marker, written by a node that follows a run another
 * node produces (so that node does not stop it as abandoned): in the log,
 * never delivered, and no sign of the producer's life.
 */
export const FOLLOW_EVENT = 'sluice-follow'

export const DEFAULT_RUN_TTL = 10 * 60_000
export const DEFAULT_RUN_LEASE = 5_000

export type RunEndReason = 'complete' | 'stopped' | 'error' | 'lost'

const RUN_ID_RE = /^[A-Za-z0-9_-]{1,128}$/
/** Event names the producer may not use: the log's own. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  RUN_EVENT,
  DONE_EVENT,
  LEASE_EVENT,
  FOLLOW_EVENT,
])

/** A marker of the log's own (lease, presence): never delivered, never numbered. */
export const isMarker = (e: StoredEvent): boolean =>
  e.event === LEASE_EVENT || e.event === FOLLOW_EVENT

export const noop = (): void => {}

export function runTopic(runId: string): string {
  return RUN_TOPIC_PREFIX + runId
}

/** A run id: 128 random bits (Web Crypto) as 32 hex characters. It is the run's capability: whoever has it may follow and stop the run, unless the run has an owner. */
export function newRunId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** An owned run's id: `<32 hex>-<22 base64url>`, the second part a hash of the first and the owner. */
const OWNED_ID = /^([0-9a-f]{32})-([A-Za-z0-9_-]{22})$/
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The first 22 base64url characters (132 bits) of SHA-256(random, owner). */
async function ownerTag(random: string, owner: string): Promise<string> {
  const data = new TextEncoder().encode(`${random}\n${owner}`)
  const h = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data))
  let s = ''
  for (let i = 0; i + 2 < 24; i += 3) {
    const n = (h[i] << 16) | (h[i + 1] << 8) | h[i + 2]
    s += B64URL[(n >> 18) & 63] + B64URL[(n >> 12) & 63] + B64URL[(n >> 6) & 63] + B64URL[n & 63]
  }
  return s.slice(0, 22)
}

/**
 * A run id bound to its owner (a token's subject): the id itself says who
 * owns the run, on every node, with nothing stored. Someone with another
 * subject cannot follow it with this id, and cannot make an id of their own
 * name that names this run.
 */
export async function ownedRunId(owner: string): Promise<string> {
  const random = newRunId()
  return `${random}-${await ownerTag(random, owner)}`
}

/**
 * The run id an idempotency key stands for, the same on every node: 32 hex
 * of SHA-256(key, owner), and with an owner bound to them as `ownedRunId`'s
 * are (so the key is the owner's own: another subject's same key names
 * another run, and cannot follow this one).
 */
export async function idempotentRunId(key: string, owner?: string): Promise<string> {
  const data = new TextEncoder().encode(`sluice-idempotency\n${owner ?? ''}\n${key}`)
  const h = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data))
  let hex = ''
  for (const b of h.subarray(0, 16)) hex += b.toString(16).padStart(2, '0')
  return owner === undefined ? hex : `${hex}-${await ownerTag(hex, owner)}`
}

/**
 * May `subject` follow or stop this run? Any subject may, for a run without
 * an owner (its id is the capability). For an owned one: no subject (null)
 * is UNAUTHORIZED, another one RUN_FORBIDDEN. `undefined`: no check (the app
 * does its own).
 */
export async function checkOwner(runId: string, subject: string | null | undefined): Promise<void> {
  if (subject === undefined) return
  const owned = OWNED_ID.exec(runId)
  if (!owned) return
  if (subject === null) {
    throw new SluiceError(
      'UNAUTHORIZED',
      'This run belongs to a user: send their token to follow or stop it.',
    )
  }
  if ((await ownerTag(owned[1], subject)) !== owned[2]) {
    throw new SluiceError(
      'RUN_FORBIDDEN',
      "This run belongs to another user (the token's subject is not its owner).",
    )
  }
}

export function checkRunId(runId: unknown): string {
  if (typeof runId !== 'string' || !RUN_ID_RE.test(runId)) {
    throw new SluiceError(
      'RUN_NOT_FOUND',
      'No such run: a run id is 1-128 characters of A-Z a-z 0-9 _ -.',
    )
  }
  return runId
}

/** A stored run event: `<n>:<name>` for the producer's numbered events, the bare name otherwise. */
export function unpack(e: StoredEvent): { n: number | undefined; name: string } {
  const ev = e.event ?? ''
  const colon = ev.indexOf(':')
  if (colon > 0) {
    const digits = ev.slice(0, colon)
    if (/^\d{1,15}$/.test(digits)) return { n: Number(digits), name: ev.slice(colon + 1) }
  }
  return { n: undefined, name: ev }
}

export const isTerminal = (e: StoredEvent): boolean => unpack(e).name === DONE_EVENT

export function doneReason(data: string): RunEndReason {
  try {
    const r = (JSON.parse(data) as { reason?: unknown }).reason
    if (r === 'complete' || r === 'stopped' || r === 'error' || r === 'lost') return r
  } catch {}
  return 'complete'
}

export function doneMessage(data: string): string | undefined {
  try {
    const m = (JSON.parse(data) as { message?: unknown }).message
    return typeof m === 'string' ? m : undefined
  } catch {
    return undefined
  }
}

/** The SSE id of event `n` of a run: `<runId>:<n>`. */
export function runEventId(runId: string, n: number): string {
  return `${runId}:${n}`
}

const RUN_EVENT_ID_RE = /^([A-Za-z0-9_-]{1,128}):(\d{1,15})$/

/** The run and event number an id names (`<runId>:<n>`), or null for any other id. */
export function parseRunEventId(id: string): { runId: string; n: number } | null {
  const m = RUN_EVENT_ID_RE.exec(id)
  return m ? { runId: m[1]!, n: Number(m[2]) } : null
}

/**
 * Whether an id is one a run's events carry, `<runId>:<n>` (or a bare `n`,
 * the ids of earlier versions): for comma-joined Last-Event-ID values.
 */
export const isRunEventId = (id: string): boolean =>
  RUN_EVENT_ID_RE.test(id) || /^\d{1,15}$/.test(id)

/**
 * The event number a follower of `runId` resumes after, from its
 * Last-Event-ID: -1 (from the start) for none. A bare number (the ids of
 * sluice before they named their run) is still taken. Throws BAD_REQUEST
 * (400) for an id that is not a run's, or is another run's.
 */
export function resumePoint(lastEventId: string, runId: string): number {
  if (!lastEventId) return -1
  const named = parseRunEventId(lastEventId)
  if (named && named.runId === runId) return named.n
  if (/^\d{1,15}$/.test(lastEventId)) return Number(lastEventId)
  throw new SluiceError(
    'BAD_REQUEST',
    named
      ? `Last-Event-ID ${JSON.stringify(lastEventId)} is an id of run ${named.runId}, not of run ${runId}: resume each run with its own ids.`
      : `Last-Event-ID ${JSON.stringify(lastEventId)} is not an id of run ${runId} (${runId}:0, ${runId}:1...): resume with the id of the last event you received, or none to replay the run.`,
  )
}

/**
 * What a follower resuming after event `after` makes of the log read so far:
 * whether its client already has the terminal event, and the number of the
 * oldest event kept (numbering as every reader does: an unnumbered, terminal,
 * event takes the next number).
 */
export function scanLog(
  events: readonly StoredEvent[],
  after: number,
): { finishedForClient: boolean; firstNumber: number | undefined } {
  let finishedForClient = false
  let firstNumber: number | undefined
  let last = -1
  for (const e of events) {
    if (isMarker(e)) continue
    last = unpack(e).n ?? last + 1
    firstNumber ??= last
    if (isTerminal(e)) {
      finishedForClient = last <= after
      break
    }
  }
  return { finishedForClient, firstNumber }
}
