/** Waiting in tests: a plain sleep, and polling a condition under a liveness bound. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Poll `check` every 5 ms until it holds, or fail after `timeoutMs` (a
 * generous liveness bound, not a speed assertion). Resolves with the ms it
 * took. `what` names the condition in the error.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const held = check()
    if (typeof held === 'boolean' ? held : await held) return performance.now() - t0
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${what} not met within ${timeoutMs} ms`)
    await sleep(5)
  }
}
