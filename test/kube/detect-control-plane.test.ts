// The built-in rules against a real kube-apiserver v1.20.2 starting from a fresh etcd and
// stopping: the control plane's own bootstrap and shutdown traffic raises nothing, and what
// people do through that apiserver still does (exec attempts that fail, forbidden ones).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startingAuditPolicy } from "../../src/audit/policy/starting-policy.js";
import { parseKubernetesVersion } from "../../src/audit/policy/versions.js";
import { tempDir } from "../fixtures/audit/temp-dir.js";
import { runCli } from "../fixtures/cli.js";
import { type AuditLine, type Cluster, startCluster } from "./cluster.js";

// The policy `apiserver-config --kubernetes-version 1.20` writes, plus RequestReceived (the
// rules must cope with every stage), so the rules see what they would see in production.
const POLICY = startingAuditPolicy(parseKubernetesVersion("1.20")).replace(
  /omitStages:\n {2}- RequestReceived\n/,
  "",
);

interface RulesReport {
  alerts: number;
  events: number;
  alertList: {
    rule: string;
    user: string;
    auditID: string;
    succeeded?: boolean;
    responseCode?: number;
  }[];
}

async function rulesOver(events: AuditLine[], extra: string[] = []): Promise<RulesReport> {
  const file = path.join(tempDir("kt-kube-rules-"), "audit.log");
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  const r = await runCli(["rules", "test", "--events", file, "-o", "json", ...extra]);
  if (r.code !== 0) throw new Error(`rules test failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as RulesReport;
}

const describeAlerts = (r: RulesReport) => r.alertList.map((a) => `${a.rule} by ${a.user}`).join("\n");

let cluster: Cluster | undefined;
/** Everything the log backend wrote from the first request until the apiserver stopped. */
let bootstrapAndShutdown: AuditLine[] = [];
let userTraffic: AuditLine[] = [];
let shutdown: AuditLine[] = [];

beforeAll(async () => {
  cluster = await startCluster({ audit: { policy: POLICY, log: true } });
  const c = cluster;
  // Let the post-start hooks and controllers of a fresh etcd finish their writes.
  await new Promise((r) => setTimeout(r, 3000));
  const bootstrap = c.auditLog();
  const mallory = await c.kubeconfigForUser("mallory", ["devs"]);
  // No controller-manager: the namespace's default ServiceAccount must be made by hand.
  await c.apply(`
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: default }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: default }
spec:
  automountServiceAccountToken: false
  containers: [{ name: web, image: nginx }]
`);
  // Allowed (system:masters), then refused by the apiserver: no node, no kubelet.
  const exec = await c.kubectl(["-n", "default", "exec", "web", "--", "id"]);
  expect(exec.code).not.toBe(0);
  expect(exec.stderr).toMatch(/does not have a host assigned/);
  // Forbidden: mallory has no rights at all.
  for (let i = 0; i < 25; i++) {
    const denied = await c.kubectl(["-n", "default", "exec", "web", "--", "id"], { kubeconfig: mallory });
    expect(denied.stderr).toMatch(/forbidden/);
  }
  const afterUsers = c.auditLog();
  userTraffic = afterUsers.slice(bootstrap.length);
  await c.stopApiserver();
  shutdown = c.auditLog().slice(afterUsers.length);
  bootstrapAndShutdown = [...bootstrap, ...shutdown];
});

afterAll(async () => {
  await cluster?.stop();
});

describe("built-in rules on a real apiserver's own traffic", () => {
  it("alert on an exec that passed authorization though the apiserver then failed, and count forbidden ones as 403s", async () => {
    const report = await rulesOver(userTraffic);
    const execs = report.alertList.filter((a) => a.rule === "pod-exec");
    expect(execs, describeAlerts(report)).toHaveLength(1);
    expect(execs[0]).toMatchObject({ user: "kube-harness-admin", succeeded: false, responseCode: 400 });
    // mallory's 25 forbidden attempts: one burst of 403s, no exec alert.
    expect(report.alertList.filter((a) => a.user === "mallory").map((a) => a.rule)).toEqual([
      "forbidden-burst",
    ]);
  });

  it("raise nothing on the bootstrap of a fresh etcd and on shutdown", async () => {
    expect(bootstrapAndShutdown.filter((e) => e.user.username === "system:apiserver").length).toBeGreaterThan(
      50,
    );
    // Stopping ends the apiserver's cluster-wide watch of Secrets, which is audited then.
    expect(
      shutdown.some(
        (e) =>
          e.user.username === "system:apiserver" &&
          e.verb === "watch" &&
          e.objectRef?.resource === "secrets" &&
          e.stage === "ResponseComplete",
      ),
    ).toBe(true);
    const report = await rulesOver(bootstrapAndShutdown);
    expect(report.alerts, describeAlerts(report)).toBe(0);
  });
});
