/** One topic's history in the memory store: a log trimmed by length and age. */
import type { StoredEvent, TopicInfo } from './store.js'

export class TopicLog {
  /** Live entries are `entries[start..]`; the dead prefix is compacted away in bulk. */
  entries: StoredEvent[] = []
  start = 0
  /** Highest seq dropped by trimming. */
  trimmedSeq = 0
  expireTimer?: ReturnType<typeof setTimeout>
  /** The seq of the last append (which topics to evict first). */
  touched = 0

  /** Drop entries past `maxLength` or older than `maxAge` at time `t`. */
  trim(maxLength: number, maxAge: number, t: number): void {
    const { entries } = this
    let start = this.start
    const overflow = entries.length - start - maxLength
    if (overflow > 0) start += overflow
    if (maxAge !== Number.POSITIVE_INFINITY) {
      const cutoff = t - maxAge
      while (start < entries.length && entries[start].time < cutoff) start++
    }
    if (start === this.start) return
    this.trimmedSeq = entries[start - 1].seq
    this.start = start
    // Compact when the dead prefix is as large as the live part: amortised O(1) per event.
    if (start >= 1024 && start * 2 >= entries.length) {
      this.entries = entries.slice(start)
      this.start = 0
    }
  }

  /** Index of the first live entry with seq > afterSeq (binary search). */
  firstAfter(afterSeq: number): number {
    const { entries } = this
    let lo = this.start
    let hi = entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (entries[mid].seq <= afterSeq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  info(): TopicInfo {
    const length = this.entries.length - this.start
    return {
      length,
      firstSeq: length ? this.entries[this.start].seq : 0,
      lastSeq: length ? this.entries[this.entries.length - 1].seq : 0,
      trimmedSeq: this.trimmedSeq,
    }
  }
}
