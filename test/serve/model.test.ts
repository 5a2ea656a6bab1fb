/**
 * The simulated model of `POST /chat` (src/cli/model.ts): deterministic,
 * varied, whole words, and produced one token at a time.
 */
import { describe, expect, it } from 'vitest'
import { answerFor, answerTokens, tokenize } from '../../src/cli/model.js'

describe('the simulated model', () => {
  it('without `tokens`, answers with answerFor: the message echoed, then one sentence', () => {
    expect(tokenize({ message: 'hi', mode: 'words' }).join('')).toBe(answerFor('hi'))
    expect(answerFor('hi')).toMatch(/^You said "hi"\. [A-Z].*\.$/)
    expect(answerFor('  ')).toMatch(/^You said an empty message\. /)
  })

  it('with `tokens=N`, exactly N whole words: one trailing space each, none on the last', () => {
    for (const n of [1, 2, 7, 30, 1000]) {
      const tokens = tokenize({ message: 'Hello chat', mode: 'words', tokens: n })
      expect(tokens).toHaveLength(n)
      for (const t of tokens.slice(0, -1)) expect(t).toMatch(/^\S+ $/)
      expect(tokens.at(-1)).toMatch(/^\S+$/)
    }
    // A prefix of a longer answer: cutting never changes the words before the cut.
    const long = tokenize({ message: 'Hello chat', mode: 'words', tokens: 1000 }).join('')
    const short = tokenize({ message: 'Hello chat', mode: 'words', tokens: 30 }).join('')
    expect(long.startsWith(short)).toBe(true)
  })

  it('is deterministic per message, varied across sentences, and never repeats a sentence twice in a row', () => {
    const a = tokenize({ message: 'Why?', mode: 'words', tokens: 2000 }).join('')
    expect(tokenize({ message: 'Why?', mode: 'words', tokens: 2000 }).join('')).toBe(a)
    expect(tokenize({ message: 'Why not?', mode: 'words', tokens: 2000 }).join('')).not.toBe(a)
    const sentences = a.split(/(?<=\.) /).slice(1, -1)
    expect(new Set(sentences).size).toBeGreaterThan(10)
    for (let i = 1; i < sentences.length; i++) expect(sentences[i]).not.toBe(sentences[i - 1])
  })

  it('chars mode: the message one code point at a time', () => {
    expect(tokenize({ message: 'a😀b', mode: 'chars' })).toEqual(['a', '😀', 'b'])
  })

  it('produces tokens lazily: the 100,000-token answer is never built whole (issue 17 row 1)', () => {
    const it = answerTokens({ message: 'x', mode: 'words', tokens: 100_000 })
    // The first token comes from a generator that has not looked past its first sentence.
    expect(it.next().value).toBe('You ')
    let n = 1
    for (const _ of it) n++
    expect(n).toBe(100_000)
  })
})
