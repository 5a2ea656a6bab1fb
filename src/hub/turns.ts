/**
 * Turns of the event loop, on any runtime: Node's, Bun's and Deno's
 * setImmediate and process.nextTick where they exist, and stand-ins where
 * they do not (Cloudflare Workers without `nodejs_compat`, browsers).
 */

/** A pending turn: setImmediate's, or the 0 ms timer standing in for it. */
export type Turn = unknown
/** The next turn of the event loop: setImmediate where there is one (Node, Bun, Deno), else a 0 ms timer (Workers, browsers). */
export const later: (fn: () => void) => Turn =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0)
export const cancel: (turn: Turn) => void =
  typeof clearImmediate === 'function'
    ? (turn) => clearImmediate(turn as ReturnType<typeof setImmediate>)
    : (turn) => clearTimeout(turn as ReturnType<typeof setTimeout>)

/** After the current operation: process.nextTick where there is one, else a microtask. */
export const soon: (fn: () => void) => void =
  typeof process === 'object' && typeof process?.nextTick === 'function'
    ? (fn) => process.nextTick(fn)
    : (fn) => queueMicrotask(fn)
