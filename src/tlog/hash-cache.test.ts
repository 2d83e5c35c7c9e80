import { describe, expect, it } from "vitest";
import { cachingHashReader, StoredHashCache } from "./hash-cache.js";
import { hashLeaf } from "./hash.js";
import { type HashReader, memoryHashReader, proveInclusions, storedHashCount } from "./stored.js";

const SEED = 25_004;

/** A reader over `n` leaves that counts the hashes it is asked for. */
function countingReader(n: number): HashReader & { asked: number } {
  const leaves = Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
  const inner = memoryHashReader(leaves);
  const reader = {
    asked: 0,
    readHashes: (indexes: number[]) => {
      reader.asked += indexes.length;
      return inner.readHashes(indexes);
    },
  };
  return reader;
}

/** Deterministic pseudo-random indexes (mulberry32). */
function indexes(seed: number, count: number, below: number): number[] {
  let a = seed;
  return Array.from({ length: count }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * below);
  });
}

describe("a caching hash reader", () => {
  it("answers as the reader does, and asks it only for what it has not kept", async () => {
    console.info(`hash cache seed ${SEED}`);
    const size = 5_000;
    const plain = countingReader(size);
    const inner = countingReader(size);
    const cache = new StoredHashCache(100_000);
    const cached = cachingHashReader(inner, cache, size);
    const leaves = indexes(SEED, 50, size);
    const first = await proveInclusions(size, leaves, cached);
    expect(first).toEqual(await proveInclusions(size, leaves, plain));
    const askedOnce = inner.asked;
    expect(askedOnce).toBe(plain.asked);
    // The same proofs again, through a new reader over the same cache: nothing read.
    expect(await proveInclusions(size, leaves, cachingHashReader(inner, cache, size))).toEqual(first);
    expect(inner.asked).toBe(askedOnce);
    // Proofs in a larger tree reuse the hashes of the subtrees that were complete already.
    const bigger = countingReader(size * 2);
    const grown = cachingHashReader(bigger, cache, size * 2);
    expect(await proveInclusions(size * 2, leaves, grown)).toEqual(
      await proveInclusions(size * 2, leaves, countingReader(size * 2)),
    );
    expect(bigger.asked).toBeLessThan(askedOnce);
  });

  it("never answers for a hash outside its tree, even when it holds it", async () => {
    const cache = new StoredHashCache(1_000);
    const big = cachingHashReader(countingReader(64), cache, 64);
    const beyond = storedHashCount(8);
    await big.readHashes([beyond, beyond + 1]);
    const small = cachingHashReader(countingReader(8), cache, 8);
    await expect(small.readHashes([beyond])).rejects.toThrow(/beyond/);
  });

  it("keeps at most its capacity, and hands out copies", async () => {
    const cache = new StoredHashCache(10);
    const reader = cachingHashReader(countingReader(64), cache, 64);
    await reader.readHashes(Array.from({ length: 30 }, (_, i) => i));
    expect(cache.size).toBeLessThanOrEqual(10);
    const [h] = await reader.readHashes([29]);
    h!.fill(0);
    const [again] = await reader.readHashes([29]);
    expect(again).toEqual(
      (
        await memoryHashReader(
          Array.from({ length: 64 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`))),
        ).readHashes([29])
      )[0],
    );
  });

  it("evicts the least recently used, never more than an eighth below its capacity", async () => {
    const capacity = 64;
    const inner = countingReader(4_096);
    const cache = new StoredHashCache(capacity);
    const reader = cachingHashReader(inner, cache, 4_096);
    // Hash 0 is read again after every new one: always the most recently used, it stays.
    for (let x = 1; x < 1_000; x++) {
      await reader.readHashes([x]);
      await reader.readHashes([0]);
      expect(cache.size).toBeLessThanOrEqual(capacity);
      expect(cache.size).toBeGreaterThanOrEqual(Math.min(x + 1, capacity - capacity / 8));
    }
    expect(inner.asked).toBe(1_000);
    // The newest 7/8 of the capacity are all still there: reading them asks the reader nothing.
    await reader.readHashes(Array.from({ length: capacity - capacity / 8 - 1 }, (_, i) => 999 - i));
    expect(inner.asked).toBe(1_000);
    // The oldest were dropped.
    await reader.readHashes([1]);
    expect(inner.asked).toBe(1_001);
  });
});
