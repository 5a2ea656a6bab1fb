/**
 * jose and ioredis are optional peers: a program that never uses auth or Redis
 * runs without them installed, and one that does gets MISSING_DEPENDENCY
 * naming the package. "Not installed" is made real with a module hook that
 * refuses to resolve them, in a child process.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const HIDE = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(spec, ctx, next) {
  if (spec === 'jose' || spec === 'ioredis') {
    const e = new Error("Cannot find package '" + spec + "'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e
  }
  return next(spec, ctx)
}\`))
`)}`

function run(script: string): string {
  return execFileSync(
    process.execPath,
    ['--import', 'tsx', '--import', HIDE, '--input-type=module', '-e', script],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  ).trim()
}

describe('optional peers', () => {
  it('an open hub publishes without jose or ioredis', () => {
    const out = run(`
      import { createHub } from './src/hub/index.ts'
      const hub = createHub()
      const id = await hub.publish('news', 'hi')
      await hub.close()
      console.log(typeof id)
    `)
    expect(out).toBe('string')
  })

  it('a hub with auth, without jose: MISSING_DEPENDENCY naming jose', () => {
    const out = run(`
      import { createHub } from './src/hub/index.ts'
      const hub = createHub({ auth: { secret: 'k' } })
      try {
        await hub.authorizer
        console.log('loaded')
      } catch (err) {
        console.log(err.code, err.message.includes('npm install jose'))
      }
      await hub.close()
    `)
    expect(out).toBe('MISSING_DEPENDENCY true')
  })

  it('redisStore without ioredis: MISSING_DEPENDENCY naming ioredis', () => {
    const out = run(`
      import { redisStore } from './src/hub/redis-store.ts'
      try {
        await redisStore({ url: 'redis://127.0.0.1:1' })
        console.log('loaded')
      } catch (err) {
        console.log(err.code, err.message.includes('npm install ioredis'))
      }
    `)
    expect(out).toBe('MISSING_DEPENDENCY true')
  })

  it('the hook really hides jose (the test above is not vacuous)', () => {
    expect(() => run(`await import('jose')`)).toThrow(/Cannot find package 'jose'/)
  })
})
