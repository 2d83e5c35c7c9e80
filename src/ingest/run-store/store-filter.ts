// One Bloom filter over every key in the store, kept by its writer thread in shared memory.
// Each run has a filter of its own, but asking every run costs a cache miss per run for each
// new key — most keys — and a large store has a dozen or more runs (bench/dedupe-store.ts).
// With this filter, a new key costs one; the runs' filters are asked only when it says "maybe".
// Keys only ever join the store (merges move them, nothing removes them), so the filter is
// built once from the runs and then kept up by adding each flush's keys as its run is written,
// before readers hear of the run. When the store outgrows it, a larger one is built the same way.
import { filterAdd, newFilter } from "./filter.js";
import { RunScanner } from "./run-file.js";
import { giveWay, SLICE_RECORDS } from "./slices.js";

/** Fewer bits than a run's filter: a false "maybe" only costs the runs' own filters. */
const BITS_PER_RECORD = 10;
/** Room for at least this many records, so a small store is not rebuilt at each flush. */
const MIN_CAPACITY = 1 << 20;

export class StoreFilter {
  /** The filter readers use, once built, and the records it has room for. */
  private current: Uint32Array | null = null;
  private capacity = 0;
  /** The filter being built: keys of runs written meanwhile go into it too. */
  private next: Uint32Array | null = null;

  /** The filters a new run's keys go into. */
  targets(): Uint32Array[] {
    return [this.current, this.next].filter((f) => f !== null);
  }

  /** True when a store of `records` records needs a (larger) filter and none is being built. */
  due(records: number): boolean {
    return this.next === null && (this.current === null || records > this.capacity);
  }

  /**
   * Builds a filter with room for twice `records` from the runs `names` in `dir` (their
   * records' checksums are checked on the way), a slice at a time; resolves with it once it
   * is the one in use.
   */
  async build(
    dir: string,
    names: readonly string[],
    records: number,
    stopping: () => boolean,
  ): Promise<Uint32Array> {
    const capacity = Math.max(2 * records, MIN_CAPACITY);
    const words = newFilter(capacity, BITS_PER_RECORD);
    this.next = words;
    // All opened at once: a run merged away meanwhile is removed, but stays readable here.
    const scanners: RunScanner[] = [];
    try {
      for (const name of names) scanners.push(new RunScanner(dir, name));
      let done = 0;
      for (const s of scanners) {
        for (; s.more; s.next()) {
          filterAdd(words, s.hi, s.lo);
          if (++done % SLICE_RECORDS === 0) await giveWay(stopping);
        }
      }
    } finally {
      this.next = null;
      for (const s of scanners) s.close();
    }
    this.current = words;
    this.capacity = capacity;
    return words;
  }
}
