// A real control plane for tests: etcd and kube-apiserver v1.20.2 (scripts/kube-apiserver.sh)
// on free loopback ports, with x509 and static-token users, RBAC, service accounts and,
// optionally, the audit log and webhook backends and admission webhook configuration.
// There is no controller-manager, scheduler or kubelet (see test/kube/README.md).
//
// One cluster per test file: start it in beforeAll, stop it in afterAll. `stop` also runs
// when a test failed, and the processes end with the test process however it ends.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { createCa, issueCert, type IssuedPem, type Issuer } from "../../src/server/certs.js";
import { request, type Reply } from "../fixtures/audit/request.js";
import { kubeBinaries, type KubeBinaries } from "./binaries.js";
import { type Guarded, spawnGuarded } from "./process.js";

export type WebhookMode = "batch" | "blocking";

export interface AuditOptions {
  /** The audit Policy, as YAML text; omit when `apiserverArgs` name a policy file. */
  policy?: string;
  /** Also write every event to DIR/audit.log (JSON lines), the ground truth tests compare with. */
  log?: boolean;
  /** Send events to the webhook this kubeconfig file names. */
  webhook?: { kubeconfigFile: string; mode: WebhookMode; flags?: string[] };
}

export interface ClusterOptions {
  audit?: AuditOptions;
  /**
   * A kubeconfig file the apiserver uses to authenticate to admission webhooks (keyed by the
   * webhook's host:port, as in Kubernetes' WebhookAdmission configuration).
   */
  admissionKubeconfigFile?: string;
  /** More static-token users besides the built-in admin. */
  tokens?: { token: string; user: string; groups?: string[] }[];
  /** More kube-apiserver flags, e.g. kubetrail apiserver-config's printed ones. */
  apiserverArgs?: string[];
  /** Keep the directory after stop (for debugging); also KUBE_HARNESS_KEEP=1. */
  keepDir?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Kubeconfig of the user to act as; default: the admin (system:masters). */
  kubeconfig?: string;
  input?: string;
  timeoutMs?: number;
}

/** The built-in administrator: a static token in group system:masters. */
export const ADMIN_USER = "kube-harness-admin";

export interface Cluster {
  dir: string;
  /** https://127.0.0.1:PORT */
  url: string;
  caPem: string;
  adminToken: string;
  /** Kubeconfig of the admin. */
  adminKubeconfig: string;
  /** DIR/audit.log when the audit log backend is on. */
  auditLogPath?: string;
  bin: KubeBinaries;
  apiserver: Guarded;
  etcd: Guarded;
  /** A kubeconfig for a static-token user (the token must be in `tokens`, or be the admin's). */
  kubeconfigForToken(token: string, name?: string): string;
  /** A kubeconfig with a client certificate: CN = user, O = each group. */
  kubeconfigForUser(user: string, groups?: string[]): Promise<string>;
  kubectl(args: string[], opts?: KubectlOptions): Promise<RunResult>;
  /** `kubectl apply -f -` as the admin (e.g. Roles and RoleBindings); throws on failure. */
  apply(yaml: string): Promise<void>;
  /**
   * Binds `clusterRole` to a user (or group) cluster-wide, or in `namespace`. The aggregated
   * roles (admin, edit, view) are empty here: their aggregation is the controller-manager's.
   */
  grant(
    subject: { user: string } | { group: string },
    clusterRole: string,
    namespace?: string,
  ): Promise<void>;
  /** `kubectl auth can-i` as the kubeconfig's user (a SelfSubjectAccessReview). */
  can(kubeconfig: string, verb: string, resource: string, namespace?: string): Promise<boolean>;
  /** Waits until RBAC (its informer cache) lets the kubeconfig's user do it. */
  waitUntilAllowed(kubeconfig: string, verb: string, resource: string, namespace?: string): Promise<void>;
  /** A request to the apiserver as the admin (default timeout 30 s). */
  get(pathname: string, timeoutMs?: number): Promise<Reply>;
  /** Every event the audit log backend has written so far. */
  auditLog(): AuditLine[];
  /** Stops the apiserver only (its shutdown traffic is audited); `stop` still ends etcd. */
  stopApiserver(): Promise<number | string>;
  /** Stops everything and removes the directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface AuditLine {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string; groups?: string[] };
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number };
  [k: string]: unknown;
}

/** A loopback TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  proc: Guarded,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running())
      throw new Error(`${proc.name} exited (${await proc.exited}) before ${what}:\n${proc.tail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s:\n${proc.tail()}`);
    await sleep(200);
  }
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export function runProcess(
  command: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

function kubeconfig(url: string, caPem: string, user: Record<string, string>): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "harness", cluster: { server: url, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: "user", user }],
    contexts: [{ name: "harness", context: { cluster: "harness", user: "user" } }],
    "current-context": "harness",
  });
}

/** Quotes a field of the static token file (CSV). */
function csv(field: string): string {
  return /[",\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

async function startEtcd(bin: KubeBinaries, dir: string): Promise<{ etcd: Guarded; url: string }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  // etcd's data lives in memory when possible: the bootstrap's many small writes are fsynced
  // and the suite shares a disk. It is scratch data, dropped with the cluster.
  const shm = "/dev/shm";
  const dataDir = mkdtempSync(path.join(os.platform() === "linux" ? shm : dir, "kube-harness-etcd-"));
  const etcd = spawnGuarded(
    "etcd",
    bin.etcd,
    [
      "--name=harness",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=harness=${peerUrl}`,
      "--log-level=warn",
    ],
    { logFile: path.join(dir, "etcd.log") },
  );
  void etcd.exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  await waitFor(
    "etcd healthy",
    etcd,
    async () => {
      const r = await httpGet(`${url}/health`);
      return r.status === 200 && r.body.includes('"health":"true"');
    },
    30_000,
  );
  return { etcd, url };
}

function serviceAccountKeys(dir: string): { pub: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pub = path.join(dir, "sa.pub");
  const key = path.join(dir, "sa.key");
  writeFileSync(pub, publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(key, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return { pub, key };
}

function auditArgs(dir: string, audit: AuditOptions | undefined): { args: string[]; logPath?: string } {
  if (!audit) return { args: [] };
  const args: string[] = [];
  if (audit.policy !== undefined) {
    const policyFile = path.join(dir, "audit-policy.yaml");
    writeFileSync(policyFile, audit.policy);
    args.push(`--audit-policy-file=${policyFile}`);
  }
  let logPath: string | undefined;
  if (audit.log) {
    logPath = path.join(dir, "audit.log");
    args.push(
      `--audit-log-path=${logPath}`,
      "--audit-log-format=json",
      "--audit-log-version=audit.k8s.io/v1",
    );
  }
  if (audit.webhook) {
    args.push(
      `--audit-webhook-config-file=${audit.webhook.kubeconfigFile}`,
      `--audit-webhook-mode=${audit.webhook.mode}`,
      "--audit-webhook-version=audit.k8s.io/v1",
      ...(audit.webhook.flags ?? []),
    );
  }
  return { args, logPath };
}

function admissionArgs(dir: string, kubeconfigFile: string | undefined): string[] {
  if (!kubeconfigFile) return [];
  const file = path.join(dir, "admission-config.yaml");
  const webhook = (name: string) => ({
    name,
    configuration: {
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "WebhookAdmissionConfiguration",
      kubeConfigFile: kubeconfigFile,
    },
  });
  writeFileSync(
    file,
    stringify({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [webhook("ValidatingAdmissionWebhook"), webhook("MutatingAdmissionWebhook")],
    }),
  );
  return [`--admission-control-config-file=${file}`];
}

/** Starts etcd and kube-apiserver and waits until the apiserver is ready (/readyz). */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const bin = kubeBinaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), "kube-harness-"));
  const keep = opts.keepDir === true || process.env.KUBE_HARNESS_KEEP === "1";
  let etcd: Guarded | undefined;
  let apiserver: Guarded | undefined;
  const cleanUp = async () => {
    await apiserver?.stop();
    await etcd?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ca: Issuer & IssuedPem = await createCa("kube-harness CA");
    const serving = await issueCert(ca, {
      commonName: "kube-apiserver",
      hosts: ["127.0.0.1", "localhost"],
      usage: "server",
    });
    const pki = path.join(dir, "pki");
    mkdirSync(pki, { mode: 0o700 });
    const write = (name: string, text: string, mode = 0o600) => {
      const file = path.join(pki, name);
      writeFileSync(file, text, { mode });
      return file;
    };
    const caFile = write("ca.crt", ca.certPem, 0o644);
    const certFile = write("apiserver.crt", serving.certPem, 0o644);
    const keyFile = write("apiserver.key", serving.keyPem);
    const adminToken = randomBytes(24).toString("hex");
    const tokens = [
      { token: adminToken, user: ADMIN_USER, groups: ["system:masters"] },
      ...(opts.tokens ?? []),
    ];
    const tokenFile = write(
      "tokens.csv",
      tokens
        .map((t, i) => [t.token, t.user, `uid-${i}`, (t.groups ?? []).join(",")].map(csv).join(","))
        .join("\n") + "\n",
    );
    const sa = serviceAccountKeys(pki);

    const started = await startEtcd(bin, dir);
    etcd = started.etcd;
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const audit = auditArgs(dir, opts.audit);
    apiserver = spawnGuarded(
      "kube-apiserver",
      bin.apiserver,
      [
        `--etcd-servers=${started.url}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${port}`,
        "--insecure-port=0",
        `--cert-dir=${pki}`,
        `--tls-cert-file=${certFile}`,
        `--tls-private-key-file=${keyFile}`,
        `--client-ca-file=${caFile}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${sa.pub}`,
        `--service-account-signing-key-file=${sa.key}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        // With a loopback advertise address the endpoint reconciler fails every 10 s.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        ...audit.args,
        ...admissionArgs(dir, opts.admissionKubeconfigFile),
        ...(opts.apiserverArgs ?? []),
      ],
      { logFile: path.join(dir, "kube-apiserver.log") },
    );
    const readyz = async () =>
      (
        await request(port, {
          path: "/readyz",
          ca: ca.certPem,
          headers: { Authorization: `Bearer ${adminToken}` },
          timeoutMs: 5000,
        })
      ).status === 200;
    await waitFor("kube-apiserver ready (/readyz)", apiserver, readyz, 90_000);

    const adminKubeconfig = path.join(dir, "admin.kubeconfig");
    writeFileSync(adminKubeconfig, kubeconfig(url, ca.certPem, { token: adminToken }), { mode: 0o600 });
    let stopped = false;
    const api = apiserver;
    const cluster: Cluster = {
      dir,
      url,
      caPem: ca.certPem,
      adminToken,
      adminKubeconfig,
      auditLogPath: audit.logPath,
      bin,
      apiserver: api,
      etcd,
      kubeconfigForToken(token, name = "token") {
        const file = path.join(dir, `${name}-${randomBytes(4).toString("hex")}.kubeconfig`);
        writeFileSync(file, kubeconfig(url, ca.certPem, { token }), { mode: 0o600 });
        return file;
      },
      async kubeconfigForUser(user, groups = []) {
        const cert = await issueCert(ca, { commonName: user, organizations: groups, usage: "client" });
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        const file = path.join(
          dir,
          `${user.replace(/[^\w.-]/g, "_")}-${randomBytes(4).toString("hex")}.kubeconfig`,
        );
        writeFileSync(
          file,
          kubeconfig(url, ca.certPem, {
            "client-certificate-data": b64(cert.certPem),
            "client-key-data": b64(cert.keyPem),
          }),
          { mode: 0o600 },
        );
        return file;
      },
      kubectl(args, o = {}) {
        return runProcess(bin.kubectl, [`--kubeconfig=${o.kubeconfig ?? adminKubeconfig}`, ...args], {
          input: o.input,
          timeoutMs: o.timeoutMs,
        });
      },
      async apply(yaml) {
        const r = await cluster.kubectl(["apply", "-f", "-"], { input: yaml });
        if (r.code !== 0) throw new Error(`kubectl apply failed (${r.code}): ${r.stderr}`);
      },
      async grant(subject, clusterRole, namespace) {
        const kind = namespace === undefined ? "clusterrolebinding" : "rolebinding";
        const who = "user" in subject ? `--user=${subject.user}` : `--group=${subject.group}`;
        const name = `harness-${randomBytes(4).toString("hex")}`;
        const ns = namespace === undefined ? [] : [`--namespace=${namespace}`];
        const r = await cluster.kubectl(["create", kind, name, `--clusterrole=${clusterRole}`, who, ...ns]);
        if (r.code !== 0) throw new Error(`kubectl create ${kind} failed (${r.code}): ${r.stderr}`);
      },
      async can(kc, verb, resource, namespace) {
        const ns = namespace === undefined ? [] : [`--namespace=${namespace}`];
        const r = await cluster.kubectl(["auth", "can-i", verb, resource, ...ns], { kubeconfig: kc });
        if (r.stdout.trim() === "yes") return true;
        if (r.stdout.trim() === "no") return false;
        throw new Error(`kubectl auth can-i failed (${r.code}): ${r.stderr}`);
      },
      async waitUntilAllowed(kc, verb, resource, namespace) {
        const deadline = Date.now() + 10_000;
        while (!(await cluster.can(kc, verb, resource, namespace))) {
          if (Date.now() > deadline)
            throw new Error(`${kc}: still not allowed to ${verb} ${resource} after 10 s`);
          await sleep(100);
        }
      },
      get(pathname, timeoutMs = 30_000) {
        return request(port, {
          path: pathname,
          ca: ca.certPem,
          headers: { Authorization: `Bearer ${adminToken}` },
          timeoutMs,
        });
      },
      auditLog() {
        if (!audit.logPath)
          throw new Error("the audit log backend is off (startCluster({ audit: { log: true } }))");
        let text: string;
        try {
          text = readFileSync(audit.logPath, "utf8");
        } catch {
          return [];
        }
        // A line being written is incomplete: only whole lines count.
        const whole = text.slice(0, text.lastIndexOf("\n") + 1);
        return whole
          .split("\n")
          .filter((l) => l.length > 0)
          .map((l) => JSON.parse(l) as AuditLine);
      },
      stopApiserver() {
        return api.stop(30_000);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanUp();
      },
    };
    return cluster;
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
