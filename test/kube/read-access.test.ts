// Kubernetes identities reading kubetrail, for real: a kube-apiserver v1.20.2 audits to a live
// `kubetrail serve`, which checks readers' tokens with TokenReview and their permissions with
// SubjectAccessReview on auditevents.kubetrail.dev, using the RBAC that deploy/kubetrail.yaml
// ships (applied to the apiserver as is). An allowed user, a namespace-limited x509 user, a
// refused user, a service account and an expired token read through the API, the CLI and
// `kubectl trail` (driven by a real kubectl with real kubeconfigs), and the K9s plugin's exact
// command lines run with K9s's variables substituted.
import { spawn } from "node:child_process";
import { createSign } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { apiserverFlags } from "../../src/cli/apiserver-config.js";
import { request, type Reply } from "../fixtures/audit/request.js";
import { runCli, type CliResult } from "../fixtures/cli.js";
import { apiserverConfig, pairedServeFlags } from "./kubetrail-pairing.js";
import { serviceAccountToken, tokenKubeconfig } from "./service-account.js";
import { k9sSubstitute, pluginPath } from "../fixtures/kubectl-plugin.js";
import { cosignerKey, startCosigner } from "../fixtures/cosigner-process.js";
import {
  call,
  removeDir,
  requireBuiltCli,
  type Serve,
  startServe,
  tempDir,
} from "../faults/serve-process.js";
import { type Cluster, freePort, startCluster } from "./cluster.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const ALICE = "alice-token-0123456789abcdef"; // cluster-wide reader
const CAROL = "carol-token-0123456789abcdef"; // no permission at all

let work: string;
let cfg: string;
let port: number;
let cluster: Cluster;
let serve: Serve | undefined;
let vkey: string;
let kubetrailCa: string;
let env: Record<string, string>;
let PATH: string;
const kc: Record<"alice" | "bob" | "carol" | "sa", string> = { alice: "", bob: "", carol: "", sa: "" };
let saToken: string;
let bobCert: { cert: string; key: string };
let kubeAuthFlags: string[];

function writeFile(name: string, text: string): string {
  const file = path.join(work, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** A service-account token signed with the apiserver's real key, expired an hour ago. */
function expiredToken(uid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const issuer = "https://kubernetes.default.svc.cluster.local";
  const unsigned = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({
    iss: issuer,
    aud: [issuer],
    sub: "system:serviceaccount:team-a:auditor",
    iat: now - 7200,
    nbf: now - 7200,
    exp: now - 3600,
    "kubernetes.io": { namespace: "team-a", serviceaccount: { name: "auditor", uid } },
  })}`;
  const signature = createSign("RSA-SHA256")
    .update(unsigned)
    .sign(readFileSync(path.join(cluster.dir, "pki", "sa.key")))
    .toString("base64url");
  return `${unsigned}.${signature}`;
}

async function startKubetrail(extra: string[]): Promise<Serve> {
  return startServe(path.join(work, "data"), [...pairedServeFlags(cfg), "--no-detect", ...extra], {
    ca: readFileSync(path.join(cfg, "ca.crt")),
    listen: `127.0.0.1:${port}`,
  });
}

/** deploy/kubetrail.yaml as shipped, with the Service's fixed IP moved into this cluster's range. */
function shippedManifests(): string {
  const docs = YAML.parseAllDocuments(readFileSync(path.join(ROOT, "deploy/kubetrail.yaml"), "utf8"));
  return docs
    .map((d) => {
      const o = d.toJSON() as { kind: string; spec?: { clusterIP?: string } };
      if (o.kind === "Service" && o.spec) o.spec.clusterIP = "10.0.0.50";
      return YAML.stringify(o);
    })
    .join("---\n");
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function kubectl(
  user: keyof typeof kc,
  args: string[],
  timeoutMs = 30_000,
  extraEnv: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // kubectl takes no flags before a plugin's name: the user's kubeconfig comes from KUBECONFIG.
    const child = spawn(cluster.bin.kubectl, args, {
      env: { ...process.env, ...env, PATH, KUBECONFIG: kc[user], ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

interface Item {
  index: number;
  event: { objectRef?: { namespace?: string; resource?: string; name?: string }; user: { username: string } };
}

function itemsOf(r: CliResult): Item[] {
  if (r.stderr !== "") console.log(serve?.output().slice(-4000));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { items: Item[] }).items;
}

/** The read API as one identity: a bearer token or a client certificate. */
function asIdentity(
  who: { token: string } | { cert: string; key: string },
  pathname: string,
): Promise<Reply> {
  return request(port, {
    path: pathname,
    ca: kubetrailCa,
    ...("token" in who
      ? { headers: { Authorization: `Bearer ${who.token}` } }
      : { cert: who.cert, key: who.key }),
  });
}

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir("kube-read-access");
  port = await freePort();
  cfg = await apiserverConfig(work, port);
  kubetrailCa = readFileSync(path.join(cfg, "ca.crt"), "utf8");
  // kubetrail first (ingest only), so the apiserver's audit webhook has somewhere to go.
  serve = await startKubetrail([]);
  cluster = await startCluster({
    apiserverArgs: [
      ...apiserverFlags(cfg).filter((f) => !f.startsWith("--audit-webhook-batch-max-wait")),
      "--audit-webhook-batch-max-wait=1s",
    ],
    tokens: [
      { token: ALICE, user: "alice", groups: ["security"] },
      { token: CAROL, user: "carol", groups: ["visitors"] },
    ],
  });
  // The manifests as shipped: namespace, kubetrail's service account and RBAC, the reader
  // ClusterRoles, the discovery ConfigMap and Role.
  await cluster.apply(shippedManifests());
  const ktToken = await serviceAccountToken(cluster, "kubetrail", "kubetrail");
  const ktKubeconfig = tokenKubeconfig(cluster, ktToken, path.join(work, "kubetrail.kubeconfig"));
  // Restarted with Kubernetes identities on (the apiserver retries its batches meanwhile).
  expect(await serve.kill("SIGTERM")).toBe(0);
  kubeAuthFlags = [
    "--kube-auth",
    "--kubeconfig",
    ktKubeconfig,
    "--kube-client-ca",
    path.join(cluster.dir, "pki", "ca.crt"),
    "--kube-auth-cache-ttl",
    "2s",
  ];
  serve = await startKubetrail(kubeAuthFlags);
  vkey = readFileSync(path.join(work, "data", "keys", "verifier.key"), "utf8").trim();
  // Publish kubetrail for `kubectl trail`, as deploy/README.md tells the operator.
  await cluster.apply(
    YAML.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "kubetrail-client", namespace: "kubetrail" },
      data: { server: `https://127.0.0.1:${port}`, "ca.crt": kubetrailCa, "verifier-key": vkey },
    }),
  );

  // Two namespaces with a Deployment "web" each, a ConfigMap, and a cluster-scoped change.
  for (const args of [
    ["create", "namespace", "team-a"],
    ["create", "namespace", "team-b"],
    ["-n", "team-a", "create", "deployment", "web", "--image=nginx:1.25"],
    ["-n", "team-b", "create", "deployment", "web", "--image=nginx:1.25"],
    ["-n", "team-a", "set", "image", "deployment/web", "nginx=nginx:1.26"],
    ["-n", "team-b", "create", "configmap", "settings", "--from-literal=mode=on"],
    ["create", "clusterrolebinding", "ops-view", "--clusterrole=view", "--user=dave"],
    ["-n", "team-a", "create", "serviceaccount", "auditor"],
  ]) {
    const r = await cluster.kubectl(args);
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  }
  // Readers: alice cluster-wide, bob (x509, group team-a-devs) and the auditor service
  // account in team-a only, carol nowhere.
  await cluster.grant({ user: "alice" }, "kubetrail-reader");
  await cluster.grant({ group: "team-a-devs" }, "kubetrail-namespace-reader", "team-a");
  const r = await cluster.kubectl([
    "-n",
    "team-a",
    "create",
    "rolebinding",
    "auditor-reads",
    "--clusterrole=kubetrail-namespace-reader",
    "--serviceaccount=team-a:auditor",
  ]);
  expect(r.code, r.stderr).toBe(0);
  kc.alice = cluster.kubeconfigForToken(ALICE, "alice");
  kc.carol = cluster.kubeconfigForToken(CAROL, "carol");
  kc.bob = await cluster.kubeconfigForUser("bob", ["team-a-devs"]);
  saToken = await serviceAccountToken(cluster, "team-a", "auditor");
  kc.sa = cluster.kubeconfigForToken(saToken, "auditor");
  const bobUser = (YAML.parse(readFileSync(kc.bob, "utf8")) as { users: { user: Record<string, string> }[] })
    .users[0]!.user;
  bobCert = {
    cert: Buffer.from(bobUser["client-certificate-data"]!, "base64").toString(),
    key: Buffer.from(bobUser["client-key-data"]!, "base64").toString(),
  };
  // RBAC's informer cache catches up with the bindings (kubetrail's refusals last 2 s here).
  for (const [who, q] of [
    [{ token: ALICE }, "/v1/events?limit=1"],
    [bobCert, "/v1/events?namespace=team-a&limit=1"],
    [{ token: saToken }, "/v1/events?namespace=team-a&limit=1"],
  ] as const) {
    await waitFor("a grant to take effect", async () => (await asIdentity(who, q)).status === 200);
  }
  // Everything above has reached kubetrail's index.
  const s = serve;
  await waitFor("the workload's events in kubetrail", async () => {
    const q = await call(s, {
      path: "/v1/events?resource=rolebindings.rbac.authorization.k8s.io&namespace=team-a&verb=create",
      token: s.readToken,
    });
    return q.status === 200 && (JSON.parse(q.body) as { items: unknown[] }).items.length >= 2;
  });
  env = {
    XDG_STATE_HOME: path.join(work, "state"),
    XDG_CACHE_HOME: path.join(work, ".cache"),
    KUBETRAIL_CONFIG: path.join(work, "client.yaml"),
    HOME: work,
  };
  PATH = pluginPath(path.dirname(cluster.bin.kubectl));
}, 300_000);

afterAll(async () => {
  const failures = (serve?.output() ?? "").split("\n").filter((l) => l.includes('"handler failed"'));
  if (failures.length > 0) console.log(failures.join("\n"));
  await serve?.kill("SIGTERM");
  await cluster?.stop();
  if (work) removeDir(work);
});

describe("the read API under the cluster's RBAC", () => {
  it("lets a cluster-wide reader (token) see every namespace and cluster-scoped events", async () => {
    const r = await asIdentity({ token: ALICE }, "/v1/events?verb=create,patch&limit=500");
    expect(r.status, r.body).toBe(200);
    const items = (JSON.parse(r.body) as { items: Item[] }).items;
    const namespaces = new Set(items.map((i) => i.event.objectRef?.namespace ?? "<cluster>"));
    expect([...namespaces]).toEqual(expect.arrayContaining(["team-a", "team-b", "<cluster>", "kubetrail"]));
    expect(
      items.some(
        (i) => i.event.objectRef?.resource === "clusterrolebindings" && i.event.objectRef.name === "ops-view",
      ),
    ).toBe(true);
  });

  it("shows a namespace-limited x509 user only its namespace, and says what is missing elsewhere", async () => {
    const r = await asIdentity(bobCert, "/v1/events?limit=1000");
    expect(r.status, r.body).toBe(200);
    const items = (JSON.parse(r.body) as { items: Item[] }).items;
    expect(items.length).toBeGreaterThan(3);
    expect(new Set(items.map((i) => i.event.objectRef?.namespace))).toEqual(new Set(["team-a"]));
    const top = JSON.parse((await asIdentity(bobCert, "/v1/top/ns?top=50")).body) as {
      items: { key: string }[];
    };
    expect(top.items.map((i) => i.key)).toEqual(["team-a"]);
    const other = await asIdentity(bobCert, "/v1/events?namespace=team-b");
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toEqual({
      error: expect.stringMatching(
        /^user "bob" \(groups team-a-devs\) may not list auditevents\.kubetrail\.dev in namespace "team-b": needs verb "list" on resource "auditevents" in API group "kubetrail\.dev"/,
      ),
    });
    // One entry of team-b by index: refused as `get` there.
    const teamB = JSON.parse(
      (await asIdentity({ token: ALICE }, "/v1/events?namespace=team-b&limit=1")).body,
    ) as { items: Item[] };
    const one = await asIdentity(bobCert, `/v1/events/${teamB.items[0]!.index}`);
    expect(one.status).toBe(403);
    expect(one.body).toContain('may not get auditevents.kubetrail.dev in namespace \\"team-b\\"');
    const crb = JSON.parse(
      (
        await asIdentity(
          { token: ALICE },
          "/v1/events?resource=clusterrolebindings.rbac.authorization.k8s.io&limit=1",
        )
      ).body,
    ) as { items: Item[] };
    expect((await asIdentity(bobCert, `/v1/events/${crb.items[0]!.index}`)).body).toContain(
      "at the cluster scope",
    );
  });

  it("lets only a cluster-wide reader fetch entry bundles (whole events of every namespace)", async () => {
    const bundle = "/log/tile/entries/000.p/1";
    expect((await asIdentity({ token: ALICE }, bundle)).status).toBe(200);
    const bob = await asIdentity(bobCert, bundle);
    expect(bob.status).toBe(403);
    expect(bob.body).toContain("may not get auditevents.kubetrail.dev at the cluster scope");
    // Hash tiles are public: anyone may check the tree.
    expect((await request(port, { path: "/log/tile/0/000.p/1", ca: kubetrailCa })).status).toBe(200);
  });

  it("reads as a service account (TokenReview) within its namespace", async () => {
    const r = await asIdentity({ token: saToken }, "/v1/events?limit=1000");
    expect(r.status, r.body).toBe(200);
    expect(
      new Set((JSON.parse(r.body) as { items: Item[] }).items.map((i) => i.event.objectRef?.namespace)),
    ).toEqual(new Set(["team-a"]));
  });

  it("refuses a user without any grant, an expired token and a token the apiserver does not know", async () => {
    const carol = await asIdentity({ token: CAROL }, "/v1/events");
    expect(carol.status).toBe(403);
    expect(carol.body).toContain(
      'user \\"carol\\" (groups visitors) may not list auditevents.kubetrail.dev at the cluster scope nor in any namespace',
    );
    const sa = JSON.parse(
      (await cluster.kubectl(["-n", "team-a", "get", "serviceaccount", "auditor", "-o", "json"])).stdout,
    ) as { metadata: { uid: string } };
    const expired = await asIdentity({ token: expiredToken(sa.metadata.uid) }, "/v1/events");
    expect(expired.status).toBe(401);
    expect(expired.body).toMatch(/token not accepted by the Kubernetes API \(.*expired/);
    const unknown = await asIdentity({ token: "no-such-token-anywhere-0123" }, "/v1/events");
    expect(unknown.status).toBe(401);
    // kubetrail's own read token still reads everything.
    expect((await asIdentity({ token: serve!.readToken }, "/v1/events?namespace=team-b")).status).toBe(200);
  });

  it("takes new grants into account once the cached refusal expires", async () => {
    expect((await asIdentity(bobCert, "/v1/events?namespace=team-b")).status).toBe(403);
    await cluster.grant({ user: "bob" }, "kubetrail-namespace-reader", "team-b");
    await waitFor(
      "bob's new grant",
      async () => (await asIdentity(bobCert, "/v1/events?namespace=team-b")).status === 200,
      20_000,
    );
  });
});

/** Signs in to the web UI with a token, as the UI's page does; the session cookie, or the refusal. */
async function uiLogin(token: string): Promise<{ reply: Reply; cookie: string }> {
  const reply = await request(port, {
    method: "POST",
    path: "/ui/api/login",
    ca: kubetrailCa,
    headers: { Origin: `https://127.0.0.1:${port}`, "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const cookie =
    String(([] as string[]).concat(reply.headers["set-cookie"] ?? [])[0] ?? "").split(";")[0] ?? "";
  return { reply, cookie };
}

function asSession(cookie: string, pathname: string): Promise<Reply> {
  return request(port, { path: pathname, ca: kubetrailCa, headers: { Cookie: cookie } });
}

interface UiStats {
  treeSize: number;
  total: number;
  facets: { namespaces: { key: string | null; count: number }[] };
}
interface UiEntries {
  items: { index: number; entry: string; proof: string[] }[];
}

function namespacesOf(list: UiEntries): Set<string> {
  return new Set(
    list.items.map(
      (i) =>
        (JSON.parse(i.entry) as { objectRef?: { namespace?: string } }).objectRef?.namespace ?? "<cluster>",
    ),
  );
}

describe("the web UI signed in with Kubernetes tokens", () => {
  it("signs a cluster-wide reader in as that user and shows every namespace and the records", async () => {
    const { reply, cookie } = await uiLogin(ALICE);
    expect(reply.status, reply.body).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ identity: { name: "alice", via: "kube-token" } });
    expect(cookie).toMatch(/^__Host-kubetrail-session=/);
    const session = JSON.parse((await asSession(cookie, "/ui/api/session")).body) as { identity: unknown };
    expect(session.identity).toEqual({ name: "alice", via: "kube-token" });
    const stats = await asSession(cookie, "/v1/stats?top=100");
    expect(stats.status, stats.body).toBe(200);
    const keys = (JSON.parse(stats.body) as UiStats).facets.namespaces.map((f) => f.key);
    expect(keys).toEqual(expect.arrayContaining(["team-a", "team-b", "kubetrail", null]));
    const entries = await asSession(cookie, "/v1/entries?verb=create&limit=1000");
    expect(entries.status, entries.body).toBe(200);
    expect([...namespacesOf(JSON.parse(entries.body) as UiEntries)]).toEqual(
      expect.arrayContaining(["team-a", "team-b", "<cluster>"]),
    );
    expect((await asSession(cookie, "/v1/records?kind=Alert")).status).toBe(200);
  });

  it("narrows a namespace-limited service account's timeline, entries and history to its namespace", async () => {
    const { reply, cookie } = await uiLogin(saToken);
    expect(reply.status, reply.body).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({
      identity: { name: "system:serviceaccount:team-a:auditor", via: "kube-token" },
    });
    const alice = (await uiLogin(ALICE)).cookie;
    const mine = await asSession(cookie, "/v1/stats?top=100");
    expect(mine.status, mine.body).toBe(200);
    const stats = JSON.parse(mine.body) as UiStats;
    expect(stats.facets.namespaces.map((f) => f.key)).toEqual(["team-a"]);
    // The same counts a cluster-wide reader gets for team-a, over the same tree.
    const all = JSON.parse(
      (await asSession(alice, `/v1/stats?namespace=team-a&tree-size=${stats.treeSize}`)).body,
    ) as UiStats;
    expect(stats.total).toBe(all.total);
    expect(stats.total).toBeGreaterThan(3);

    const entries = await asSession(cookie, `/v1/entries?limit=1000&tree-size=${stats.treeSize}`);
    expect(entries.status, entries.body).toBe(200);
    const list = JSON.parse(entries.body) as UiEntries;
    expect(list.items).toHaveLength(stats.total);
    expect(namespacesOf(list)).toEqual(new Set(["team-a"]));
    expect(list.items.every((i) => i.proof.length > 0)).toBe(true);

    // Deployment "web" exists in team-a and team-b: only team-a's history is shown.
    const history = await asSession(cookie, "/v1/history?object=deployment/web");
    expect(history.status, history.body).toBe(200);
    expect(namespacesOf(JSON.parse(history.body) as UiEntries)).toEqual(new Set(["team-a"]));
    const both = JSON.parse((await asSession(alice, "/v1/history?object=deployment/web")).body) as UiEntries;
    expect(namespacesOf(both)).toEqual(new Set(["team-a", "team-b"]));

    // Elsewhere: refused, naming what is missing.
    const other = await asSession(cookie, "/v1/entries?namespace=team-b");
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toEqual({
      error: expect.stringMatching(
        /^user "system:serviceaccount:team-a:auditor" \(groups .*\) may not list auditevents\.kubetrail\.dev in namespace "team-b"/,
      ),
    });
    expect((await asSession(cookie, "/v1/history?object=deployment/web&namespace=team-b")).status).toBe(403);
    const teamB = JSON.parse(
      (await asSession(alice, "/v1/entries?namespace=team-b&limit=1")).body,
    ) as UiEntries;
    const one = await asSession(cookie, `/v1/entries/${teamB.items[0]!.index}`);
    expect(one.status).toBe(403);
    expect(one.body).toContain('may not get auditevents.kubetrail.dev in namespace \\"team-b\\"');
    expect((await asSession(cookie, `/v1/entries/${list.items[0]!.index}`)).status).toBe(200);
    const records = await asSession(cookie, "/v1/records?kind=Alert");
    expect(records.status).toBe(403);
    expect(records.body).toContain("at the cluster scope");
  });

  it("signs in a user without any grant, whose reads are then refused, and refuses unknown tokens", async () => {
    const { reply, cookie } = await uiLogin(CAROL);
    expect(reply.status, reply.body).toBe(200);
    const stats = await asSession(cookie, "/v1/stats");
    expect(stats.status).toBe(403);
    expect(stats.body).toContain('user \\"carol\\" (groups visitors) may not list auditevents.kubetrail.dev');
    const unknown = await uiLogin("not-a-token-the-apiserver-knows-0123");
    expect(unknown.reply.status).toBe(401);
    expect(unknown.cookie).toBe("");
  });
});

describe("the CLI with Kubernetes credentials", () => {
  it("gives a namespace-limited client certificate only its namespaces, and refuses carol in one line", async () => {
    const bobCertFile = writeFile("bob.crt", bobCert.cert);
    const bobKeyFile = writeFile("bob.key", bobCert.key);
    const flags = ["--server", `https://127.0.0.1:${port}`, "--ca", path.join(cfg, "ca.crt"), "--key", vkey];
    const bob = await runCli(
      [
        "query",
        ...flags,
        "--client-cert",
        bobCertFile,
        "--client-key",
        bobKeyFile,
        "--limit",
        "all",
        "-o",
        "json",
      ],
      undefined,
      env,
    );
    expect(new Set(itemsOf(bob).map((i) => i.event.objectRef?.namespace))).toEqual(
      new Set(["team-a", "team-b"]),
    );
    const carolToken = writeFile("carol.token", CAROL);
    const carol = await runCli(["query", ...flags, "--token-file", carolToken], undefined, env);
    expect(carol.code).toBe(1);
    expect(carol.stderr).toMatch(
      /^kubetrail: https:\/\/127\.0\.0\.1:\d+\/v1\/events: forbidden: user "carol" \(groups visitors\) may not list auditevents\.kubetrail\.dev at the cluster scope/,
    );
    expect(carol.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("kubectl trail with real kubeconfigs", () => {
  it("finds kubetrail from the kube context and reads as the kubectl user", async () => {
    const all = itemsOf(
      await kubectl("alice", ["trail", "query", "-A", "--verb", "create", "--limit", "all", "-o", "json"]),
    );
    expect([...new Set(all.map((i) => i.event.objectRef?.namespace ?? "<cluster>"))]).toEqual(
      expect.arrayContaining(["team-a", "team-b", "<cluster>"]),
    );
    const teamB = itemsOf(
      await kubectl("alice", ["trail", "query", "-n", "team-b", "--since", "1h", "-o", "json"]),
    );
    expect(teamB.length).toBeGreaterThan(0);
    expect(new Set(teamB.map((i) => i.event.objectRef?.namespace))).toEqual(new Set(["team-b"]));
    // The SA sees its namespace only, with -A as without.
    const sa = itemsOf(await kubectl("sa", ["trail", "query", "-A", "--limit", "all", "-o", "json"]));
    expect(new Set(sa.map((i) => i.event.objectRef?.namespace))).toEqual(new Set(["team-a"]));
    // Without -n: the context's namespace ("default"), as kubectl does.
    const ctxNs = itemsOf(await kubectl("alice", ["trail", "query", "--limit", "all", "-o", "json"]));
    expect(ctxNs.every((i) => i.event.objectRef?.namespace === "default")).toBe(true);
  });

  it("fails in one line when kubetrail cannot be found or reached", async () => {
    const nowhere = await kubectl("alice", ["trail", "query", "--kubetrail-namespace", "nowhere"]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(
      /^kubectl trail: https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/nowhere\/configmaps\/kubetrail-client: configmaps "kubetrail-client" is forbidden: User "alice" cannot get .* is kubetrail deployed in namespace "nowhere"\? \(--kubetrail-namespace\)\)\n$/,
    );
    const closed = await kubectl("alice", [
      "trail",
      "history",
      "deploy/web",
      "--server",
      "https://127.0.0.1:1",
    ]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toBe("kubectl trail: cannot reach https://127.0.0.1:1: connection refused\n");
    const wrongCa = await kubectl("alice", [
      "trail",
      "top",
      "user",
      "--ca",
      path.join(cluster.dir, "pki", "ca.crt"),
    ]);
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toMatch(
      /^kubectl trail: https:\/\/127\.0\.0\.1:\d+: the server's certificate is not trusted .*\n$/,
    );
  });

  it("remembers where kubetrail is per kube context, and asks the cluster again when that is stale", async () => {
    const publish = (server: string) =>
      cluster.apply(
        YAML.stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "kubetrail-client", namespace: "kubetrail" },
          data: { server, "ca.crt": kubetrailCa, "verifier-key": vkey },
        }),
      );
    const cacheDir = path.join(work, ".cache", "kubetrail", "discovery");
    rmSync(cacheDir, { recursive: true, force: true });
    const count = ["trail", "top", "user", "-A", "-o", "json"];
    expect((await kubectl("alice", count)).code).toBe(0);
    const [file] = readdirSync(cacheDir);
    const cached = JSON.parse(readFileSync(path.join(cacheDir, file!), "utf8")) as {
      found: { server: string };
    };
    expect(cached.found.server).toBe(`https://127.0.0.1:${port}`);
    try {
      // The cluster now points elsewhere; within the TTL the remembered place is used.
      await publish("https://127.0.0.1:1");
      const remembered = await kubectl("alice", count);
      expect(remembered.stderr).toBe("");
      expect(remembered.code).toBe(0);
      // Without the cache the cluster's answer is taken, and fails.
      const fresh = await kubectl("alice", count, 30_000, { KUBETRAIL_DISCOVERY_TTL: "0" });
      expect(fresh.stderr).toBe("kubectl trail: cannot reach https://127.0.0.1:1: connection refused\n");
    } finally {
      await publish(`https://127.0.0.1:${port}`);
    }
    // A remembered place that no longer answers is forgotten, and the cluster asked again.
    writeFileSync(
      path.join(cacheDir, file!),
      JSON.stringify({ ...cached, found: { ...cached.found, server: "https://127.0.0.1:1" } }),
    );
    const moved = await kubectl("alice", count);
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(cacheDir, file!), "utf8")).found.server).toBe(
      `https://127.0.0.1:${port}`,
    );
    // So is one whose key the server no longer states (a rotated key).
    writeFileSync(
      path.join(cacheDir, file!),
      JSON.stringify({ ...cached, found: { ...cached.found, verifierKey: "old.example/log+00000000+AAAA" } }),
    );
    expect((await kubectl("alice", count)).code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(cacheDir, file!), "utf8")).found.verifierKey).toBe(vkey);
  });

  it("shows an object's history with kubectl's short names, and each namespace apart with -A", async () => {
    const one = await kubectl("alice", ["trail", "history", "deploy/web", "-n", "team-a"]);
    expect(one.stderr).toBe("");
    expect(one.stdout).toMatch(/^TIME\s+USER\s+VERB/);
    expect(one.stdout).toMatch(/kube-harness-admin\s+create/);
    expect(one.stdout).toMatch(/kube-harness-admin\s+patch/);
    expect(one.stdout).toContain('"nginx:1.26"');
    const both = await kubectl("alice", ["trail", "history", "deployments.apps/web", "-A"]);
    expect(both.stderr).toBe("");
    expect(both.stdout).toContain("deployments.apps/web in namespace team-a:");
    expect(both.stdout).toContain("deployments.apps/web in namespace team-b:");
    const crb = await kubectl("alice", ["trail", "history", "crb/ops-view", "-o", "yaml"]);
    expect(crb.stdout).toContain("name: ops-view");
    const refused = await kubectl("bob", ["trail", "history", "deploy/web", "-n", "kubetrail"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^kubectl trail: .*forbidden: user "bob" \(groups team-a-devs\) may not list auditevents\.kubetrail\.dev in namespace "kubetrail"/,
    );
  });

  it("proves the latest change, counts, and says who a service account is", async () => {
    const proof = await kubectl("bob", ["trail", "proof", "deploy/web", "-n", "team-a"]);
    expect(proof.stderr).toBe("");
    expect(proof.stdout).toMatch(
      /^OK: entry \d+ is included in the log ".+" of size \d+\n {2}event: {6}patch deployments\.apps team-a\/web by kube-harness-admin/,
    );
    const top = await kubectl("alice", ["trail", "top", "user", "-A", "-o", "json"]);
    expect((JSON.parse(top.stdout) as { items: { key: string }[] }).items.map((i) => i.key)).toContain(
      "kube-harness-admin",
    );
    const who = await kubectl("alice", ["trail", "who", "sa/kubetrail", "-n", "kubetrail", "-o", "json"]);
    expect(
      itemsOf(who).every((i) => i.event.user.username === "system:serviceaccount:kubetrail:kubetrail"),
    ).toBe(true);
  });

  it("verifies the whole log as a cluster-wide reader, and refuses a namespace reader", async () => {
    const ok = await kubectl("alice", ["trail", "verify"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(
      /^OK: https:\/\/127\.0\.0\.1:\d+\/log\/: \d+ entries, \d+ tiles and the checkpoint of size \d+ verify/,
    );
    // It also proved the log extends the checkpoint this client verified on earlier reads.
    expect(ok.stdout).toMatch(/the log extends the trusted checkpoint of size \d+/);
    const bob = await kubectl("bob", ["trail", "verify"]);
    expect(bob.code).toBe(1);
    // Refused reads are part of verify's report, as every other reason it could not check.
    expect(bob.stdout).toMatch(/^FAILED: .*\n {2}unreadable: .*HTTP 403/);
  });

  it("runs the K9s plugins' command lines with K9s's variables against the live server", async () => {
    const doc = YAML.parse(readFileSync(path.join(ROOT, "deploy/k9s/plugins.yaml"), "utf8")) as {
      plugins: Record<string, { command: string; args: string[] }>;
    };
    const k9sEnv = (over: Record<string, string>) => ({
      CONTEXT: "harness",
      CLUSTER: "harness",
      USER: "user",
      GROUPS: "",
      KUBECONFIG: kc.alice,
      FILTER: "",
      RESOURCE_VERSION: "v1",
      ...over,
    });
    const run = (name: string, vars: Record<string, string>) => {
      const p = doc.plugins[name]!;
      const args = p.args.map((a) => k9sSubstitute(a, k9sEnv(vars)));
      return new Promise<CliResult>((resolve) => {
        const child = spawn(p.command, args, {
          env: { ...process.env, ...env, PATH },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    };
    const history = await run("kubetrail-history", {
      NAME: "web",
      NAMESPACE: "team-b",
      RESOURCE_NAME: "deployments",
      RESOURCE_GROUP: "apps",
    });
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/^TIME\s+USER\s+VERB/);
    expect(history.stdout).toMatch(/kube-harness-admin\s+create/);
    // A cluster-scoped object in the core group: empty namespace and group, as K9s gives them.
    const ns = await run("kubetrail-history", {
      NAME: "team-a",
      NAMESPACE: "",
      RESOURCE_NAME: "namespaces",
      RESOURCE_GROUP: "",
    });
    expect(ns.stdout).toMatch(/kube-harness-admin\s+create/);
    const proof = await run("kubetrail-proof", {
      NAME: "settings",
      NAMESPACE: "team-b",
      RESOURCE_NAME: "configmaps",
      RESOURCE_GROUP: "",
    });
    expect(proof.stdout).toMatch(/^OK: entry \d+ is included in the log/);
    const sa = await run("kubetrail-sa-activity", {
      NAME: "kubetrail",
      NAMESPACE: "kubetrail",
      RESOURCE_NAME: "serviceaccounts",
      RESOURCE_GROUP: "",
    });
    expect(sa.stdout).toMatch(/system:serviceaccount:kubetrail:kubetrail\s+create\s+subjectaccessreviews/);
    const user = await run("kubetrail-user-activity", {
      NAME: "kube-harness-admin",
      NAMESPACE: "",
      RESOURCE_NAME: "users",
      RESOURCE_GROUP: "",
    });
    expect(user.stdout).toMatch(/kube-harness-admin\s+create\s+deployments\.apps\s+team-a\/web/);
  });
});

describe("kubectl trail with a witness policy", () => {
  // Last: serve is restarted with a witness cosigning its checkpoints.
  it("refuses a checkpoint short of the quorum, naming the missing witnesses", async () => {
    const w1Key = await cosignerKey("witness", path.join(work, "w1"), "w1.read-access.test/w");
    const w2Key = await cosignerKey("witness", path.join(work, "w2"), "w2.read-access.test/w");
    const logs = writeFile("logs.yaml", `logs:\n  - ${vkey}\n`);
    const w1 = await startCosigner("witness", path.join(work, "w1"), ["--logs", logs]);
    try {
      const cosigners = writeFile(
        "cosigners.yaml",
        [
          "witnesses:",
          `  - {url: "${w1.url}", key: "${w1Key}"}`,
          "quorum: 1",
          "failMode: open",
          `ca: ${writeFile("witness-ca.pem", w1.ca.toString())}`,
        ].join("\n") + "\n",
      );
      expect(await serve!.kill("SIGTERM")).toBe(0);
      serve = await startKubetrail([...kubeAuthFlags, "--cosigners", cosigners]);
      const s = serve;
      await waitFor("a checkpoint cosigned by w1", async () =>
        (await call(s, { path: "/log/checkpoint" })).body.includes("\u2014 w1.read-access.test/w "),
      );

      // The quorum met: the same answers as without a policy. Every kubectl call adds audit
      // events and so a newer checkpoint, which fail-open publishing may show before w1's
      // cosignature of it has arrived (a client with a policy must refuse that one): ask until
      // a checkpoint the witness has caught up with answers.
      const underQuorum = async (args: string[]): Promise<Awaited<ReturnType<typeof kubectl>>> => {
        let got = await kubectl("alice", args);
        await waitFor(`kubectl ${args.join(" ")} under a checkpoint w1 cosigned`, async () => {
          if (got.stderr === "") return true;
          expect(got.stderr).toMatch(/missing: w1\.read-access\.test\/w/);
          got = await kubectl("alice", args);
          return got.stderr === "";
        });
        return got;
      };
      const met = await underQuorum(["trail", "history", "deploy/web", "-n", "team-a", "--witness", w1Key]);
      expect(met.stderr).toBe("");
      expect(met.stdout).toMatch(/kube-harness-admin\s+create/);
      const one = await underQuorum([
        "trail",
        "query",
        "-A",
        "--limit",
        "5",
        "--witness",
        w1Key,
        "--witness",
        w2Key,
        "--min-witnesses",
        "1",
      ]);
      expect(one.stderr).toBe("");
      expect(one.code).toBe(0);

      // Short of it: one line naming the missing witness, nothing printed as if proven.
      for (const args of [
        ["history", "deploy/web", "-n", "team-a"],
        ["query", "-A"],
        ["proof", "cm/settings", "-n", "team-b"],
      ]) {
        const short = await kubectl("alice", ["trail", ...args, "--witness", w1Key, "--witness", w2Key]);
        expect(short.code, `${args[0]}: ${short.stdout}`).toBe(1);
        expect(short.stdout).toBe("");
        expect(short.stderr).toMatch(/^kubectl trail: .*missing: .*w2\.read-access\.test\/w.*\n$/);
      }
      const verify = await kubectl("alice", ["trail", "verify", "--witness", w1Key, "--witness", w2Key]);
      expect(verify.code).toBe(1);
      expect(verify.stdout).toMatch(/^FAILED: /);
      expect(verify.stdout).toMatch(/missing: .*w2\.read-access\.test\/w/);
      await waitFor("verify passing with w1's cosignature", async () =>
        /^OK: /.test((await kubectl("alice", ["trail", "verify", "--witness", w1Key])).stdout),
      );

      // A policy that cannot be met is a usage error before anything is read.
      const bad = await kubectl("alice", [
        "trail",
        "query",
        "-A",
        "--witness",
        w1Key,
        "--min-witnesses",
        "2",
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/min-witnesses/);
    } finally {
      await w1.kill("SIGKILL");
    }
  });
});
