import { describe, expect, it } from "vitest";
import { diffBodies, flatten, formatChange } from "./diff.js";

describe("diffBodies", () => {
  it("lists added, removed and changed leaves in path order", () => {
    const before = { metadata: { name: "cm", resourceVersion: "1" }, data: { a: "1", b: "2" }, list: [1, 2] };
    const after = { metadata: { name: "cm", resourceVersion: "2" }, data: { a: "1", c: "3" }, list: [1, 5] };
    expect(diffBodies(before, after).map(formatChange)).toEqual([
      '- data.b: "2"',
      '+ data.c: "3"',
      "~ list[1]: 2 → 5",
    ]);
  });

  it("quotes keys that are not identifiers and keeps empty containers visible", () => {
    expect([
      ...flatten({ metadata: { annotations: { "app.kubernetes.io/name": "web" } }, spec: {} }).keys(),
    ]).toEqual(['metadata.annotations["app.kubernetes.io/name"]', "spec"]);
  });

  it("treats everything as added when there is no earlier body", () => {
    expect(diffBodies(undefined, { spec: { replicas: 3 } })).toEqual([
      { path: "spec.replicas", op: "add", to: "3" },
    ]);
  });
});
