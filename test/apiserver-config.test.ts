// `kubetrail apiserver-config` on a directory it already wrote: a working pairing stays
// working (CA and keys kept), only what is missing, expiring or no longer fitting is issued
// again, --force replaces everything and says so; the policy suits --kubernetes-version.
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { tempDir } from "./fixtures/audit/temp-dir.js";
import { runCli } from "./fixtures/cli.js";

const FILES = [
  "ca.crt",
  "ca.key",
  "kubetrail.crt",
  "kubetrail.key",
  "apiserver-client.crt",
  "apiserver-client.key",
  "audit-webhook-kubeconfig.yaml",
  "audit-policy.yaml",
];

function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FILES) {
    try {
      out[f] = createHash("sha256")
        .update(readFileSync(path.join(dir, f)))
        .digest("hex");
    } catch {
      out[f] = "missing";
    }
  }
  return out;
}

async function generate(dir: string, ...extra: string[]) {
  const r = await runCli(["apiserver-config", "--server", "https://127.0.0.1:8443", "--out", dir, ...extra]);
  return r;
}

/** The report line for a file, e.g. "ca.crt, ca.key: kept (valid until …)". */
function reportLine(stdout: string, file: string): string {
  return stdout.split("\n").find((l) => l.trimStart().startsWith(`${file}`)) ?? "";
}

const changed = (a: Record<string, string>, b: Record<string, string>) => FILES.filter((f) => a[f] !== b[f]);

describe("apiserver-config on an existing directory", () => {
  it("keeps everything when nothing changed", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir)).code).toBe(0);
    const before = digests(dir);
    const again = await generate(dir);
    expect(again.code, again.stderr).toBe(0);
    expect(changed(before, digests(dir))).toEqual([]);
    expect(reportLine(again.stdout, "ca.crt")).toMatch(/: kept \(valid until \d{4}-\d\d-\d\d\)/);
    expect(reportLine(again.stdout, "kubetrail.crt")).toContain(": kept");
    expect(again.stdout).not.toContain("re-issued");
  });

  it("re-issues only the serving certificate when --san adds a host, only the kubeconfig when --server moves", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir)).code).toBe(0);
    const first = digests(dir);
    const withSan = await generate(dir, "--san", "kubetrail.example");
    expect(withSan.code, withSan.stderr).toBe(0);
    expect(changed(first, digests(dir))).toEqual(["kubetrail.crt", "kubetrail.key"]);
    expect(reportLine(withSan.stdout, "kubetrail.crt")).toContain(
      "re-issued (does not cover kubetrail.example)",
    );
    const cert = new X509Certificate(readFileSync(path.join(dir, "kubetrail.crt")));
    expect(cert.subjectAltName).toContain("DNS:kubetrail.example");
    expect(cert.verify(new X509Certificate(readFileSync(path.join(dir, "ca.crt"))).publicKey)).toBe(true);

    const second = digests(dir);
    const moved = await runCli([
      "apiserver-config",
      "--server",
      "https://127.0.0.1:9443",
      "--out",
      dir,
      "--san",
      "kubetrail.example",
    ]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(changed(second, digests(dir))).toEqual(["audit-webhook-kubeconfig.yaml"]);
    expect(readFileSync(path.join(dir, "audit-webhook-kubeconfig.yaml"), "utf8")).toContain(
      "https://127.0.0.1:9443/v1/audit/webhook",
    );
  });

  it("re-issues certificates about to expire, with the CA kept", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir, "--days", "10", "--renew-before", "5")).code).toBe(0);
    const first = digests(dir);
    // The default renewal window (30 days) is longer than what is left.
    const r = await generate(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(changed(first, digests(dir))).toEqual([
      "kubetrail.crt",
      "kubetrail.key",
      "apiserver-client.crt",
      "apiserver-client.key",
      "audit-webhook-kubeconfig.yaml",
    ]);
    expect(reportLine(r.stdout, "kubetrail.crt")).toMatch(/re-issued \(expires on \d{4}-\d\d-\d\d\)/);
    expect(reportLine(r.stdout, "audit-webhook-kubeconfig.yaml")).toContain("updated");
  });

  it("replaces everything with --force and says what it replaced", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir)).code).toBe(0);
    writeFileSync(path.join(dir, "audit-policy.yaml"), "# edited by the operator\n");
    const first = digests(dir);
    const kept = await generate(dir);
    expect(reportLine(kept.stdout, "audit-policy.yaml")).toContain("kept (differs from the starting policy");
    expect(changed(first, digests(dir))).toEqual([]);
    const r = await generate(dir, "--force");
    expect(r.code, r.stderr).toBe(0);
    expect(changed(first, digests(dir))).toEqual(FILES);
    for (const f of [
      "ca.crt",
      "kubetrail.crt",
      "apiserver-client.crt",
      "audit-webhook-kubeconfig.yaml",
      "audit-policy.yaml",
    ]) {
      expect(reportLine(r.stdout, f), f).toContain(": replaced");
    }
  });

  it("needs ca.key only to issue: without it, fitting certificates are kept and a missing one is an error", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir)).code).toBe(0);
    rmSync(path.join(dir, "ca.key"));
    const kept = await generate(dir);
    expect(kept.code, kept.stderr).toBe(0);
    expect(reportLine(kept.stdout, "ca.crt")).toContain("ca.key is not here");
    rmSync(path.join(dir, "apiserver-client.crt"));
    const before = digests(dir);
    const r = await generate(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("apiserver-client.crt must be issued again (apiserver-client.crt is missing)");
    expect(r.stderr).toContain("ca.key");
    expect(r.stderr).toContain("--force");
    expect(changed(before, digests(dir))).toEqual([]);
  });

  it("refuses a damaged CA file, naming it, and leaves the directory alone", async () => {
    const dir = path.join(tempDir("kt-apicfg-"), "out");
    expect((await generate(dir)).code).toBe(0);
    writeFileSync(path.join(dir, "ca.crt"), "not a certificate\n");
    const before = digests(dir);
    const r = await generate(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ca\.crt: not a PEM certificate; --force replaces/);
    expect(changed(before, digests(dir))).toEqual([]);
  });
});

describe("apiserver-config --kubernetes-version", () => {
  it("writes a policy the target honours, which policy lint passes for it", async () => {
    const work = tempDir("kt-apicfg-");
    const old = path.join(work, "old");
    const newest = path.join(work, "newest");
    expect((await generate(old, "--kubernetes-version", "1.20")).code).toBe(0);
    expect((await generate(newest)).code).toBe(0);
    const oldPolicy = readFileSync(path.join(old, "audit-policy.yaml"), "utf8");
    expect(oldPolicy).not.toMatch(/^\s*omitManagedFields:/m);
    expect(readFileSync(path.join(newest, "audit-policy.yaml"), "utf8")).toMatch(
      /^\s*omitManagedFields: true/m,
    );

    const lint = (dir: string, version: string) =>
      runCli([
        "policy",
        "lint",
        "--kubernetes-version",
        version,
        "-o",
        "json",
        path.join(dir, "audit-policy.yaml"),
      ]);
    const forOld = JSON.parse((await lint(old, "1.20")).stdout) as { valid: boolean; warnings: unknown[] };
    expect(forOld).toMatchObject({ valid: true, warnings: [], kubernetesVersion: "1.20" });
    // The newest policy on a 1.20 apiserver: omitManagedFields would be ignored.
    const mismatch = JSON.parse((await lint(newest, "1.20")).stdout) as {
      warnings: { field: string; message: string }[];
    };
    expect(mismatch.warnings.map((w) => w.field)).toEqual([
      expect.stringMatching(/^rules\[\d+\]\.omitManagedFields$/),
    ]);
    expect(mismatch.warnings[0]!.message).toContain("needs Kubernetes 1.23");
  });

  it("refuses a release it does not know, with the reason", async () => {
    const r = await generate(path.join(tempDir("kt-apicfg-"), "out"), "--kubernetes-version", "1.9");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--kubernetes-version: Kubernetes 1.9 is older than 1.12");
  });
});

describe("apiserver-config's admission webhook rules", () => {
  const work = tempDir("kt-apicfg-rules-");
  const vap = path.join(work, "services.yaml");
  writeFileSync(
    vap,
    `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: service-external-ips}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: [CREATE, UPDATE], resources: [services]}]
  validations: [{expression: "!has(object.spec.externalIPs)"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: service-external-ips}
spec: {policyName: service-external-ips, validationActions: [Deny]}
`,
  );
  const guard = path.join(work, "netpol.yaml");
  writeFileSync(
    guard,
    `apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: netpol-label}
spec:
  mode: warn
  match: {resources: [{apiGroups: [networking.k8s.io], kinds: [NetworkPolicy]}]}
  validations: [{expression: "has(object.metadata.labels)"}]
`,
  );
  const rulesOf = (dir: string) =>
    (
      parseYaml(readFileSync(path.join(dir, "admission-webhook.yaml"), "utf8")) as {
        webhooks: { rules: { apiGroups: string[]; resources: string[] }[] }[];
      }
    ).webhooks[0]!.rules.map((r) => `${r.apiGroups.join(",") || "core"}:${r.resources.join(",")}`);

  it("cover what the built-ins check, and with --admission-policies what those policies check", async () => {
    const plain = path.join(work, "plain");
    expect((await generate(plain)).code).toBe(0);
    const builtin = rulesOf(plain);
    expect(builtin.join(" ")).not.toContain("services");
    const withPolicies = path.join(work, "with-policies");
    const r = await generate(withPolicies, "--admission-policies", `${vap},${guard}`);
    expect(r.code, r.stderr).toBe(0);
    // The built-ins' rules, then the policies': a kinds-only rule is sent for its whole group.
    expect(rulesOf(withPolicies)).toEqual([...builtin, "networking.k8s.io:*", "core:services"]);
  });

  it("refuses a policy serve would refuse, or a flag that adds nothing, before writing anything", async () => {
    const missing = path.join(work, "missing");
    const r = await generate(missing, "--admission-policies", path.join(work, "nope.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--admission-policies: ");
    expect(r.stderr).toContain("nope.yaml: cannot read (ENOENT)");
    const all = await generate(missing, "--admission-resources", "all", "--admission-policies", vap);
    expect(all.code).toBe(2);
    expect(all.stderr).toContain("--admission-resources all already sends every resource");
    expect(existsSync(missing)).toBe(false);
  });
});
