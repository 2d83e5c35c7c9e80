// The browser build hashes with sha256.browser.ts instead of node:crypto: both must give the
// same digests, or a proof checked in the UI would disagree with the CLI.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { sha256 as browserSha256 } from "./sha256.browser.js";
import { sha256 } from "./sha256.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("sha256 in Node and in the browser build", () => {
  it("agree on the FIPS 180-2 vectors", () => {
    const vectors: [string, string][] = [
      ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
      ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
      [
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      ],
    ];
    for (const [text, digest] of vectors) {
      const input = new TextEncoder().encode(text);
      expect(hex(sha256(input))).toBe(digest);
      expect(hex(browserSha256(input))).toBe(digest);
    }
  });

  it("agree on random inputs of every length up to a few blocks", () => {
    const seed = 26_001;
    console.log(`sha256 property seed ${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(hex(browserSha256(bytes))).toBe(hex(sha256(bytes)));
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe("base64 without Buffer", () => {
  it("encodes as Node's Buffer does and decodes only canonical text", () => {
    const seed = 26_002;
    console.log(`base64 property seed ${seed}`);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100_000 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64"));
        expect(decodeBase64(text)).toEqual(bytes);
      }),
      { seed, numRuns: 200 },
    );
    expect(decodeBase64("YQ==")).toEqual(new Uint8Array([0x61]));
    expect(decodeBase64("YR==")).toBeNull(); // non-zero padding bits
    expect(decodeBase64("YQ")).toBeNull(); // unpadded
    expect(decodeBase64("Y Q==")).toBeNull();
  });
});
