/** Names sluice's server and client agree on: HTTP headers, and the hub's control event. */

/** A response header naming where a dropped stream (a run) is resumed (`GET`, with `Last-Event-ID`) and stopped (`DELETE`). */
export const RESUME_URL_HEADER = 'Sluice-Resume-Url'

/**
 * The event that tells a fresh subscriber where it stands: `id` is the
 * position, `data` `{"position":"<id>"}`. A named event, so clients that only
 * record the ids of dispatched events record it (an id-only block dispatches
 * nothing); sluice's client hides it, a browser's EventSource delivers it only
 * to listeners of its name.
 */
export const POSITION_EVENT = 'sluice-position'
