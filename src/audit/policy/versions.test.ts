import { describe, expect, it } from "vitest";
import { makePolicy, makeRule } from "../../../test/fixtures/policy/policy-builders.js";
import {
  checkPolicyVersion,
  KubernetesVersionError,
  NEWEST_KUBERNETES,
  parseKubernetesVersion,
} from "./versions.js";

describe("parseKubernetesVersion", () => {
  it.each([
    ["1.20", 20],
    ["v1.20.2", 20],
    ["1.36.0-rc.1", 36],
    ["1.12", 12],
    ["newest", NEWEST_KUBERNETES.minor],
    // Newer than any change kubetrail knows: the newest known behaviour.
    ["1.40", NEWEST_KUBERNETES.minor],
  ])("%s → 1.%i", (text, minor) => {
    expect(parseKubernetesVersion(text)).toEqual({ major: 1, minor });
  });

  it.each(["", "1", "one.twenty", "2.0", "1.11", "v1.8.0"])("refuses %j with a reason", (text) => {
    expect(() => parseKubernetesVersion(text)).toThrow(KubernetesVersionError);
  });
});

const wildcardGroup = makeRule({
  level: "None",
  verbs: ["update"],
  resources: [{ group: "*", resources: ["*/status"], resourceNames: [] }],
});
const managedFieldsRule = { ...makeRule({ level: "Request", verbs: ["create"] }), omitManagedFields: true };

describe("checkPolicyVersion", () => {
  it("a policy using nothing version-dependent is clean on every release", () => {
    const p = makePolicy([makeRule({ level: "Metadata" })]);
    for (const minor of [12, 20, 23, 36]) {
      expect(checkPolicyVersion(p, { major: 1, minor }, true)).toEqual({ errors: [], warnings: [] });
    }
  });

  it('group "*": refused before 1.36 (an error), and a portability warning by default', () => {
    const p = makePolicy([makeRule({ level: "Metadata" }), wildcardGroup]);
    const old = checkPolicyVersion(p, { major: 1, minor: 35 }, true);
    expect(old.errors.map((e) => e.field)).toEqual(["rules[1].resources[0].group"]);
    expect(old.errors[0]!.message).toMatch(/needs Kubernetes 1\.36: a 1\.35 apiserver refuses/);
    expect(checkPolicyVersion(p, { major: 1, minor: 36 }, true)).toEqual({ errors: [], warnings: [] });
    const byDefault = checkPolicyVersion(p, NEWEST_KUBERNETES, false);
    expect(byDefault.errors).toEqual([]);
    expect(byDefault.warnings.map((w) => w.field)).toEqual(["rules[1].resources[0].group"]);
    expect(byDefault.warnings[0]!.message).toMatch(/older apiservers refuse/);
  });

  it("omitManagedFields: ignored before 1.23 (a warning), policy-wide and per rule", () => {
    const p = makePolicy([managedFieldsRule], { omitManagedFields: true });
    const old = checkPolicyVersion(p, { major: 1, minor: 22 }, true);
    expect(old.errors).toEqual([]);
    expect(old.warnings.map((w) => w.field)).toEqual(["omitManagedFields", "rules[0].omitManagedFields"]);
    expect(old.warnings[0]!.message).toMatch(/needs Kubernetes 1\.23: a 1\.22 apiserver ignores it/);
    expect(checkPolicyVersion(p, { major: 1, minor: 23 }, true).warnings).toEqual([]);
    // Ignored is harmless where nothing asks for it.
    const off = makePolicy([{ ...managedFieldsRule, omitManagedFields: false }]);
    expect(checkPolicyVersion(off, { major: 1, minor: 20 }, true).warnings).toEqual([]);
  });

  it("audit.k8s.io/v1beta1 is refused from 1.24 on", () => {
    const p = { ...makePolicy([makeRule({ level: "Metadata" })]), apiVersion: "audit.k8s.io/v1beta1" };
    expect(checkPolicyVersion(p, { major: 1, minor: 23 }, true).errors).toEqual([]);
    expect(checkPolicyVersion(p, { major: 1, minor: 24 }, true).errors.map((e) => e.field)).toEqual([
      "apiVersion",
    ]);
  });
});
