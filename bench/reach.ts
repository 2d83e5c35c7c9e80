// Reaching kubetrail from where people work: `kubectl trail history deploy/x` end to end (a
// fresh kubectl and Node process each time, discovery through the apiserver, the kubectl user's
// token checked by TokenReview, RBAC by SubjectAccessReview, every entry's proof verified)
// beside the same question with --data and with --server; the read API's latency with
// Kubernetes identities (cached decisions) beside kubetrail's own read token; and the memory of
// `--limit all` listings beside short ones.
//
//   node build/bench/reach.js [--quick] [--events=N] [--runs=N] [--api-runs=N] [--data-dir=DIR] [--listings=no]
//
// --data-dir keeps the generated log in DIR and reuses it next time (bench/lib/event-log.ts;
// the ui bench reads the same log).
//
// Needs the kube-apiserver of scripts/kube-apiserver.sh (npm test builds it once per machine).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { createInterface } from "node:readline";
import YAML from "yaml";
import { startCluster, freePort, type Cluster } from "../test/kube/cluster.js";
import { serviceAccountToken, tokenKubeconfig } from "../test/kube/service-account.js";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  percentile,
  printNote,
  runIfMain,
  runMeasured,
  tempDir,
  removeTemp,
} from "./harness.js";
import { benchEventLog } from "./lib/event-log.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { repoRoot } from "./lib/paths.js";

const ALICE = "reach-bench-alice-token-0123456789";

interface Serve {
  child: ChildProcess;
  stop(): Promise<void>;
}

function startServe(cli: string, args: string[]): Promise<Serve> {
  const child = spawn(process.execPath, [cli, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"msg":"ready"'))
        resolve({
          child,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
    });
    void exited.then(() => reject(new Error(`serve exited before ready: ${err}`)));
    setTimeout(() => reject(new Error(`serve not ready within 10 minutes: ${err}`)), 600_000).unref();
  });
}

/** Median wall time in ms of `runs` runs of a command (after one warm-up run). */
async function medianRun(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  runs: number,
): Promise<{ p50: number; p95: number; rows: number }> {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const r = await new Promise<{ code: number; out: string; err: string }>((resolve, reject) => {
      const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? -1, out, err }));
    });
    const elapsed = performance.now() - t;
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.code}: ${r.err}`);
    rows = r.out.split("\n").filter((l) => /^\d{4}-/.test(l)).length;
    if (i > 0) ms.push(elapsed);
  }
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), rows };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const count = intOption(args, "events", args.quick ? 100_000 : 2_000_000);
  const runs = intOption(args, "runs", args.quick ? 7 : 21);
  const apiRuns = intOption(args, "api-runs", args.quick ? 150 : 600);
  const dir = tempDir("reach");
  const dataDir = args.options["data-dir"] ?? path.join(dir, "data");
  const cli = kubetrailCli();
  let cluster: Cluster | undefined;
  let serve: Serve | undefined;
  try {
    const deployment = (await benchEventLog(dataDir, count)).typicalDeployment;
    log(`reach: history of deployment ${deployment.namespace}/${deployment.name}`);
    cluster = await startCluster({ tokens: [{ token: ALICE, user: "alice", groups: ["security"] }] });
    // deploy/kubetrail.yaml's RBAC and discovery objects, as shipped.
    const docs = YAML.parseAllDocuments(readFileSync(path.join(repoRoot, "deploy", "kubetrail.yaml"), "utf8"))
      .map((d) => d.toJSON() as { kind: string; spec?: { clusterIP?: string } })
      .filter((o) => o.kind !== "StatefulSet")
      .map((o) =>
        o.kind === "Service" && o.spec ? { ...o, spec: { ...o.spec, clusterIP: "10.0.0.50" } } : o,
      );
    await cluster.apply(docs.map((o) => YAML.stringify(o)).join("---\n"));
    const ktKubeconfig = tokenKubeconfig(
      cluster,
      await serviceAccountToken(cluster, "kubetrail", "kubetrail"),
      path.join(dir, "kubetrail.kubeconfig"),
    );
    const port = await freePort();
    serve = await startServe(cli, [
      "--data",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--no-detect",
      "--kube-auth",
      "--kubeconfig",
      ktKubeconfig,
      "--kube-client-ca",
      path.join(cluster.dir, "pki", "ca.crt"),
    ]);
    const server = `https://127.0.0.1:${port}`;
    const caFile = path.join(dataDir, "tls", "ca.crt");
    const ca = readFileSync(caFile, "utf8");
    const vkey = readFileSync(path.join(dataDir, "keys", "verifier.key"), "utf8").trim();
    const readToken = readFileSync(path.join(dataDir, "read-token"), "utf8").trim();
    // serve loads the web UI's in-memory stats in the background after it is ready, on the same
    // thread that answers: time the steady state, after that load (a long-running server's).
    log("reach: waiting for serve's UI stats to load");
    for (const deadline = Date.now() + 600_000; ;) {
      const status = await new Promise<number>((resolve, reject) =>
        https
          .get(
            `${server}/v1/stats?since=1h`,
            { ca, headers: { Authorization: `Bearer ${readToken}` } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on("error", reject),
      );
      if (status === 200) break;
      if (status !== 503 || Date.now() > deadline) throw new Error(`/v1/stats answered ${status}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await cluster.apply(
      YAML.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "kubetrail-client", namespace: "kubetrail" },
        data: { server, "ca.crt": ca, "verifier-key": vkey },
      }),
    );
    await cluster.grant({ user: "alice" }, "kubetrail-reader");
    const created = await cluster.kubectl(["create", "namespace", deployment.namespace]);
    if (created.code !== 0) throw new Error(`kubectl create namespace: ${created.stderr}`);
    await cluster.grant({ user: "bob" }, "kubetrail-namespace-reader", deployment.namespace);
    const aliceKubeconfig = cluster.kubeconfigForToken(ALICE, "alice");
    const bobKubeconfig = await cluster.kubeconfigForUser("bob");
    const bobUser = (
      YAML.parse(readFileSync(bobKubeconfig, "utf8")) as { users: { user: Record<string, string> }[] }
    ).users[0]!.user;
    const bobCert = {
      cert: Buffer.from(bobUser["client-certificate-data"]!, "base64"),
      key: Buffer.from(bobUser["client-key-data"]!, "base64"),
    };

    // kubectl finds plugins on PATH: the plugin as the package installs it (npm run build bundles it).
    const plugin = path.join(repoRoot, "dist", "cli", "kubectl-trail.js");
    if (!readFileSync(plugin, "utf8").includes("__kubetrailRequire"))
      throw new Error(`${plugin} is not the bundled plugin: run npm run build first`);
    const pluginBin = path.join(dir, "bin");
    const wrapper = path.join(pluginBin, "kubectl-trail");
    await import("node:fs/promises").then((fs) => fs.mkdir(pluginBin));
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${plugin}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: [pluginBin, path.dirname(cluster.bin.kubectl), process.env["PATH"] ?? ""].join(path.delimiter),
      KUBECONFIG: aliceKubeconfig,
      XDG_STATE_HOME: path.join(dir, "state"),
      XDG_CACHE_HOME: path.join(dir, "cache"),
      KUBETRAIL_CONFIG: path.join(dir, "client.yaml"),
    };
    const object = `deploy/${deployment.name}`;
    const tokenFile = path.join(dir, "alice.token");
    writeFileSync(tokenFile, ALICE);
    log("reach: timing history end to end");
    const rows: [string, { p50: number; p95: number; rows: number }][] = [
      [
        "`kubectl trail history` (kubectl → plugin, discovery, TokenReview/SAR cached, proofs checked)",
        await medianRun(
          cluster.bin.kubectl,
          ["trail", "history", object, "-n", deployment.namespace],
          env,
          runs,
        ),
      ],
      [
        "the same, discovery not cached (KUBETRAIL_DISCOVERY_TTL=0: the ConfigMap read each run)",
        await medianRun(
          cluster.bin.kubectl,
          ["trail", "history", object, "-n", deployment.namespace],
          { ...env, KUBETRAIL_DISCOVERY_TTL: "0" },
          runs,
        ),
      ],
      [
        "`kubectl-trail history` (the plugin alone, same work)",
        await medianRun(wrapper, ["history", object, "-n", deployment.namespace], env, runs),
      ],
      [
        "`kubetrail history --server` (Kubernetes token, no discovery, proofs checked)",
        await medianRun(
          process.execPath,
          [
            cli,
            "history",
            object,
            "-n",
            deployment.namespace,
            "--server",
            server,
            "--ca",
            caFile,
            "--token-file",
            tokenFile,
            "--key",
            vkey,
          ],
          env,
          runs,
        ),
      ],
      [
        "`kubetrail history --data` (local data directory)",
        await medianRun(
          process.execPath,
          [cli, "history", object, "-n", deployment.namespace, "--data", dataDir],
          env,
          runs,
        ),
      ],
      ["`node -e ''` (Node start-up alone)", await medianRun(process.execPath, ["-e", ""], env, runs)],
      [
        "`kubectl version --client` (kubectl start-up alone)",
        await medianRun(cluster.bin.kubectl, ["version", "--client"], env, runs),
      ],
    ];
    process.stdout.write(
      `\n#### \`kubectl trail history ${object} -n ${deployment.namespace}\` on a ${count.toLocaleString("en-US")}-event log (median of ${runs} fresh processes)\n\n` +
        markdownTable(
          ["command", "changes", "p50 ms", "p95 ms"],
          rows.map(([name, r]) => [name, String(r.rows), r.p50.toFixed(0), r.p95.toFixed(0)]),
        ) +
        "\n",
    );

    printNote(
      "End to end: a fresh process per run (kubectl, the plugin's Node process, TLS to kubetrail; where kubetrail " +
        "is comes from the discovery cache, checked with one request, or from the kubetrail-client ConfigMap when the " +
        "cache is off), warm caches (one warm-up run). The kubectl user is a static-token " +
        "user bound to kubetrail-reader; kubetrail's TokenReview and SubjectAccessReview answers are cached (60 s), so " +
        "after the warm-up they cost a map lookup. --server and the plugin verify every entry's inclusion proof and " +
        "the checkpoint's consistency with the one seen before. Memory: the CLI's peak RSS while streaming the listing " +
        "to a pipe; stdout is drained by this process.",
    );
    log("reach: timing the read API per identity");
    const agents = {
      "kubetrail read token": { agent: new https.Agent({ keepAlive: true, ca }), token: readToken },
      "Kubernetes token (TokenReview + SAR, cached)": {
        agent: new https.Agent({ keepAlive: true, ca }),
        token: ALICE,
      },
      "x509 namespace reader (SAR per namespace, cached)": {
        agent: new https.Agent({ keepAlive: true, ca, ...bobCert }),
        token: undefined,
      },
    };
    const q = `/v1/events?namespace=${deployment.namespace}&resource=deployments.apps/*&name=${deployment.name}&asc=true&limit=100`;
    const get = (a: { agent: https.Agent; token: string | undefined }) =>
      new Promise<number>((resolve, reject) => {
        const t = performance.now();
        const req = https.get(
          `${server}${q}`,
          { agent: a.agent, headers: a.token ? { Authorization: `Bearer ${a.token}` } : {} },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200
                ? resolve(performance.now() - t)
                : reject(new Error(`HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
      });
    const samples = new Map<string, number[]>(Object.keys(agents).map((k) => [k, []]));
    const entries = Object.entries(agents);
    for (const [, a] of entries) for (let i = 0; i < 20; i++) await get(a); // connections, caches, JIT
    for (let i = 0; i < apiRuns; i++) {
      // Interleaved, in a rotating order, so load on the machine falls on all three alike.
      for (let j = 0; j < entries.length; j++) {
        const [name, a] = entries[(i + j) % entries.length]!;
        samples.get(name)!.push(await get(a));
      }
    }
    const base = percentile(samples.get("kubetrail read token")!, 50);
    process.stdout.write(
      `\n#### GET /v1/events (an object's changes) by identity, ${apiRuns} interleaved requests each, keep-alive\n\n` +
        markdownTable(
          ["identity", "p50 ms", "p90 ms", "p50 vs read token"],
          [...samples].map(([name, ms]) => [
            name,
            percentile(ms, 50).toFixed(2),
            percentile(ms, 90).toFixed(2),
            `${((percentile(ms, 50) / base - 1) * 100).toFixed(1)} %`,
          ]),
        ) +
        "\n",
    );
    for (const a of Object.values(agents)) a.agent.destroy();

    if (args.options["listings"] === "no") return;
    log("reach: memory of long listings");
    const small = args.quick ? 5_000 : 20_000;
    const large = args.quick ? 40_000 : 400_000;
    const mem: string[][] = [];
    for (const [label, flags] of [
      ["--data", ["--data", dataDir]],
      ["--server", ["--server", server, "--ca", caFile, "--token-file", tokenFile, "--key", vkey]],
    ] as const) {
      for (const n of [small, large]) {
        const r = await runMeasured(
          process.execPath,
          [cli, "query", ...flags, "--limit", String(n), "-o", "jsonl"],
          {},
        );
        if (r.code !== 0) throw new Error(`query ${label}: ${r.stderr}`);
        const lines = r.stdout.length === 0 ? 0 : r.stdout.split("\n").length - 1;
        mem.push([
          `\`query ${label} --limit ${n} -o jsonl\``,
          String(lines),
          r.wallS.toFixed(1),
          r.peakRssMB.toFixed(0),
        ]);
      }
    }
    process.stdout.write(
      `\n#### Peak memory of listings (one page of 1000 held at a time)\n\n` +
        markdownTable(["command", "events", "wall s", "peak RSS MB"], mem) +
        "\n",
    );
  } finally {
    await serve?.stop();
    await cluster?.stop();
    removeTemp(dir);
  }
}

runIfMain(import.meta.url, main);
