// End to end with a real kube-apiserver calling kubetrail's admission webhook, wired exactly as
// `kubetrail apiserver-config` says (its ValidatingWebhookConfiguration, admission credentials
// and certificates): kubectl gets the policy's message for a denied privileged Pod and a
// `Warning:` line for a warn policy, every decision is an AdmissionDecision entry in the log,
// `query --kind decision` finds them, and the log verifies.
import { copyFileSync, mkdirSync } from "node:fs";
import { fixture } from "../fixtures/guard/files.js";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../fixtures/cli.js";
import {
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  type Serve,
  tempDir,
} from "../faults/serve-process.js";
import { type Cluster, startCluster } from "./cluster.js";
import { startPairedServe } from "./kubetrail-pairing.js";

let work: string;
let cluster: Cluster | undefined;
let serve: Serve | undefined;

function pod(name: string, privileged: boolean): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "guarded" },
    spec: {
      automountServiceAccountToken: false,
      containers: [{ name: "c", image: "registry.k8s.io/pause:3.9", securityContext: { privileged } }],
    },
  });
}

function must<T>(c: T | undefined): T {
  if (!c) throw new Error("not started (beforeAll failed)");
  return c;
}

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir("kube-admission");
  const policyDir = path.join(work, "policies");
  mkdirSync(policyDir);
  copyFileSync(fixture("kube-policies.yaml"), path.join(policyDir, "policies.yaml"));
  const pairing = await startPairedServe(work, {
    // The harness's namespaces lack kubernetes.io/metadata.name (it arrived in 1.21): nothing
    // here is exempted, so the bootstrap objects in kube-system are reviewed too.
    configArgs: ["--admission-failure-policy", "Fail"],
    serveArgs: ["--guard-policies", policyDir, "--no-detect"],
  });
  serve = pairing.serve;
  const cfg = pairing.configDir;
  cluster = await startCluster({
    admissionKubeconfigFile: path.join(cfg, "admission-kubeconfig.yaml"),
    // Otherwise the apiserver's own validation refuses privileged pods before any webhook.
    apiserverArgs: ["--allow-privileged=true"],
  });
  const c = cluster;
  const applied = await c.kubectl(["apply", "-f", path.join(cfg, "admission-webhook.yaml")]);
  expect(applied.code, applied.stderr).toBe(0);
  expect((await c.kubectl(["create", "namespace", "guarded"])).code).toBe(0);
  // No controller-manager here to create it.
  expect((await c.kubectl(["-n", "guarded", "create", "serviceaccount", "default"])).code).toBe(0);
  // The apiserver picks up a new webhook configuration from its informer: wait until it calls.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await c.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: pod("probe", true) });
    if (r.code !== 0 && r.stderr.includes("validate.kubetrail.dev")) break;
    if (Date.now() > deadline) throw new Error(`the webhook was never called: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await serve?.kill("SIGTERM");
  if (work) removeDir(work);
});

describe("a real kube-apiserver calls the webhook", () => {
  it("denies a privileged Pod: kubectl shows the policy's message with the field", async () => {
    const r = await must(cluster).kubectl(["apply", "-f", "-"], { input: pod("privileged", true) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('admission webhook "validate.kubetrail.dev" denied the request');
    expect(r.stderr).toContain(
      '[pss-baseline] container "c" must not set securityContext.privileged=true (spec.containers[0].securityContext.privileged)',
    );
    const get = await must(cluster).kubectl(["-n", "guarded", "get", "pod", "privileged"]);
    expect(get.code).not.toBe(0);
  });

  it("admits a compliant Pod", async () => {
    const r = await must(cluster).kubectl(["apply", "-f", "-"], { input: pod("plain", false) });
    expect(r.code, r.stderr).toBe(0);
  });

  it("a warn policy admits with kubectl's Warning: line", async () => {
    const r = await must(cluster).kubectl([
      "-n",
      "guarded",
      "create",
      "configmap",
      "settings",
      "--from-literal=a=b",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "Warning: [configmaps-need-a-team] ConfigMaps in this namespace need a team label (metadata.labels)",
    );
  });

  it("every decision is in the log, the log verifies, and query finds the denial", async () => {
    expect(await must(serve).kill("SIGTERM")).toBe(0);
    const entries = await readLog(must(serve).dataDir);
    const decisions = entries
      .map((e) => JSON.parse(Buffer.from(e.bytes).toString("utf8")) as Record<string, unknown>)
      .filter((d) => d["kind"] === "AdmissionDecision");
    const find = (name: string, dryRun: boolean) =>
      decisions.find((d) => (d["object"] as { name?: string }).name === name && d["dryRun"] === dryRun);
    const denied = find("privileged", false);
    expect(denied).toMatchObject({
      apiVersion: "kubetrail.dev/v1",
      result: "deny",
      allowed: false,
      operation: "CREATE",
      user: { username: "kube-harness-admin" },
      object: { kind: "Pod", resource: "pods", namespace: "guarded", name: "privileged" },
    });
    const pss = (
      denied!["policies"] as { policy: string; hash: string; status: string; violations: unknown[] }[]
    ).find((p) => p.policy === "pss-baseline");
    expect(pss?.status).toBe("fail");
    expect(pss?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(find("probe", true)).toMatchObject({ result: "deny", dryRun: true });
    expect(find("plain", false)).toMatchObject({ allowed: true });
    expect(find("settings", false)).toMatchObject({ result: "warn", allowed: true });
    const verified = await runVerify(must(serve).dataDir);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.report.ok).toBe(true);
    const q = await runCli([
      "query",
      "--data",
      must(serve).dataDir,
      "--kind",
      "decision",
      "--result",
      "deny",
      "-o",
      "json",
    ]);
    expect(q.code, q.stderr).toBe(0);
    const items = (JSON.parse(q.stdout) as { items: { event: { object: { name?: string } } }[] }).items;
    expect(items.map((i) => i.event.object.name).sort()).toEqual(["privileged", "probe"]);
  });
});
