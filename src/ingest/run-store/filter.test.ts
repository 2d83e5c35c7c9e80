import { describe, expect, it } from "vitest";
import { keyPrint } from "../key-hash.js";
import { filterAdd, filterBlocksFor, filterMayContain, FILTER_BLOCK_BYTES } from "./filter.js";

function filterOf(keys: number): Uint32Array {
  const words = new Uint32Array((filterBlocksFor(keys) * FILTER_BLOCK_BYTES) / 4);
  for (let i = 0; i < keys; i++) {
    const p = keyPrint(`in-${i}\u0000ResponseComplete`);
    filterAdd(words, p.hi, p.lo);
  }
  return words;
}

describe("run filter", () => {
  it("never forgets an added key, and lets through under 0.5% of other keys at its size", () => {
    const keys = 100_000;
    const words = filterOf(keys);
    for (let i = 0; i < keys; i++) {
      const p = keyPrint(`in-${i}\u0000ResponseComplete`);
      expect(filterMayContain(words, p.hi, p.lo)).toBe(true);
    }
    let falsePositives = 0;
    for (let i = 0; i < keys; i++) {
      const p = keyPrint(`out-${i}\u0000ResponseComplete`);
      if (filterMayContain(words, p.hi, p.lo)) falsePositives++;
    }
    expect(falsePositives / keys).toBeLessThan(0.005);
    expect(falsePositives).toBeGreaterThan(0); // a filter that answers "no" to everything fails above
  });

  it("uses every block: the high half of the fingerprint spreads keys over all of them", () => {
    const words = filterOf(20_000);
    const blocks = words.length / 16;
    let empty = 0;
    for (let b = 0; b < blocks; b++) if (words.subarray(b * 16, b * 16 + 16).every((w) => w === 0)) empty++;
    expect(empty).toBe(0);
    // The extreme fingerprints land in the first and the last block, not outside.
    filterAdd(words, 0, 1);
    filterAdd(words, 0xffffffff, 0xffffffff);
    expect(filterMayContain(words, 0, 1) && filterMayContain(words, 0xffffffff, 0xffffffff)).toBe(true);
    expect(words.length).toBe(blocks * 16);
  });
});
