import { describe, expect, it } from "vitest";
import { checkFailed, checkManifests } from "./check.js";
import { readDocuments } from "./documents.js";
import { policiesFromDocuments } from "./policy/load.js";

const POLICY = `
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata:
  name: prod-digests
  annotations: {kubetrail.dev/version: "7"}
spec:
  builtin: images
  mode: enforce
  match:
    namespaceSelector: {matchLabels: {env: prod}}
`;

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {containers: [{name: c, image: "nginx:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: sandbox}
spec: {containers: [{name: c, image: "nginx:1"}]}
---
resources: [a.yaml]
`;

describe("checkManifests", () => {
  const set = policiesFromDocuments(readDocuments(POLICY, "p.yaml"), { builtins: false });
  const report = checkManifests(readDocuments(MANIFESTS, "m.yaml"), set.policies, { nowMs: 0 });

  it("gives objects the labels of Namespace documents among the manifests", () => {
    expect(report.documents.map((d) => [d.namespace, d.name, d.result])).toEqual([
      ["", "shop", "allow"],
      ["shop", "web", "deny"],
      ["sandbox", "web", "allow"],
    ]);
    expect(checkFailed(report)).toBe(true);
  });

  it("skips what is not a Kubernetes object, saying where and why", () => {
    expect(report.skipped).toEqual([
      { file: "m.yaml", line: 16, reason: "not a Kubernetes object (no apiVersion and kind)" },
    ]);
    expect(report.summary).toMatchObject({ documents: 4, checked: 3, skipped: 1 });
  });

  it("reports each policy with the version its author gave it", () => {
    expect(report.policies).toEqual([
      {
        name: "prod-digests",
        source: "p.yaml:2",
        version: "7",
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        modes: ["enforce"],
      },
    ]);
  });
});
