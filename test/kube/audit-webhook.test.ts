// End to end with a real kube-apiserver: wired to a real `kubetrail serve` exactly as
// `kubetrail apiserver-config` says (its certificates, webhook kubeconfig, policy and flags),
// the apiserver's webhook backend delivers every event its log backend wrote, and the
// resulting log verifies. Also checks the harness itself: x509 and token users, RBAC.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../fixtures/cli.js";
import {
  call,
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  type Serve,
  tempDir,
} from "../faults/serve-process.js";
import { type AuditLine, type Cluster, startCluster } from "./cluster.js";
import { startPairedServe, type Pairing } from "./kubetrail-pairing.js";

let work: string;
let cluster: Cluster | undefined;
let serve: Serve | undefined;
const bobToken = "bob-token-0123456789";

let pairing: Pairing | undefined;

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir("kube-e2e");
  pairing = await startPairedServe(work);
  serve = pairing.serve;
  cluster = await startCluster({
    // The policy, webhook kubeconfig and flags exactly as apiserver-config prints them; the
    // log backend (same policy) is the ground truth.
    audit: { log: true },
    apiserverArgs: pairing.apiserverArgs,
    tokens: [{ token: bobToken, user: "bob", groups: ["testers"] }],
  });
});

afterAll(async () => {
  await cluster?.stop();
  await serve?.kill("SIGTERM");
  if (work) removeDir(work);
});

function must(c: Cluster | undefined): Cluster {
  if (!c) throw new Error("no cluster (beforeAll failed)");
  return c;
}

const key = (e: { auditID?: string; stage?: string }) => `${e.auditID}/${e.stage}`;

/** Every (auditID, stage) kubetrail's query API has, page by page. */
async function storedKeys(s: Serve): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: "1000", ...(cursor ? { cursor } : {}) });
    const r = await call(s, { path: `/v1/events?${q.toString()}`, token: s.readToken });
    if (r.status !== 200) throw new Error(`GET /v1/events: ${r.status} ${r.body}`);
    const page = JSON.parse(r.body) as { metadata: { continue?: string }; items: { event: AuditLine }[] };
    for (const item of page.items) keys.add(key(item.event));
    cursor = page.metadata.continue;
    if (!cursor) return keys;
  }
}

describe("kube-apiserver v1.20.2 → kubetrail serve (batch webhook)", () => {
  it("authenticates x509 and token users and authorizes them with RBAC", async () => {
    const c = must(cluster);
    const version = await c.get("/version");
    expect(JSON.parse(version.body)).toMatchObject({ gitVersion: "v1.20.2" });

    const ns = "harness";
    expect((await c.kubectl(["create", "namespace", ns])).code).toBe(0);
    expect(
      (await c.kubectl(["-n", ns, "create", "configmap", "settings", "--from-literal=mode=on"])).code,
    ).toBe(0);
    expect(
      (await c.kubectl(["-n", ns, "create", "secret", "generic", "db", "--from-literal=password=hunter2"]))
        .code,
    ).toBe(0);

    const alice = await c.kubeconfigForUser("alice", ["devs"]);
    const denied = await c.kubectl(["-n", ns, "get", "configmaps"], { kubeconfig: alice });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden.*"alice"/);
    await c.apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: configmap-reader }
rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }]
`);
    expect(await c.can(alice, "list", "configmaps", ns)).toBe(false);
    await c.grant({ group: "devs" }, "configmap-reader", ns);
    await c.waitUntilAllowed(alice, "list", "configmaps", ns);
    const allowed = await c.kubectl(["-n", ns, "get", "configmaps", "-o", "name"], { kubeconfig: alice });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain("configmap/settings");
    // Only configmaps were granted.
    expect((await c.kubectl(["-n", ns, "get", "secret", "db"], { kubeconfig: alice })).code).not.toBe(0);

    const bob = c.kubeconfigForToken(bobToken, "bob");
    const bobDenied = await c.kubectl(["get", "namespaces"], { kubeconfig: bob });
    expect(bobDenied.stderr).toMatch(/forbidden.*"bob"/);
    await c.apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ns-reader }
rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: testers-read-ns }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ns-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: testers }]
`);
    await c.waitUntilAllowed(bob, "get", "namespaces");
    const bobAllowed = await c.kubectl(["get", "namespace", ns, "-o", "name"], { kubeconfig: bob });
    expect(bobAllowed.code, bobAllowed.stderr).toBe(0);

    expect(
      (await c.kubectl(["-n", ns, "patch", "configmap", "settings", "-p", '{"data":{"mode":"off"}}'])).code,
    ).toBe(0);
    expect((await c.kubectl(["-n", ns, "delete", "configmap", "settings"])).code).toBe(0);

    // The audit log names each user with the groups the authenticator gave them.
    const log = c.auditLog();
    const users = new Map(log.map((e) => [e.user.username, e.user.groups ?? []]));
    expect(users.get("alice")).toEqual(expect.arrayContaining(["devs", "system:authenticated"]));
    expect(users.get("bob")).toEqual(expect.arrayContaining(["testers", "system:authenticated"]));
    expect(log.some((e) => e.user.username === "alice" && e.responseStatus?.code === 403)).toBe(true);
  });

  it("stores every event the log backend wrote, and the log verifies", async () => {
    const c = must(cluster);
    const s = serve!;
    // Ground truth: what the log backend wrote by the end of the traffic above.
    const expected = c.auditLog();
    expect(expected.length).toBeGreaterThan(20);
    const want = new Set(expected.map(key));
    // Batches leave the apiserver within --audit-webhook-batch-max-wait (5 s).
    const deadline = Date.now() + 60_000;
    let missing: string[] = [];
    for (;;) {
      const have = await storedKeys(s);
      missing = [...want].filter((k) => !have.has(k));
      if (missing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(
      missing,
      `events of the audit log not delivered to kubetrail:\n${s.output().slice(-2000)}`,
    ).toEqual([]);

    // Backfilling the apiserver's own log file into the running server (mutual TLS with the
    // apiserver's client certificate) adds only what the webhook has not delivered: the same
    // event by both paths is one entry, never a second, conflicting one (checked below).
    const imp = await runCli([
      "import",
      "--server",
      s.url,
      ...pairing!.clientCertArgs,
      "--state-file",
      path.join(work, "import-state.json"),
      "-o",
      "json",
      c.auditLogPath!,
    ]);
    expect(imp.code, imp.stderr).toBe(0);
    const imported = JSON.parse(imp.stdout) as { read: number; duplicates: number; rejectedCount: number };
    expect(imported.rejectedCount).toBe(0);
    expect(imported.duplicates).toBeGreaterThanOrEqual(expected.length);

    await c.stopApiserver();
    expect(await s.kill("SIGTERM")).toBe(0);
    serve = undefined;
    const stored = (await readLog(s.dataDir)).filter((e) => e.isAuditEvent);
    // Stored once each (webhook and import alike), JSON-equal to the log backend's line.
    const byKey = new Map(
      stored.map((e) => [key(e), JSON.parse(Buffer.from(e.bytes).toString("utf8")) as unknown]),
    );
    expect(byKey.size).toBe(stored.length);
    for (const e of expected) expect(byKey.get(key(e)), key(e)).toEqual(e);
    const verify = await runVerify(s.dataDir);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.report.ok).toBe(true);
  });
});
