import { describe, expect, it } from "vitest";
import { hash32, keyPrint } from "./key-hash.js";

describe("key fingerprints", () => {
  it("are pinned values", () => {
    // Stored in the dedupe store's run files: a change of these values needs a rebuild of them.
    expect(hash32("", 0)).toBe(2872998923);
    expect(hash32("kubetrail", 1)).toBe(2254721880);
    expect(keyPrint("1d0f3f2e-7a53-4a3b-9c55-2f8c2f4d9b10\u0000ResponseComplete")).toEqual({
      hi: 68532469,
      lo: 2097761550,
    });
    expect(keyPrint("a\u0000RequestReceived")).not.toEqual(keyPrint("a\u0000ResponseComplete"));
  });

  it("has no collisions over 200k distinct keys", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      const p = keyPrint(`${i}-audit\u0000ResponseComplete`);
      seen.add(p.hi * 2 ** 32 + p.lo);
    }
    expect(seen.size).toBe(200_000);
  });
});
