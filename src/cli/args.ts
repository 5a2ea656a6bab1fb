/**
 * The one argument parser of the sluice commands, so that every command reads
 * its flags the same way and says the same things about them:
 *
 * - `--name VALUE`, `--name=VALUE`, `-n VALUE`; `--` ends the options; `-`
 *   alone is a positional (stdin);
 * - a value that looks like a flag is refused: `--jwt-secret --anonymous`
 *   (an unset `$SECRET`) must not make `--anonymous` the secret. A value that
 *   really starts with `-` is written `--name=-VALUE`;
 * - an unknown option, a missing value, a value on a switch: a `UsageError`
 *   naming the flag, which `main.ts` turns into exit status 2.
 */

/** A mistake in the command line: the command did nothing (exit status 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface FlagSpec {
  /** `string` takes a value; `boolean` is a switch. */
  type: 'string' | 'boolean'
  /** One letter: `-X`. */
  short?: string
  /** Repeatable; the values are collected in order. */
  multiple?: boolean
}

export type FlagSpecs = Record<string, FlagSpec>

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean'
    ? true
    : S[K]['multiple'] extends true
      ? string[]
      : string
}

export interface ParsedArgs<S extends FlagSpecs> {
  values: FlagValues<S>
  positionals: string[]
}

/** Parse `argv` against `spec`; throws `UsageError`. */
export function parseFlags<S extends FlagSpecs>(argv: readonly string[], spec: S): ParsedArgs<S> {
  const byShort = new Map<string, string>()
  for (const [name, f] of Object.entries(spec)) if (f.short) byShort.set(f.short, name)
  const values: Record<string, true | string | string[]> = {}
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg)
      continue
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const written = eq === -1 ? arg : arg.slice(0, eq)
    const name = written.startsWith('--') ? written.slice(2) : byShort.get(written.slice(1))
    const f = name === undefined ? undefined : spec[name]
    if (name === undefined || !f) {
      throw new UsageError(
        `unknown option '${written}'` +
          (written.startsWith('--') ? '.' : ` (an argument that starts with '-' goes after '--').`),
      )
    }
    if (f.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`${written} takes no value.`)
      values[name] = true
      continue
    }
    let value: string
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      value = flagValue(written, argv[i + 1])
      i++
    }
    if (f.multiple) ((values[name] ??= []) as string[]).push(value)
    else values[name] = value
  }
  return { values: values as FlagValues<S>, positionals }
}

/**
 * The separate value that follows `flag` (`--port 80`), refused when missing
 * or when it looks like another flag.
 */
export function flagValue(flag: string, next: string | undefined): string {
  if (next === undefined) throw new UsageError(`${flag} needs a value.`)
  if (next.startsWith('-') && next !== '-') {
    throw new UsageError(
      `${flag} needs a value, but '${next}' follows it (an unset variable?). ` +
        `For a value that starts with '-', write ${flag}=${next}.`,
    )
  }
  return next
}

/** A whole number >= `min` (default 1), or a UsageError naming the flag. */
export function intFlag(flag: string, value: string, min = 1): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 0 ? 'a whole number' : `a whole number of at least ${min}`
    throw new UsageError(`${flag} needs ${what}, got '${value}'.`)
  }
  return n
}

/** A TCP port, 0 (any free port) to 65535. */
export function portFlag(flag: string, value: string): number {
  const n = intFlag(flag, value, 0)
  if (n > 65535) throw new UsageError(`${flag} needs a port from 0 to 65535, got '${value}'.`)
  return n
}

/** A positive number (fractions allowed: `--timeout 0.5`). */
export function positiveFlag(flag: string, value: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value)
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new UsageError(`${flag} needs a positive number, got '${value}'.`)
  }
  return n
}

/** An absolute http(s) URL, or a UsageError with an example. */
export function urlArg(what: string, value: string, example: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`${what} '${value}' is not an absolute URL (try ${example}).`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${what} must be an http:// or https:// URL, got '${value}'.`)
  }
  return url
}

/** The last line of every command's help. */
/** Why a file could not be read, in words (`no such file`), for a message that names the flag and the file. */
export function unreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return (err as Error).message
}

export const EXIT_STATUS = 'Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted (Ctrl-C).'
