// The memory that webhook requests may hold at once, shared by the thread that reads request
// bodies and the receive workers that parse them (a SharedArrayBuffer counter, updated with
// Atomics): a body's bytes count from its first byte until its answer, and parsing counts its
// estimated cost (see parseCost) on top while it runs. Whatever would go beyond the budget waits
// for a retry (429), so many large or hostile requests at once cannot exceed the memory limit
// the process runs under.

export class MemoryBudget {
  private readonly used: BigInt64Array;
  readonly maxBytes: number;

  /** A new budget of `maxBytes`, or the same budget as another thread's (its `shared`). */
  constructor(maxBytes: number, shared?: SharedArrayBuffer) {
    if (!(maxBytes > 0)) throw new RangeError(`memory budget must be positive, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    this.used = new BigInt64Array(shared ?? new SharedArrayBuffer(8));
  }

  /** What another thread passes to `new MemoryBudget(maxBytes, shared)` to share this budget. */
  get shared(): SharedArrayBuffer {
    return this.used.buffer as SharedArrayBuffer;
  }

  /** Bytes reserved now, by every thread. */
  get usedBytes(): number {
    return Number(Atomics.load(this.used, 0));
  }

  /**
   * Reserves `bytes` when they fit, or when no more than `own` bytes are reserved (the caller's
   * own: one request alone must always be able to proceed); returns false otherwise, reserving
   * nothing.
   */
  tryReserve(bytes: number, own = -1): boolean {
    const want = BigInt(Math.ceil(bytes));
    const max = BigInt(Math.floor(this.maxBytes));
    const alone = BigInt(Math.ceil(own));
    for (;;) {
      const now = Atomics.load(this.used, 0);
      if (now + want > max && now > alone) return false;
      if (Atomics.compareExchange(this.used, 0, now, now + want) === now) return true;
    }
  }

  /** Gives back what tryReserve(bytes) took. */
  release(bytes: number): void {
    Atomics.sub(this.used, 0, BigInt(Math.ceil(bytes)));
  }
}
