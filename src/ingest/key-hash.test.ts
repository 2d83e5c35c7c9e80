import { describe, expect, it } from "vitest";
import { hash32, int64ToPrint, keyPrint, PrintFilter, printToInt64 } from "./key-hash.js";

describe("key fingerprints", () => {
  it("are pinned values", () => {
    // Stored in dedupe.db: a change of these values needs a rebuild of that file.
    expect(hash32("", 0)).toBe(2872998923);
    expect(hash32("kubetrail", 1)).toBe(2254721880);
    expect(keyPrint("1d0f3f2e-7a53-4a3b-9c55-2f8c2f4d9b10\u0000ResponseComplete")).toEqual({
      hi: 68532469,
      lo: 2097761550,
    });
    expect(keyPrint("a\u0000RequestReceived")).not.toEqual(keyPrint("a\u0000ResponseComplete"));
  });

  it("round-trips through the stored 64-bit integer", () => {
    for (const key of ["a", "b\u0000c", "x".repeat(100)]) {
      const p = keyPrint(key);
      expect(int64ToPrint(printToInt64(p))).toEqual(p);
    }
    expect(int64ToPrint(printToInt64({ hi: 0xffffffff, lo: 0 }))).toEqual({ hi: 0xffffffff, lo: 0 });
  });

  it("has no collisions over 200k distinct keys", () => {
    const seen = new Set<bigint>();
    for (let i = 0; i < 200_000; i++) seen.add(printToInt64(keyPrint(`${i}-audit\u0000ResponseComplete`)));
    expect(seen.size).toBe(200_000);
  });

  it("never forgets an added key, and rejects most others", () => {
    const f = new PrintFilter(20);
    for (let i = 0; i < 10_000; i++) f.add(keyPrint(`in-${i}`));
    for (let i = 0; i < 10_000; i++) expect(f.mayContain(keyPrint(`in-${i}`))).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 10_000; i++) if (f.mayContain(keyPrint(`out-${i}`))) falsePositives++;
    expect(falsePositives).toBeLessThan(100);
  });
});
