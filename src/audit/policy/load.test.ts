import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/fixtures/audit/temp-dir.js";
import { PolicyError } from "./errors.js";
import { checkPolicyText, loadPolicyFile, parsePolicyText } from "./load.js";

const yamlPolicy = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services"]
  - level: RequestResponse
    omitManagedFields: false
    resources:
      - group: rbac.authorization.k8s.io
        resources: ["clusterroles"]
        resourceNames: ["admin"]
  - level: Metadata
    nonResourceURLs: ["/healthz*"]
`;

function thrown(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("expected a PolicyError");
}

describe("parsePolicyText", () => {
  it("decodes every field of a v1 YAML policy", () => {
    const p = parsePolicyText(yamlPolicy, "p.yaml");
    expect(p.omitStages).toEqual(["RequestReceived"]);
    expect(p.omitManagedFields).toBe(true);
    expect(p.rules).toHaveLength(3);
    expect(p.rules[0]).toEqual({
      level: "None",
      users: ["system:kube-proxy"],
      userGroups: [],
      verbs: ["watch"],
      resources: [{ group: "", resources: ["endpoints", "services"], resourceNames: [] }],
      namespaces: [],
      nonResourceURLs: [],
      omitStages: [],
    });
    expect(p.rules[1]!.omitManagedFields).toBe(false);
    expect(p.rules[1]!.resources[0]!.resourceNames).toEqual(["admin"]);
    expect(p.rules[2]!.omitManagedFields).toBeUndefined();
  });

  it("reads the same policy from JSON and from v1beta1", () => {
    const json = JSON.stringify({
      apiVersion: "audit.k8s.io/v1beta1",
      kind: "Policy",
      rules: [{ level: "Metadata", namespaces: [""] }],
    });
    expect(parsePolicyText(json, "p.json").rules[0]).toMatchObject({ level: "Metadata", namespaces: [""] });
  });

  it("refuses a wrong apiVersion, kind and field types, naming each field", () => {
    const err = thrown(() =>
      parsePolicyText(
        "apiVersion: audit.k8s.io/v2\nkind: Pol\nrules:\n- level: Metadata\n  verbs: get\n  omitManagedFields: yes-please\n",
        "bad.yaml",
      ),
    );
    expect(err.code).toBe("invalid");
    expect(err.problems.map((p) => p.field)).toEqual([
      "apiVersion",
      "kind",
      "rules[0].verbs",
      "rules[0].omitManagedFields",
    ]);
    expect(err.message).toMatch(/^bad\.yaml: /);
    expect(err.message).toContain("rules[0].verbs: must be a list of strings");
  });

  it("lists every validation problem with its rule index", () => {
    const err = thrown(() =>
      parsePolicyText(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n- level: Loud\n- level: None\n  nonResourceURLs: [metrics]\n",
        "p.yaml",
      ),
    );
    expect(err.problems.map((p) => [p.rule, p.field])).toEqual([
      [1, "rules[1].level"],
      [2, "rules[2].nonResourceURLs[0]"],
    ]);
  });

  it("refuses a policy without rules, as the apiserver's loader does", () => {
    expect(
      thrown(() => parsePolicyText("apiVersion: audit.k8s.io/v1\nkind: Policy\n", "p")).problems[0]!.field,
    ).toBe("rules");
  });

  it("reports YAML syntax errors with their line", () => {
    const err = thrown(() =>
      parsePolicyText("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [\n", "s.yaml"),
    );
    expect(err.code).toBe("syntax");
    expect(err.problems[0]!.field).toMatch(/^line \d+, column \d+$/);
  });

  it("warns about fields the apiserver ignores, without failing", () => {
    const checked = checkPolicyText(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  omitStage: [Panic]\n",
    );
    expect(checked.errors).toEqual([]);
    expect(checked.warnings.map((w) => w.field)).toEqual(["rules[0].omitStage"]);
  });
});

describe("loadPolicyFile", () => {
  it("loads a file and names a missing one", () => {
    const dir = tempDir("kubetrail-policy-");
    const path = join(dir, "policy.yaml");
    writeFileSync(path, yamlPolicy);
    expect(loadPolicyFile(path).rules).toHaveLength(3);
    const err = thrown(() => loadPolicyFile(join(dir, "missing.yaml")));
    expect(err.code).toBe("read");
    expect(err.message).toContain("missing.yaml");
  });
});
