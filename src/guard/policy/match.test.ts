import { describe, expect, it } from "vitest";
import type { AdmissionRequest } from "../types.js";
import { matches, type Matcher } from "./match.js";
import { EVERYTHING } from "./selector.js";

function matcher(resources: string[]): Matcher {
  return {
    rules: [
      {
        groups: ["*"],
        versions: ["*"],
        resources,
        kinds: [],
        operations: ["*"],
        scope: "*",
        resourceNames: [],
      },
    ],
    excludeRules: [],
    namespaces: [],
    excludeNamespaces: [],
    namespaceSelector: EVERYTHING,
    objectSelector: EVERYTHING,
  };
}

function request(resource: string, subResource: string): AdmissionRequest {
  return {
    uid: "u",
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource },
    subResource,
    name: "p",
    namespace: "ns",
    operation: "CREATE",
    userInfo: { username: "alice", groups: [] },
    object: null,
    oldObject: null,
    dryRun: false,
  };
}

describe("resource patterns", () => {
  // [pattern, resource, subresource, matches]
  const cases: [string, string, string, boolean][] = [
    ["pods", "pods", "", true],
    ["pods", "pods", "exec", false],
    ["pods", "pod", "", false],
    ["pods", "podsx", "", false],
    ["*", "deployments", "", true],
    ["*", "deployments", "scale", false],
    ["pods/exec", "pods", "exec", true],
    ["pods/exec", "pods", "log", false],
    ["pods/exec", "pods", "", false],
    ["pods/exec", "pods", "execx", false],
    ["pods/*", "pods", "log", true],
    ["pods/*", "pods", "", true], // as written before: "*" takes no subresource too
    ["pods/*", "services", "log", false],
    ["*/*", "services", "proxy", true],
    ["*/scale", "deployments", "scale", true],
    ["*/scale", "deployments", "status", false],
    ["pods/", "pods", "", true],
    ["pods/a/b", "pods", "a/b", true],
    ["pods/a/b", "pods", "a", false],
    ["**", "pods", "", false],
  ];
  it.each(cases)("%s against %s/%s: %s", (pattern, resource, sub, want) => {
    expect(matches(matcher([pattern]), { request: request(resource, sub), namespaceLabels: undefined })).toBe(
      want,
    );
  });
});
