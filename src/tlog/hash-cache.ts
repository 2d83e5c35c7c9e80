// A log keeps the stored hashes it has read: a stored hash names a complete subtree, so its
// value never changes as the tree grows, and reading one from the tiles costs up to 2^7 SHA-256
// (tlog-tiles keeps one level in eight). Proving a page of entries reads thousands of them, and
// an investigation asks about the same objects again and again.
import type { Hash } from "./hash.js";
import { type HashReader, storedHashCount } from "./stored.js";

/** Stored hashes by index, the most recently used `capacity` of them. */
export class StoredHashCache {
  private readonly hashes = new Map<number, Hash>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.hashes.size;
  }

  get(index: number): Hash | undefined {
    const hash = this.hashes.get(index);
    if (hash !== undefined) {
      this.hashes.delete(index);
      this.hashes.set(index, hash);
    }
    return hash;
  }

  set(index: number, hash: Hash): void {
    this.hashes.delete(index);
    this.hashes.set(index, hash);
    if (this.hashes.size > this.capacity) this.evictOldest();
  }

  /**
   * Drops the least recently used eighth. Not one at a time: a Map keeps a deleted entry's slot
   * until it is rebuilt, and each new iterator walks past every such slot from the start, so
   * evicting the oldest on every set cost a walk over up to `capacity` dead slots each time (a
   * stream of new hashes, as the indexer reads, made that the main thread's largest cost).
   */
  private evictOldest(): void {
    let drop = this.hashes.size - (this.capacity - (this.capacity >> 3));
    for (const index of this.hashes.keys()) {
      if (drop-- <= 0) break;
      this.hashes.delete(index);
    }
  }
}

/**
 * `reader` (over the tree of `size` leaves, reading the log's own trusted tiles) answering from
 * `cache` what it holds, and filling it with the rest. Hashes outside the tree always go to
 * `reader`, which refuses them. Each answer is a copy: nobody can change the cache's.
 */
export function cachingHashReader(reader: HashReader, cache: StoredHashCache, size: number): HashReader {
  const limit = storedHashCount(size);
  return {
    async readHashes(indexes) {
      const found = indexes.map((x) => (x < limit ? cache.get(x) : undefined));
      const missing = indexes.filter((_, i) => found[i] === undefined);
      const read = missing.length === 0 ? [] : await reader.readHashes(missing);
      let next = 0;
      return indexes.map((x, i) => {
        const held = found[i];
        if (held !== undefined) return held.slice();
        // Fresh from the reader: the caller may have it, the cache keeps its own copy.
        const hash = read[next++] as Hash;
        cache.set(x, hash.slice());
        return hash;
      });
    },
  };
}
