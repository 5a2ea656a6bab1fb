/** HTTP header names sluice's server and client agree on. */

/** A response header naming where a dropped stream (a run) is resumed (`GET`, with `Last-Event-ID`) and stopped (`DELETE`). */
export const RESUME_URL_HEADER = 'Sluice-Resume-Url'
