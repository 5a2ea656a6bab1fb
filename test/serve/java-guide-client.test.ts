/**
 * The guide's own Java client (examples/java/async-http-client: its
 * DefaultMessageHandler and HttpStreamClient on async-http-client 2.12.3 and
 * lombok, as written plus imports and a print per body part), built with javac
 * from Debian's jars (`npm run test:setup` fetches them) and run verbatim but for
 * the URL against `sluice serve`: POST /chat with its raw "Hello WOrld!" body,
 * and the guide's Spring endpoint /sseEmitterTest?name=.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal, javaJarDir, requireBinary, start } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'
import { waitUntil } from '../helpers/wait.js'

const SRC = join(ROOT, 'examples/java/async-http-client')
const GUIDE_URL = 'http://127.0.0.1:8080/chat?format=envelope&mode=chars&delay=100'

interface Part {
  at: number
  text: string
}

describeExternal(
  ['javac', 'java', 'async-http-client'],
  "the guide's async-http-client client",
  () => {
    let running: RunningApp
    let dir: string
    let classpath: string

    beforeAll(async () => {
      running = await serveApp()
      dir = await mkdtemp(join(tmpdir(), 'sluice-ahc-'))
      classpath = `${javaJarDir()}/*`
    })
    afterAll(async () => {
      await running?.close()
      await rm(dir, { recursive: true, force: true })
    })

    /** Build the guide's two classes with `url` in place of the guide's URL, run, collect body parts. */
    async function runClient(url: string): Promise<Part[]> {
      const out = await mkdtemp(join(dir, 'build-'))
      const client = await readFile(join(SRC, 'HttpStreamClient.java'), 'utf8')
      expect(client).toContain(`"${GUIDE_URL}"`)
      await writeFile(join(out, 'HttpStreamClient.java'), client.replace(GUIDE_URL, url))
      await writeFile(
        join(out, 'DefaultMessageHandler.java'),
        await readFile(join(SRC, 'DefaultMessageHandler.java'), 'utf8'),
      )
      execFileSync(requireBinary('javac'), [
        '-cp',
        classpath,
        '-d',
        out,
        join(out, 'HttpStreamClient.java'),
        join(out, 'DefaultMessageHandler.java'),
      ])
      const proc = start(requireBinary('java'), ['-cp', `${classpath}:${out}`, 'HttpStreamClient'])
      try {
        // The guide's client never closes its AsyncHttpClient, so the JVM stays up: stop it
        // once the handler saw the response complete.
        await waitUntil(
          () => proc.output().includes(' completed'),
          60_000,
          'the response to complete',
        )
      } finally {
        proc.proc.kill('SIGKILL')
      }
      return proc
        .output()
        .split('\n')
        .map((l) => /^(\d+) (?:part (.*)|completed)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ at: Number(m[1]), text: m[2] ?? '<completed>' }))
    }

    function expectOnePerPart(parts: Part[], frames: string[]): void {
      // Each character arrived in a body part of its own, in order.
      const times: number[] = []
      let i = 0
      for (const p of parts) {
        if (i < frames.length && p.text === frames[i]) {
          times.push(p.at)
          i++
        }
      }
      expect(i, JSON.stringify(parts)).toBe(frames.length)
      // Spread over time as sent (11 gaps of 100 ms), not buffered to the end.
      expect(times.at(-1)! - times[0]).toBeGreaterThanOrEqual(1000)
    }

    it('POST /chat with the raw "Hello WOrld!" body: one envelope per character, then {"code":-200}', async () => {
      const parts = await runClient(`${running.url}/chat?format=envelope&mode=chars&delay=100`)
      const frames = [...'Hello WOrld!'].map(
        (c) => `data:${JSON.stringify({ code: 200, data: c })}\\n\\n`,
      )
      expectOnePerPart(parts, frames)
      const texts = parts.map((p) => p.text)
      const end = texts.indexOf('data:{"code":-200}\\n\\n')
      expect(end).toBeGreaterThan(texts.indexOf(frames.at(-1)!))
      expect(texts.at(-1)).toBe('<completed>')
    }, 120_000) // javac and a JVM start: seconds alone, over 25 s on a loaded machine

    it('/sseEmitterTest?name=Hello%20WOrld!: data:<char> every 100 ms, then the end', async () => {
      const parts = await runClient(`${running.url}/sseEmitterTest?name=Hello%20WOrld!`)
      // `data:<char>`; the space is `data:` + a space + the space, as the spec needs
      // (a parser drops one space after the colon; Spring's `data: ` would lose it).
      const frames = [...'Hello WOrld!'].map((c) => `data:${c === ' ' ? '  ' : c}\\n\\n`)
      expectOnePerPart(parts, frames)
      const texts = parts.map((p) => p.text).filter((t) => t !== '')
      // Nothing but the characters, as Spring's SseEmitter.send(String) writes them, then the end.
      expect(texts).toEqual([...frames, '<completed>'])
    }, 120_000)
  },
)
