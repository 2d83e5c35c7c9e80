// The cases of the apiserver's validation_test.go (TestValidatePolicy), plus the field paths
// kubetrail reports for each.
import { describe, expect, it } from "vitest";
import { makePolicy, makeRule } from "../../../test/fixtures/policy/policy-builders.js";
import type { Level } from "../types.js";
import type { PolicyRule } from "./types.js";
import { validatePolicy } from "./validate.js";

const validRules: PolicyRule[] = [
  makeRule({ level: "Metadata" }), // defaulting rule
  makeRule({ level: "None", userGroups: ["system:serviceaccounts", "system:nodes"] }),
  makeRule({
    level: "RequestResponse",
    verbs: ["get"],
    resources: [
      { group: "rbac.authorization.k8s.io", resources: ["roles", "rolebindings"], resourceNames: [] },
    ],
    namespaces: ["kube-system"],
  }),
  makeRule({
    level: "Metadata",
    userGroups: ["developers"],
    nonResourceURLs: ["/logs*", "/healthz*", "/metrics", "*"],
  }),
  // Kubernetes 1.36: "*" names every API group.
  makeRule({
    level: "None",
    verbs: ["update"],
    resources: [{ group: "*", resources: ["*/status"], resourceNames: [] }],
  }),
];

describe("valid policies", () => {
  it.each(validRules.map((r, i) => [i, r] as const))("rule %i alone is valid", (_i, rule) => {
    expect(validatePolicy(makePolicy([rule]))).toEqual([]);
  });
  it("an empty policy is valid (the loader, not validation, requires rules)", () => {
    expect(validatePolicy(makePolicy([]))).toEqual([]);
  });
  it("all valid rules together are valid", () => {
    expect(validatePolicy(makePolicy(validRules))).toEqual([]);
  });
});

const secrets = [{ group: "", resources: ["secrets"], resourceNames: [] }];

describe("invalid policies name the rule and field", () => {
  it.each([
    ["empty rule (missing level)", makeRule({ level: "" as Level }), ["rules[0].level"]],
    [
      "missing level",
      makeRule({ level: "" as Level, verbs: ["get"], resources: secrets, namespaces: ["kube-system"] }),
      ["rules[0].level"],
    ],
    ["invalid level", makeRule({ level: "FooBar" as Level }), ["rules[0].level"]],
    [
      "nonResourceURLs with namespaces",
      makeRule({ level: "Metadata", namespaces: ["default"], nonResourceURLs: ["/logs*"] }),
      ["rules[0].nonResourceURLs"],
    ],
    [
      "nonResourceURLs with resources",
      makeRule({ level: "Metadata", resources: secrets, nonResourceURLs: ["/logs*"] }),
      ["rules[0].nonResourceURLs"],
    ],
    [
      "group with a version",
      makeRule({
        level: "Metadata",
        resources: [{ group: "rbac.authorization.k8s.io/v1beta1", resources: ["roles"], resourceNames: [] }],
      }),
      ["rules[0].resources[0].group"],
    ],
    [
      "non-resource URL without leading slash",
      makeRule({ level: "Metadata", nonResourceURLs: ["logs", "/healthz*"] }),
      ["rules[0].nonResourceURLs[0]"],
    ],
    [
      "empty non-resource URL",
      makeRule({ level: "Metadata", nonResourceURLs: ["", "/healthz*"] }),
      ["rules[0].nonResourceURLs[0]"],
    ],
    [
      "several wildcards",
      makeRule({ level: "Metadata", nonResourceURLs: ["/logs/*/*", "/metrics"] }),
      ["rules[0].nonResourceURLs[0]"],
    ],
    [
      "wildcard not at the end",
      makeRule({ level: "Metadata", nonResourceURLs: ["/logs/*.log", "/metrics"] }),
      ["rules[0].nonResourceURLs[0]"],
    ],
    [
      "resourceNames without resources",
      makeRule({ level: "Metadata", resources: [{ group: "", resources: [], resourceNames: ["x"] }] }),
      ["rules[0].resources[0].resourceNames"],
    ],
    [
      "unknown omitted stage",
      makeRule({ level: "Metadata", omitStages: ["Done" as "Panic"] }),
      ["rules[0].omitStages[0]"],
    ],
  ])("%s", (_name, rule, fields) => {
    const problems = validatePolicy(makePolicy([rule]));
    expect(problems.map((p) => p.field)).toEqual(fields);
    for (const p of problems) expect(p.rule).toBe(0);
  });

  it("a bad rule after valid ones is reported with its index", () => {
    const problems = validatePolicy(makePolicy([...validRules, makeRule({ level: "" as Level })]));
    expect(problems).toEqual([
      { field: `rules[${validRules.length}].level`, rule: validRules.length, message: "required value" },
    ]);
  });

  it("policy-level omitStages are validated", () => {
    const problems = validatePolicy(
      makePolicy([makeRule({ level: "None" })], { omitStages: ["Nope" as "Panic"] }),
    );
    expect(problems.map((p) => p.field)).toEqual(["omitStages[0]"]);
    expect(problems[0]!.message).toMatch(
      /allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic/,
    );
  });
});
