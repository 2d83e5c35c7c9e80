// What `policy lint --kubernetes-version 1.20` says, checked against a real 1.20 apiserver:
// it refuses a policy with group "*" (an error for 1.20), and ignores omitManagedFields (a
// warning: managedFields are still recorded).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/audit/temp-dir.js";
import { runCli } from "../fixtures/cli.js";
import { type Cluster, startCluster } from "./cluster.js";

const GROUP_WILDCARD = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    verbs: ["update", "patch"]
    resources:
      - group: "*"
        resources: ["*/status"]
  - level: Metadata
`;

const OMIT_MANAGED_FIELDS = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: RequestResponse
    verbs: ["create"]
    resources:
      - group: ""
        resources: ["configmaps"]
    omitManagedFields: true
  - level: None
`;

interface LintReport {
  valid: boolean;
  errors: { field: string; message: string }[];
  warnings: { field: string; message: string }[];
}

async function lint(policy: string, version: string): Promise<LintReport> {
  const file = path.join(tempDir("kt-kube-lint-"), "policy.yaml");
  writeFileSync(file, policy);
  const r = await runCli(["policy", "lint", "--kubernetes-version", version, "-o", "json", file]);
  return JSON.parse(r.stdout) as LintReport;
}

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

describe("policy lint --kubernetes-version against a real kube-apiserver v1.20.2", () => {
  it('group "*": lint says 1.20 refuses it, and the apiserver does not start', async () => {
    const report = await lint(GROUP_WILDCARD, "1.20");
    expect(report.valid).toBe(false);
    expect(report.errors.map((e) => e.field)).toEqual(["rules[0].resources[0].group"]);
    expect((await lint(GROUP_WILDCARD, "1.36")).valid).toBe(true);
    const failed = await startCluster({ audit: { policy: GROUP_WILDCARD } }).then(
      async (c) => {
        await c.stop();
        return "started";
      },
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/kube-apiserver exited/);
    expect(failed).toMatch(
      /loading audit policy file: rules\[0\]\.resources\.group: Invalid value: \\?"\*\\?"/,
    );
  });

  it("omitManagedFields: lint warns that 1.20 ignores it, and the apiserver records managedFields", async () => {
    const report = await lint(OMIT_MANAGED_FIELDS, "1.20");
    expect(report).toMatchObject({ valid: true, errors: [] });
    expect(report.warnings.map((w) => w.field)).toEqual(["rules[0].omitManagedFields"]);
    expect((await lint(OMIT_MANAGED_FIELDS, "1.23")).warnings).toEqual([]);

    cluster = await startCluster({ audit: { policy: OMIT_MANAGED_FIELDS, log: true } });
    const c = cluster;
    expect(
      (await c.kubectl(["-n", "default", "create", "configmap", "probe", "--from-literal=a=b"])).code,
    ).toBe(0);
    const created = c
      .auditLog()
      .find(
        (e) => e.verb === "create" && e.objectRef?.resource === "configmaps" && e.objectRef.name === "probe",
      );
    const response = created?.responseObject as { metadata?: { managedFields?: unknown[] } } | undefined;
    expect(response?.metadata?.managedFields?.length).toBeGreaterThan(0);
  });
});
