import { describe, expect, it } from "vitest";
import { hashLeaf, memoryHashReader, proveInclusion, type HashReader } from "../../tlog/index.js";
import { coalescingReader } from "./ui-api.js";

describe("coalescingReader", () => {
  it("answers a page's concurrent proofs with one read, with the same proofs", async () => {
    const leaves = Array.from({ length: 1000 }, (_, i) => hashLeaf(new TextEncoder().encode(`entry ${i}`)));
    const memory = memoryHashReader(leaves);
    let calls = 0;
    const counted: HashReader = {
      readHashes: (indexes) => {
        calls++;
        return memory.readHashes(indexes);
      },
    };
    const wanted = [3, 17, 500, 501, 999, 3];
    const direct = await Promise.all(wanted.map((i) => proveInclusion(1000, i, memory)));
    const reader = coalescingReader(counted);
    const batched = await Promise.all(wanted.map((i) => proveInclusion(1000, i, reader)));
    expect(batched).toEqual(direct);
    expect(calls).toBe(1);
  });

  it("passes a failed read to every caller", async () => {
    const reader = coalescingReader({ readHashes: () => Promise.reject(new Error("tile missing")) });
    const results = await Promise.allSettled([reader.readHashes([1]), reader.readHashes([2])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });
});
