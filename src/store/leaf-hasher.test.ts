import { describe, expect, it } from "vitest";
import { hashLeaf, rootFromLeafHashes, type Hash } from "../tlog/index.js";
import type { WorkerCalls } from "../worker/calls.js";
import { compressBundle } from "./bundle-codec.js";
import { LeafHasherPool } from "./leaf-hasher.js";
import { LogError } from "./types.js";

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

  it("replaces a worker that stopped, so hashing goes on", async () => {
    const pool = new LeafHasherPool(1);
    try {
      const internals = pool as unknown as { workers: WorkerCalls<unknown>[]; tiles: WorkerCalls<unknown> };
      const bundle = Buffer.from('{"a":1}\n{"b":2}\n');
      const leaves = Buffer.from(await pool.hash(bundle));
      expect(hex(await pool.tileRoots(tiles(1).data))).toEqual(hex(tiles(1).roots));
      // As if each worker had died (an out-of-memory kill, a bug): its calls fail from then on.
      const dead = [internals.workers[0]!, internals.tiles];
      for (const w of dead) await w.terminate();
      const { data, roots } = tiles(2);
      expect(hex(await pool.tileRoots(data))).toEqual(hex(roots));
      expect(Buffer.from(await pool.hash(bundle))).toEqual(leaves);
      expect(dead.every((w) => w.stopped)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe("leaf hasher pool: bundles given up, plain and compressed", () => {
  const lines = ['{"a":1}', "", '{"kind":"KeyEvent"}', '{"b":2}'];
  const bundle = Buffer.from(lines.map((l) => `${l}\n`).join(""));

  it("hashes a view into a larger buffer (Buffer's pool) as the bytes it shows, on a worker and in-thread", async () => {
    for (const size of [1, 0]) {
      const pool = new LeafHasherPool(size);
      try {
        const shared = Buffer.concat([Buffer.from("garbage\n"), bundle, Buffer.from("more\n")]);
        const view = shared.subarray(8, 8 + bundle.length);
        const got = await pool.hashGiven(view, ['"kind":"KeyEvent"', '"kind":"ErasureRecord"']);
        expect(Buffer.from(got.bytes)).toEqual(bundle);
        expect(got.found).toEqual([true, false]);
        expect(got.empty).toEqual([1]);
        expect(shared.length).toBe(bundle.length + 13); // copied, not taken
        const hashes = Buffer.from(got.hashes);
        expect(hashes.subarray(0, 32)).toEqual(Buffer.from(hashLeaf(Buffer.from(lines[0]!))));
        expect(hashes.subarray(96, 128)).toEqual(Buffer.from(hashLeaf(Buffer.from(lines[3]!))));
      } finally {
        await pool.close();
      }
    }
  });

  it("decompresses a stored bundle where it hashes it; damage is an error naming it", async () => {
    for (const size of [1, 0]) {
      const pool = new LeafHasherPool(size);
      try {
        const stored = compressBundle(bundle, 3, 2);
        const got = await pool.hashCompressed(stored, "entry bundle 7", []);
        expect(Buffer.from(got.bytes)).toEqual(bundle);
        expect(Buffer.from(got.hashes)).toEqual(
          Buffer.from((await pool.hashGiven(Buffer.from(bundle))).hashes),
        );
        const bad = compressBundle(bundle, 3, 2);
        bad[6] = bad[6]! ^ 0xff;
        const err = await pool.hashCompressed(bad, "entry bundle 7", []).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LogError);
        expect((err as LogError).code).toBe("corrupt");
        expect((err as LogError).message).toMatch(/^entry bundle 7: frame 0: /);
      } finally {
        await pool.close();
      }
    }
  });
});
