import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { auditKey } from "./audit-key.js";

describe("auditKey", () => {
  it("is the first 8 bytes of the auditID's SHA-256, as indexes built before hold it", () => {
    const ids = ["a1b2c3d4-e5f6-7890-abcd-ef1234567890", "", "naïve-ümlaut-✓", "x".repeat(300)];
    for (const id of ids) {
      const expected = createHash("sha256").update(id, "utf8").digest().readBigInt64BE(0);
      expect(auditKey(id), id).toBe(expected);
    }
    // A known value, so the key cannot drift with both sides changed together.
    expect(auditKey("abc")).toBe(BigInt.asIntN(64, 0xba7816bf8f01cfean));
  });
});
