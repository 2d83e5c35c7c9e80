import { describe, expect, it } from "vitest";
import { joinEntries, joinedSize } from "./bundle-format.js";
import { CommitBuffers } from "./commit-buffers.js";
import { bundleLeafHashes } from "./bundle-format.js";
import { LeafHasherPool } from "./leaf-hasher.js";

const memoryOf = (b: Buffer) => b.buffer as ArrayBuffer;

describe("commit buffers", () => {
  it("hands out exactly the size asked, in memory of its own, and reuses memory given back", () => {
    const buffers = new CommitBuffers();
    const a = buffers.take(300_000);
    expect(a.length).toBe(300_000);
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(512 * 1024); // its size class
    buffers.give(memoryOf(a));
    const b = buffers.take(400_000);
    expect(b.buffer).toBe(a.buffer);
    // Another size class is not served from it.
    expect(buffers.take(10).buffer).not.toBe(a.buffer);
  });

  it("keeps no memory of a size it does not hand out, nor more than it may keep", () => {
    const buffers = new CommitBuffers();
    const odd = new ArrayBuffer(300_000);
    buffers.give(odd);
    expect(buffers.take(300_000).buffer).not.toBe(odd);
    const huge = buffers.take(20 * 1024 * 1024);
    expect(huge.buffer.byteLength).toBe(20 * 1024 * 1024);
    buffers.give(memoryOf(huge));
    expect(buffers.take(20 * 1024 * 1024).buffer).not.toBe(huge.buffer);
    // 16 MiB buffers: 64 MiB are kept, the fifth is let go.
    const big = Array.from({ length: 5 }, () => buffers.take(16 * 1024 * 1024));
    for (const b of big) buffers.give(memoryOf(b));
    const again = Array.from({ length: 5 }, () => buffers.take(16 * 1024 * 1024).buffer);
    expect(again.filter((m) => big.some((b) => b.buffer === m))).toHaveLength(4);
  });

  it("lends a commit's memory to the hashing worker and gets it back, with the same hashes", async () => {
    const buffers = new CommitBuffers();
    const entries = Array.from({ length: 300 }, (_, i) =>
      Buffer.from(JSON.stringify({ n: i, pad: "x".repeat(i) })),
    );
    const joined = joinEntries(entries, buffers.take(joinedSize(entries)));
    const expected = Buffer.from(bundleLeafHashes(joined));
    const lent = joined.buffer;
    const size = lent.byteLength;
    const length = joined.length;
    const pool = new LeafHasherPool(1);
    try {
      const { hashes, memory } = await pool.hashLent(joined);
      expect(Buffer.from(hashes)).toEqual(expected);
      // Detached while lent; the same bytes come back in memory of the same size.
      expect(lent.byteLength).toBe(0);
      expect(memory.byteLength).toBe(size);
      expect(Buffer.from(memory, 0, length).subarray(0, 8).toString()).toBe('{"n":0,"');
      buffers.give(memory);
      expect(buffers.take(1000).buffer).toBe(memory);
      // A plain hash leaves the caller's bytes alone.
      const copy = Buffer.from(joinEntries(entries));
      expect(Buffer.from(await pool.hash(copy))).toEqual(expected);
      expect(copy.length).toBe(joinedSize(entries));
    } finally {
      await pool.close();
    }
  });

  it("hashes a given bundle by moving its memory when it spans it, by copying a view", async () => {
    const entries = Array.from({ length: 40 }, (_, i) => Buffer.from(JSON.stringify({ n: i })));
    const whole = joinEntries(entries);
    const expected = Buffer.from(bundleLeafHashes(whole));
    const view = Buffer.concat([Buffer.from("xx"), whole]).subarray(2);
    const pool = new LeafHasherPool(1);
    try {
      const moved = await pool.hashGiven(whole);
      expect(whole.length).toBe(0); // its memory went to the worker...
      expect(Buffer.from(moved.bytes).equals(joinEntries(entries))).toBe(true); // ...and came back
      expect(Buffer.from(moved.hashes)).toEqual(expected);
      const copied = await pool.hashGiven(view);
      expect(copied.bytes).toBe(view);
      expect(view.length).toBe(joinedSize(entries));
      expect(Buffer.from(copied.hashes)).toEqual(expected);
    } finally {
      await pool.close();
    }
  });
});
