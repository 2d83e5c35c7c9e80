// The StatefulSet in deploy/kubetrail.yaml, run for real: serve started with exactly the
// container's arguments (its mounted paths mapped to temporary files) serves the webhook to the
// apiserver's client certificate and /metrics only to the scrape token.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { createCa, issueCert } from "../src/server/certs.js";
import { request } from "./fixtures/audit/request.js";
import { removeDir, requireBuiltCli, tempDir } from "./faults/serve-process.js";
import { CLI } from "./fixtures/cli.js";

interface Container {
  args: string[];
  volumeMounts: { name: string; mountPath: string }[];
}

function statefulSetContainer(): Container {
  const docs = parseAllDocuments(readFileSync("deploy/kubetrail.yaml", "utf8")).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
  const sts = docs.find((d) => d["kind"] === "StatefulSet") as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return sts.spec.template.spec.containers[0]!;
}

let proc: ChildProcess | undefined;
let dir: string | undefined;

afterAll(() => {
  proc?.kill("SIGKILL");
  if (dir) removeDir(dir);
});

describe("deploy/kubetrail.yaml", () => {
  it("runs serve with /metrics behind the scrape token and the webhook behind mutual TLS", async () => {
    requireBuiltCli();
    const root = (dir = tempDir("deploy"));
    const container = statefulSetContainer();
    // Each mount becomes a directory under root, holding what its Secret would.
    const mapped = (p: string) => path.join(root, p);
    for (const m of container.volumeMounts) mkdirSync(mapped(m.mountPath), { recursive: true });
    const ca = await createCa("apiserver-config CA");
    const serving = await issueCert(ca, {
      commonName: "kubetrail",
      hosts: ["127.0.0.1", "localhost"],
      usage: "server",
    });
    const apiserver = await issueCert(ca, { commonName: "kube-apiserver", usage: "client" });
    writeFileSync(mapped("/etc/kubetrail/tls/kubetrail.crt"), serving.certPem);
    writeFileSync(mapped("/etc/kubetrail/tls/kubetrail.key"), serving.keyPem);
    writeFileSync(mapped("/etc/kubetrail/tls/ca.crt"), ca.certPem);
    // What the kubelet mounts for the pod's service account (read for --kube-auth).
    const sa = mapped("/var/run/secrets/kubernetes.io/serviceaccount");
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, "ca.crt"), (await createCa("cluster CA")).certPem);
    writeFileSync(path.join(sa, "token"), "service-account-token-for-the-deploy-test\n");
    writeFileSync(path.join(sa, "namespace"), "kubetrail");
    // Outside a pod there is no in-cluster apiserver: --kube-auth gets a kubeconfig naming one
    // that is never asked here (test/kube/read-access.test.ts runs these args against a real one).
    const kubeconfig = path.join(root, "kubeconfig.yaml");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]",
        "users: [{name: u, user: {token: placeholder-token-for-the-deploy-test}}]",
        "contexts: [{name: c, context: {cluster: c, user: u}}]",
        "current-context: c",
        "",
      ].join("\n"),
    );
    const scrapeToken = "deploy-test-metrics-token-0123456789";
    writeFileSync(mapped("/etc/kubetrail/metrics/token"), `${scrapeToken}\n`);

    const args = container.args.flatMap((a) => {
      if (a.startsWith("--listen=")) return "--listen=127.0.0.1:0";
      if (a === "--kube-auth") return [a, `--kubeconfig=${kubeconfig}`];
      const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
      return m ? `${m[1]}${mapped(m[2]!)}` : a;
    });
    expect(args).toContain("--metrics-auth=required");
    proc = spawn(process.execPath, [CLI, ...args, "--no-detect"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      let address: number | undefined;
      proc!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        address ??= Number(/"address":"127\.0\.0\.1:(\d+)"/.exec(out)?.[1]) || undefined;
        if (address !== undefined && out.includes('"msg":"ready"')) resolve(address);
      });
      proc!.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      proc!.on("exit", (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
    });

    const get = (p: string, headers: Record<string, string> = {}, cert?: typeof apiserver) =>
      request(port, { path: p, ca: ca.certPem, headers, cert: cert?.certPem, key: cert?.keyPem });
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", { Authorization: "Bearer not-the-token-at-all" })).status).toBe(403);
    const scraped = await get("/metrics", { Authorization: `Bearer ${scrapeToken}` });
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain("kubetrail_events_stored_total");
    // The apiserver's certificate posts events but reads neither metrics nor entries.
    expect((await get("/metrics", {}, apiserver)).status).toBe(403);
    const posted = await request(port, {
      method: "POST",
      path: "/v1/audit/webhook",
      body: JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: [] }),
      headers: { "Content-Type": "application/json" },
      ca: ca.certPem,
      cert: apiserver.certPem,
      key: apiserver.keyPem,
    });
    expect(posted.status).toBe(200);
    expect((await get("/log/tile/entries/000.p/1", {}, apiserver)).status).toBe(403);
  });
});
