import { describe, expect, it } from "vitest";
import { formatJsonPath, JsonPathError, parseJsonPath, parseJsonPointer, WILDCARD } from "./json-path.js";

describe("JSON paths", () => {
  it.each([
    ["data.password", ["data", "password"]],
    ["$.data.*", ["data", WILDCARD]],
    ['data["tls.crt"]', ["data", "tls.crt"]],
    ["spec.containers[*].env[2].value", ["spec", "containers", WILDCARD, "env", 2, "value"]],
    ['metadata.annotations["a/b"].x', ["metadata", "annotations", "a/b", "x"]],
  ])("parse %s", (text, want) => {
    expect(parseJsonPath(text)).toEqual(want);
  });

  it.each(["", "data.", "data..x", "data[x]", "data[", 'data["x]'])("refuse %j", (text) => {
    expect(() => parseJsonPath(text)).toThrow(JsonPathError);
  });

  it("format concrete paths so they parse back, escaping commas", () => {
    const segs = ["responseObject", "items", 3, "data", "tls.crt"];
    expect(formatJsonPath(segs)).toBe('responseObject.items[3].data["tls.crt"]');
    expect(parseJsonPath(formatJsonPath(segs))).toEqual(segs);
    const comma = formatJsonPath(["data", "a,b"]);
    expect(comma).not.toContain(",");
    expect(parseJsonPath(comma)).toEqual(["data", "a,b"]);
  });

  it("decode JSON pointers", () => {
    expect(parseJsonPointer("")).toEqual([]);
    expect(
      parseJsonPointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"),
    ).toEqual(["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]);
    expect(parseJsonPointer("/a~01")).toEqual(["a~1"]);
    expect(parseJsonPointer("data")).toBeUndefined();
  });
});
