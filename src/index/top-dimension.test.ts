import { describe, expect, it } from "vitest";
import { TOP_DIMENSIONS } from "./db.js";
import { IndexError } from "./errors.js";
import { parseTopDimension } from "./top-dimension.js";

describe("parseTopDimension", () => {
  it("accepts singular, plural and short names for every dimension", () => {
    expect(parseTopDimension("user")).toBe("users");
    expect(parseTopDimension("users")).toBe("users");
    expect(parseTopDimension("Namespace")).toBe("namespaces");
    expect(parseTopDimension("ns")).toBe("namespaces");
    expect(parseTopDimension("source-ip")).toBe("sources");
    expect(parseTopDimension("code")).toBe("codes");
    for (const d of TOP_DIMENSIONS) {
      expect(parseTopDimension(d)).toBe(d);
      expect(parseTopDimension(d.replace(/s$/, ""))).toBe(d);
    }
  });

  it("names the accepted words for anything else", () => {
    expect(() => parseTopDimension("colours")).toThrow(IndexError);
    expect(() => parseTopDimension("colours")).toThrow(/unknown dimension "colours" \(use user\(s\)/);
  });
});
