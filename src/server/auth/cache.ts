// A small TTL cache, bounded in entries (oldest dropped first), for authentication and
// authorization decisions. Concurrent lookups of the same missing key share one computation.

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly pending = new Map<string, Promise<V>>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value for `key`, or compute() stored for ttl(value) ms; errors are not cached. */
  async get(key: string, compute: () => Promise<V>, ttl: (value: V) => number): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      if (hit.expires > this.now()) return hit.value;
      this.entries.delete(key);
    }
    const inflight = this.pending.get(key);
    if (inflight !== undefined) return inflight;
    const p = compute().then(
      (value) => {
        this.pending.delete(key);
        const ms = ttl(value);
        if (ms > 0) {
          this.entries.set(key, { value, expires: this.now() + ms });
          while (this.entries.size > this.maxEntries) {
            const oldest = this.entries.keys().next().value as string;
            this.entries.delete(oldest);
          }
        }
        return value;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, p);
    return p;
  }
}
