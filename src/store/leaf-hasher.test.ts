import { describe, expect, it } from "vitest";
import { hashLeaf, rootFromLeafHashes, type Hash } from "../tlog/index.js";
import { LeafHasherPool } from "./leaf-hasher.js";

const leaf = (i: number): Hash => hashLeaf(new TextEncoder().encode(`entry ${i}`));
const hex = (hashes: Hash[]) => hashes.map((h) => Buffer.from(h).toString("hex"));

/** `count` tiles of 256 leaf hashes, concatenated, and the RFC 6962 root of each. */
function tiles(count: number): { data: Uint8Array; roots: Hash[] } {
  const data = new Uint8Array(count * 256 * 32);
  const roots: Hash[] = [];
  for (let t = 0; t < count; t++) {
    const leaves = Array.from({ length: 256 }, (_, i) => leaf(t * 256 + i));
    leaves.forEach((h, i) => data.set(h, (t * 256 + i) * 32));
    roots.push(rootFromLeafHashes(leaves));
  }
  return { data, roots };
}

describe("leaf hasher pool: tile roots", () => {
  it("gives the RFC 6962 root of each full tile, on a worker and in-thread alike", async () => {
    for (const size of [1, 0]) {
      const pool = new LeafHasherPool(size);
      try {
        const { data, roots } = tiles(5);
        expect(hex(await pool.tileRoots(data)), `pool of ${size}`).toEqual(hex(roots));
        expect(await pool.tileRoots(new Uint8Array(0))).toEqual([]);
      } finally {
        await pool.close();
      }
    }
  });

  it("copies a view instead of taking memory it does not span, and refuses partial tiles", async () => {
    const pool = new LeafHasherPool(1);
    try {
      const { data, roots } = tiles(3);
      const view = data.subarray(8192); // tiles 1 and 2
      expect(hex(await pool.tileRoots(view))).toEqual(hex(roots.slice(1)));
      expect(data.length).toBe(3 * 8192); // not detached
      await expect(pool.tileRoots(data.subarray(0, 8192 + 32))).rejects.toThrow(/not whole tiles/);
    } finally {
      await pool.close();
    }
  });
});
