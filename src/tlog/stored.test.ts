import { describe, expect, it } from "vitest";
import { type Hash } from "./hash.js";
import {
  type HashReader,
  memoryHashReader,
  proveConsistency,
  proveInclusion,
  proveInclusions,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashIndex,
  subtreeIndexes,
  treeHash,
} from "./stored.js";
import { rootFromLeafHashes, verifyConsistency, verifyInclusion } from "./tree.js";
import { hex, testLeaves, uniformTree } from "./testdata/helpers.js";

describe("stored hash layout", () => {
  it("matches the Crosby–Wallach order Go's tlog uses", () => {
    // Leaf 0, leaf 1, node(1,0), leaf 2, leaf 3, node(1,1), node(2,0), leaf 4, …
    const order: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 0],
      [0, 2],
      [0, 3],
      [1, 1],
      [2, 0],
      [0, 4],
      [0, 5],
      [1, 2],
      [0, 6],
      [0, 7],
      [1, 3],
      [2, 1],
      [3, 0],
    ];
    order.forEach(([level, n], i) => {
      expect(storedHashIndex(level, n)).toBe(i);
      expect(splitStoredHashIndex(i)).toEqual({ level, n });
    });
  });

  it("round-trips every index below 20000 and large ones", () => {
    for (let i = 0; i < 20000; i++) {
      const { level, n } = splitStoredHashIndex(i);
      expect(storedHashIndex(level, n)).toBe(i);
    }
    for (const [level, n] of [
      [0, 99_999_999],
      [26, 1],
      [40, 3],
      [0, 2 ** 40 + 12345],
      [10, 2 ** 30 - 1],
    ] as const) {
      expect(splitStoredHashIndex(storedHashIndex(level, n))).toEqual({ level, n });
    }
  });

  it("counts stored hashes as appending leaves writes them", async () => {
    const leaves = testLeaves(300);
    const written: Hash[] = [];
    const reader: HashReader = { readHashes: async (indexes) => indexes.map((i) => written[i] as Hash) };
    for (let n = 0; n < leaves.length; n++) {
      expect(storedHashIndex(0, n)).toBe(written.length);
      const data = new TextEncoder().encode(`entry ${n}`);
      written.push(...(await storedHashes(n, data, reader)));
      expect(storedHashCount(n + 1)).toBe(written.length);
    }
    const memory = memoryHashReader(leaves);
    const all = Array.from({ length: written.length }, (_, i) => i);
    expect((await memory.readHashes(all)).map(hex)).toEqual(written.map(hex));
    expect(storedHashCount(0)).toBe(0);
  });

  it("treeHash equals the in-memory root for every size up to 300", async () => {
    const leaves = testLeaves(300);
    const reader = memoryHashReader(leaves);
    for (let size = 0; size <= 300; size++) {
      expect(hex(await treeHash(size, reader))).toBe(hex(rootFromLeafHashes(leaves.slice(0, size))));
    }
  });

  it("rejects bad coordinates and a reader that breaks its contract", async () => {
    expect(() => storedHashIndex(-1, 0)).toThrow(expect.objectContaining({ code: "invalid-proof-input" }));
    expect(() => splitStoredHashIndex(1.5)).toThrow(expect.objectContaining({ code: "invalid-proof-input" }));
    expect(() => subtreeIndexes(3, 8)).toThrow(expect.objectContaining({ code: "invalid-proof-input" }));
    expect(subtreeIndexes(8, 13)).toEqual([storedHashIndex(2, 2), storedHashIndex(0, 12)]);
    await expect(proveInclusion(4, 4, memoryHashReader(testLeaves(4)))).rejects.toMatchObject({
      code: "invalid-proof-input",
    });
    await expect(proveConsistency(5, 4, memoryHashReader(testLeaves(4)))).rejects.toMatchObject({
      code: "invalid-proof-input",
    });
    const short: HashReader = {
      readHashes: async (indexes) => indexes.slice(1).map(() => new Uint8Array(32)),
    };
    await expect(treeHash(7, short)).rejects.toMatchObject({ code: "bad-hash-reader" });
    const wrongSize: HashReader = { readHashes: async (indexes) => indexes.map(() => new Uint8Array(31)) };
    await expect(proveInclusion(7, 2, wrongSize)).rejects.toMatchObject({ code: "bad-hash-reader" });
  });
});

describe("a 100-million-entry log", () => {
  const SIZE = 100_000_000;
  const { levels, root: uniformRoot } = uniformTree();

  function countingReader(): HashReader & { calls: number; hashes: number } {
    const r = {
      calls: 0,
      hashes: 0,
      async readHashes(indexes: number[]) {
        r.calls++;
        r.hashes += indexes.length;
        return indexes.map((i) => levels[splitStoredHashIndex(i).level] as Hash);
      },
    };
    return r;
  }

  it("computes the root from at most 1 + log2(n) hashes in one read", async () => {
    const reader = countingReader();
    const root = await treeHash(SIZE, reader);
    expect(hex(root)).toBe(hex(uniformRoot(SIZE)));
    expect(reader.calls).toBe(1);
    expect(reader.hashes).toBeLessThanOrEqual(28);
  });

  it("proves inclusion and consistency reading a few dozen hashes", async () => {
    const root = uniformRoot(SIZE);
    for (const index of [0, 1, 12_345_678, 67_108_863, 67_108_864, SIZE - 2, SIZE - 1]) {
      const reader = countingReader();
      const proof = await proveInclusion(SIZE, index, reader);
      expect(verifyInclusion(levels[0] as Hash, index, SIZE, proof, root)).toBe(true);
      expect(reader.calls).toBe(1);
      expect(reader.hashes).toBeLessThanOrEqual(40);
    }
    const indexes = [0, 1, 12_345_678, 67_108_863, SIZE - 1];
    const batched = countingReader();
    const proofs = await proveInclusions(SIZE, indexes, batched);
    expect(batched.calls).toBe(1);
    for (const [i, index] of indexes.entries()) {
      expect(proofs[i]?.map(hex)).toEqual((await proveInclusion(SIZE, index, countingReader())).map(hex));
    }
    await expect(proveInclusions(SIZE, [SIZE], countingReader())).rejects.toMatchObject({
      code: "invalid-proof-input",
    });
    for (const size1 of [1, 1000, 67_108_864, 99_999_999]) {
      const reader = countingReader();
      const proof = await proveConsistency(size1, SIZE, reader);
      expect(verifyConsistency(size1, SIZE, proof, uniformRoot(size1), root)).toBe(true);
      expect(reader.calls).toBe(1);
      expect(reader.hashes).toBeLessThanOrEqual(40);
    }
  });
});
