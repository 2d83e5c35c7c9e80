// Per-key sliding windows over event time. Event time (stageTimestamp), not the wall clock,
// so replaying old files gives the same alerts as watching live.

export interface Windowed<T> {
  time: number;
  item: T;
}

export class SlidingWindows<T> {
  private readonly keys = new Map<string, Windowed<T>[]>();
  private adds = 0;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  /**
   * Counts one occurrence; returns the occurrences that reached the threshold within the
   * window (and starts that key afresh, so one burst raises one alert), else undefined.
   */
  add(key: string, time: number, item: T): T[] | undefined {
    let list = this.keys.get(key);
    if (!list) {
      list = [];
      this.keys.set(key, list);
    }
    // Events reach the log nearly, not strictly, in time order (concurrent requests, several
    // apiservers): keep each key's list sorted so the window is the same whatever the order.
    let at = list.length;
    while (at > 0 && (list[at - 1] as Windowed<T>).time > time) at--;
    list.splice(at, 0, { time, item });
    const from = (list[list.length - 1] as Windowed<T>).time - this.windowMs;
    let drop = 0;
    while (drop < list.length && (list[drop] as Windowed<T>).time <= from) drop++;
    if (drop > 0) list.splice(0, drop);
    if (++this.adds % 1024 === 0) this.sweep(from);
    if (list.length >= this.threshold) {
      this.keys.delete(key);
      return list.map((w) => w.item);
    }
    return undefined;
  }

  /** Number of keys currently tracked (bounded by the sweep). */
  get size(): number {
    return this.keys.size;
  }

  // Keys that went quiet would otherwise stay forever; drop those whose newest entry is stale.
  private sweep(from: number): void {
    for (const [key, list] of this.keys) {
      const last = list[list.length - 1];
      if (!last || last.time <= from) this.keys.delete(key);
    }
  }
}
