/**
 * A bounded memo keyed by SQL text (or any text the proxy sees once per statement).
 *
 * A service that binds parameters repeats a handful of texts, and a memo turns per-statement
 * work into a lookup. One that inlines its literals (psycopg2, pgbench -M simple) sends a new
 * text every time: there a memo only churns, and its entries live long enough to be promoted
 * out of V8's young generation, which made the proxy spend more on garbage collection than the
 * memo saved. So each time the memo fills up it looks at how often it was hit since it last
 * started empty, and when fewer than half the lookups hit it stops storing for a while, then
 * tries again (the traffic may have changed).
 */
export class TextMemo<V> {
  private readonly map = new Map<string, V>();
  private lookups = 0;
  private hits = 0;
  /** Lookups left before storing resumes; 0 while storing. */
  private resting = 0;

  constructor(private readonly limit = 4096) {}

  get(key: string): V | undefined {
    if (this.resting > 0) {
      this.resting--;
      return undefined;
    }
    this.lookups++;
    const value = this.map.get(key);
    if (value !== undefined) this.hits++;
    return value;
  }

  set(key: string, value: V): void {
    if (this.resting > 0) return;
    if (this.map.size >= this.limit) {
      const worthIt = this.hits * 2 >= this.lookups;
      this.map.clear();
      this.lookups = 0;
      this.hits = 0;
      if (!worthIt) {
        this.resting = this.limit * 8;
        return;
      }
    }
    this.map.set(key, value);
  }

  /** `get`, or `compute` stored under `key`. */
  getOr(key: string, compute: (key: string) => V): V {
    let value = this.get(key);
    if (value === undefined) {
      value = compute(key);
      this.set(key, value);
    }
    return value;
  }

  clear(): void {
    this.map.clear();
    this.lookups = 0;
    this.hits = 0;
    this.resting = 0;
  }

  /** Whether the memo is currently storing (for tests and the benchmark's curiosity). */
  get storing(): boolean {
    return this.resting === 0;
  }

  get size(): number {
    return this.map.size;
  }
}
