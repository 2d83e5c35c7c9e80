import { describe, expect, it } from "vitest";
import { TtlCache } from "./cache.js";

describe("TtlCache", () => {
  it("reuses a value until its TTL, then computes it again", async () => {
    let now = 1000;
    const cache = new TtlCache<string>(10, () => now);
    let calls = 0;
    const compute = async () => `v${++calls}`;
    expect(await cache.get("k", compute, () => 100)).toBe("v1");
    now += 99;
    expect(await cache.get("k", compute, () => 100)).toBe("v1");
    now += 2;
    expect(await cache.get("k", compute, () => 100)).toBe("v2");
  });

  it("holds at most maxEntries, dropping the oldest", async () => {
    const cache = new TtlCache<number>(3);
    for (let i = 0; i < 10; i++)
      await cache.get(
        `k${i}`,
        async () => i,
        () => 60_000,
      );
    expect(cache.size).toBe(3);
    let recomputed = false;
    await cache.get(
      "k0",
      async () => ((recomputed = true), 0),
      () => 60_000,
    );
    expect(recomputed).toBe(true);
  });

  it("shares one computation between concurrent lookups and never caches a failure", async () => {
    const cache = new TtlCache<number>(10);
    let calls = 0;
    let release: (v: number) => void = () => {};
    const slow = () => new Promise<number>((r) => (calls++, (release = r)));
    const both = Promise.all([cache.get("k", slow, () => 1000), cache.get("k", slow, () => 1000)]);
    release(7);
    expect(await both).toEqual([7, 7]);
    expect(calls).toBe(1);
    await expect(
      cache.get(
        "bad",
        async () => Promise.reject(new Error("apiserver down")),
        () => 1000,
      ),
    ).rejects.toThrow("apiserver down");
    expect(
      await cache.get(
        "bad",
        async () => 3,
        () => 1000,
      ),
    ).toBe(3);
    // A TTL of zero (for example a decision that must not be reused) is not stored.
    await cache.get(
      "once",
      async () => 1,
      () => 0,
    );
    expect(
      await cache.get(
        "once",
        async () => 2,
        () => 0,
      ),
    ).toBe(2);
  });
});
