// The thinned lines' bitmap: every set of lines of a bundle survives the round trip, and text
// that is not a bundle's bitmap is refused, as is a record carrying one.
import { describe, expect, it } from "vitest";
import { BUNDLE_SIZE } from "../store/types.js";
import { seededRandom, testSeed } from "../../test/fixtures/seed.js";
import { decodeLines, encodeLines, findRetentionRecords, retentionRecord } from "./retention-record.js";

describe("thinned lines", () => {
  it("round-trip for random sets of lines", () => {
    const seed = testSeed(0x5eed_2026);
    console.log(`retention-record: seed ${seed}`);
    const next = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const density = next();
      const lines = Array.from({ length: BUNDLE_SIZE }, (_, i) => i).filter(() => next() < density);
      expect(decodeLines(encodeLines(lines))).toEqual(lines);
    }
    expect(decodeLines(encodeLines([]))).toEqual([]);
    expect(decodeLines(encodeLines([0, BUNDLE_SIZE - 1]))).toEqual([0, BUNDLE_SIZE - 1]);
  });

  it("refuses text that is not one bundle's bitmap", () => {
    expect(decodeLines("")).toBeNull();
    expect(decodeLines(Buffer.alloc(31).toString("base64"))).toBeNull();
    expect(decodeLines(Buffer.alloc(33).toString("base64"))).toBeNull();
    expect(decodeLines("not base64 at all!")).toBeNull();
  });

  it("accepts a record only when each thinned bundle is well formed", () => {
    const fields = {
      time: "2026-12-01T00:00:00.000Z",
      by: "ops",
      policy: { name: "ops", sha256: "00" },
      range: { from: 0, before: 0 },
      prunedBefore: 0,
    };
    const line = (thinned: unknown) =>
      Buffer.from(JSON.stringify({ ...retentionRecord(fields), thinned }) + "\n");
    const good = [{ bundle: 3, lines: encodeLines([1, 2]) }];
    expect(findRetentionRecords(line(good), 10)).toEqual([
      { index: 10, record: { ...retentionRecord(fields), thinned: good } },
    ]);
    for (const bad of [
      "all",
      [{ bundle: -1, lines: encodeLines([1]) }],
      [{ bundle: 1.5, lines: encodeLines([1]) }],
      [{ bundle: 3, lines: "AAAA" }],
      [null],
    ])
      expect(findRetentionRecords(line(bad), 10)).toEqual([]);
  });
});
