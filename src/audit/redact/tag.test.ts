import { describe, expect, it } from "vitest";
import {
  assertRedactionKey,
  RedactionKeyError,
  secretBytes,
  tagBytes,
  tagMatches,
  tagValue,
  TAG_PREFIX,
} from "./tag.js";

describe("HMAC tags", () => {
  it("match RFC 4231 test case 6 (HMAC-SHA256 with a 131-byte key)", () => {
    const key = Buffer.alloc(131, 0xaa);
    const data = Buffer.from("Test Using Larger Than Block-Size Key - Hash Key First");
    const mac = Buffer.from("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "hex");
    expect(tagBytes(key, data)).toBe(TAG_PREFIX + mac.toString("base64url"));
  });

  const key = Buffer.alloc(32, 7);

  it("tag a Secret data value over its decoded bytes, the same as the stringData form", () => {
    const plain = "hunter2";
    expect(tagValue(key, Buffer.from(plain).toString("base64"), "base64")).toBe(tagValue(key, plain, "text"));
  });

  it("treat malformed base64 as text and non-strings as their JSON", () => {
    expect(Buffer.from(secretBytes("not base64!", "base64")).toString()).toBe("not base64!");
    expect(Buffer.from(secretBytes({ a: 1 }, "text")).toString()).toBe('{"a":1}');
  });

  it("check a candidate value against a tag", () => {
    const tag = tagValue(key, "s3cret", "text");
    expect(tagMatches(key, Buffer.from("s3cret"), tag)).toBe(true);
    expect(tagMatches(key, Buffer.from("s3cre7"), tag)).toBe(false);
    expect(tagMatches(Buffer.alloc(32, 8), Buffer.from("s3cret"), tag)).toBe(false);
    expect(tagMatches(key, Buffer.from("s3cret"), "garbage")).toBe(false);
  });

  it("refuse short keys", () => {
    expect(() => assertRedactionKey(Buffer.alloc(16))).toThrow(RedactionKeyError);
  });
});
