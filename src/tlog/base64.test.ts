import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "./base64.js";

describe("base64", () => {
  it("round-trips bytes of every length through the canonical padded spelling", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const text = encodeBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64"));
      expect(decodeBase64(text)).toEqual(bytes);
    }
  });

  it("refuses every other spelling that a lenient decoder would take", () => {
    for (const bad of [
      "QR==", // non-zero padding bits: the same byte as "QQ=="
      "QQ", // padding missing
      "QQ=", // padding short
      "Q Q==", // whitespace inside
      "QQ==\n", // a trailing newline
      "-_8=", // base64url alphabet
      "QQ==QQ==", // padding in the middle
      "Q!Q=", // not base64 at all
      "QQ===",
    ]) {
      expect(decodeBase64(bad), bad).toBeNull();
    }
  });

  it("gives each decoded value its own memory", () => {
    const a = decodeBase64("AAAA")!;
    const b = decodeBase64("AAAA")!;
    a[0] = 1;
    expect(b[0]).toBe(0);
    expect(a.byteOffset).toBe(0);
  });
});
