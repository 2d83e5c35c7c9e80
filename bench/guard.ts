// Guardrails speed (issue 23):
//  1. the admission webhook paced at 1,000 AdmissionReviews/s over HTTPS with keep-alive, the
//     built-in library on: `kubetrail serve` as shipped, and the route on the same server core
//     with decisions durably logged (fs log, group commit, fdatasync) beside the same requests
//     answered without logging — the cost of logging;
//  2. `kubetrail guard check` over 10,000 manifests, beside parsing the same YAML alone;
//  3. `kubetrail guard replay` over stored events (2M full size), beside jq selecting the same
//     creates, updates and patches from the JSON lines;
//  4. (`alloc`, run only when named) what one review costs in garbage: bytes allocated per
//     review, scavenges and major GCs per 10,000 reviews and CPU per review, the reviews driven
//     in process through serve's per-review code (bench/lib/guard-alloc.ts) — figures that do
//     not depend on the machine's load, so two builds compare on a busy machine.
//
//   node build/bench/guard.js [--quick] [--rate=1000] [--seconds=N] [--manifests=N] [--events=N]
//                             [--sections=webhook,check,replay,alloc] [--profile=DIR]
//                             [--targets=serve,logged,plain,unlogged,bare] [--spacing=MS]
//                             [--connections=N] [--server-node-flags="FLAGS"]
//                             [--reviews=N] [--rounds=N] [--alloc-top=N] [--heap-profile=FILE]
//
// "plain" (not run by default) is the route appending decisions like a plain log writer:
// without their leaf hashes and without spacing commits, to show what that saves.
// --spacing=MS sets the log's least time between commit starts (GroupCommitLimits.minSpacingMs,
// src/store/group-commit.ts) in the "decisions logged" row.
//
// The load comes from its own process (bench/lib/admission-load.ts) over --connections kept-alive
// TLS connections (default 64), all opened and warmed before the clock starts.
//
// --profile=DIR runs each webhook server under `node --cpu-prof` and leaves its .cpuprofile
// in DIR (open it in Chrome DevTools or speedscope).
//
// alloc: --reviews=N per measured pass (default 10,000), --rounds=N fresh processes (default 3,
// medians reported), --alloc-top=N allocating functions listed (default 12), and
// --heap-profile=FILE leaves the first round's sampling heap profile (for Chrome DevTools).
// --server-node-flags apply to its processes too (e.g. --no-turbo-inlining, so the profile
// names the inlined functions that allocate instead of their callers).
import { spawn, type ChildProcess } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { stringify } from "yaml";
import { catchUp, openIndexForLog } from "../src/index/indexer.js";
import { fsStorage, openFsLog } from "../src/store/fs/storage.js";
import { openSnapshot } from "../src/store/storage.js";
import { formatMicroTime, generateEvents, toLogLine } from "./gen/events.js";
import { makeRng, type Rng } from "./gen/rng.js";
import {
  fromChild,
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  percentile,
  printNote,
  printTable,
  removeTemp,
  runIfMain,
  runMeasured,
  tempDir,
  treeCpuSeconds,
} from "./harness.js";
import type { AdmissionLoadConfig, AdmissionLoadResult } from "./lib/admission-load.js";
import type { GuardAllocConfig, GuardAllocResult } from "./lib/guard-alloc.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { benchDir, benchFixture, repoRoot } from "./lib/paths.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

/** One object of the mix the webhook sees most: pods, deployments, configmaps, role bindings. */
function manifest(rng: Rng, i: number): Record<string, unknown> {
  const ns = `team-${rng.int(20)}`;
  const name = `app-${i}-${rng.alnum(5)}`;
  const image = rng.chance(0.2) ? "nginx:latest" : `registry.example.com/app:1.${rng.int(40)}@${DIGEST}`;
  const container = (n: string) => ({
    name: n,
    image,
    ports: [{ containerPort: 8080 }],
    env: [
      { name: "LOG_LEVEL", value: "info" },
      {
        name: rng.chance(0.05) ? "API_TOKEN" : "REGION",
        value: rng.chance(0.05) ? `AKIA${rng.alnum(16).toUpperCase()}` : "eu-west-1",
      },
    ],
    resources: { requests: { cpu: "100m", memory: "128Mi" } },
    securityContext: rng.chance(0.1)
      ? { privileged: true }
      : { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
  });
  const podSpec = {
    containers: [container("main"), container("sidecar")],
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
  };
  const metadata = {
    name,
    namespace: ns,
    labels: { app: name.split("-")[0]!, ...(rng.chance(0.5) ? { team: "a" } : {}) },
  };
  const pick = rng.next();
  if (pick < 0.55) return { apiVersion: "v1", kind: "Pod", metadata, spec: podSpec };
  if (pick < 0.8)
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata,
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: podSpec },
      },
    };
  if (pick < 0.93)
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata,
      data: {
        "app.yaml": `listen: 8080\nlevel: info\n${rng.chance(0.05) ? `password: ${rng.alnum(14)}\n` : ""}`,
      },
    };
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata,
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: rng.chance(0.1) ? "cluster-admin" : "view",
    },
    subjects: [{ kind: "User", name: `user-${rng.int(50)}` }],
  };
}

const RESOURCE: Record<string, [string, string]> = {
  Pod: ["", "pods"],
  Deployment: ["apps", "deployments"],
  ConfigMap: ["", "configmaps"],
  RoleBinding: ["rbac.authorization.k8s.io", "rolebindings"],
};

/** AdmissionReview bodies with a UID placeholder, so each request carries its own uid cheaply. */
function reviewTemplates(count: number): string[] {
  const rng = makeRng(23);
  return Array.from({ length: count }, (_, i) => {
    const object = manifest(rng, i);
    const kind = object["kind"] as string;
    const [group, resource] = RESOURCE[kind]!;
    const meta = object["metadata"] as { name: string; namespace: string };
    return JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: "@UID@",
        kind: { group, version: "v1", kind },
        resource: { group, version: "v1", resource },
        name: meta.name,
        namespace: meta.namespace,
        operation: "CREATE",
        userInfo: { username: `user-${rng.int(50)}`, groups: ["system:authenticated", "devs"] },
        object,
        dryRun: false,
      },
    });
  });
}

interface Target {
  port: number;
  token: string;
  ca: string;
  proc: ChildProcess;
  /** A bench server (lib/guard-server.ts): counts its own stalls from SIGUSR2 on. */
  countsStalls?: boolean;
}

/** What a bench server saw of its own stalls during the measured run. */
interface Stalls {
  loopDelayMaxMs: number;
  gc: { count: number; totalMs: number; maxMs: number; majorCount: number; majorMs: number };
}

interface LoadResult extends AdmissionLoadResult {
  serverCpuS: number;
}

/** Runs the open-loop load (bench/lib/admission-load.ts) in its own process against `t`. */
async function pacedLoad(
  t: Target,
  dir: string,
  bodies: string[],
  rate: number,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  const config: AdmissionLoadConfig = {
    port: t.port,
    ca: t.ca,
    token: t.token,
    path: "/v1/admission/validate",
    bodies,
    rate,
    warmupSeconds: Math.min(3, seconds), // JIT, page cache, the log's first bundles
    seconds,
    connections,
  };
  const file = path.join(dir, "admission-load.json");
  writeFileSync(file, JSON.stringify(config));
  const gen = spawn(process.execPath, [path.join(benchDir, "lib", "admission-load.js"), file], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let cpu0 = 0;
  const exited = new Promise<number | null>((r) => gen.once("exit", r));
  const result = (await readLine(gen, (l) => {
    if (l === "measuring") {
      cpu0 = treeCpuSeconds(t.proc.pid!);
      if (t.countsStalls) t.proc.kill("SIGUSR2");
    }
    return l.startsWith("{") ? (JSON.parse(l) as AdmissionLoadResult) : undefined;
  })) as AdmissionLoadResult;
  const serverCpuS = treeCpuSeconds(t.proc.pid!) - cpu0;
  if ((await exited) !== 0) throw new Error("the load generator failed");
  return { ...result, serverCpuS };
}

function readLine(proc: ChildProcess, match: (line: string) => unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on("line", (l) => {
      const got = match(l);
      if (got !== undefined) resolve(got);
    });
    proc.once("exit", (code) => reject(new Error(`process exited with ${code} before its line`)));
  });
}

/**
 * Node flags for the webhook servers: --server-node-flags (space-separated, e.g. GC settings to
 * compare), and a CPU profile each when --profile=DIR is given.
 */
function serverFlags(extra: readonly string[], profileDir: string | undefined, name: string): string[] {
  return profileDir === undefined
    ? [...extra]
    : [
        ...extra,
        "--cpu-prof",
        `--cpu-prof-dir=${path.resolve(profileDir)}`,
        `--cpu-prof-name=${name}.cpuprofile`,
      ];
}

async function startServeTarget(dir: string, policyDir: string, nodeFlags: string[]): Promise<Target> {
  const data = path.join(dir, "serve-data");
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      kubetrailCli(),
      "serve",
      "--data",
      data,
      "--listen",
      "127.0.0.1:0",
      "--guard-policies",
      policyDir,
      "--no-detect",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let address = "";
  await readLine(proc, (l) => {
    const rec = JSON.parse(l) as { msg?: string; address?: string };
    if (rec.msg === "listening") address = rec.address ?? "";
    return rec.msg === "admission webhook ready on /v1/admission/validate" ? true : undefined;
  });
  return {
    port: Number(address.split(":").pop()),
    token: readFileSync(path.join(data, "ingest-token"), "utf8").trim(),
    ca: readFileSync(path.join(data, "tls", "ca.crt"), "utf8"),
    proc,
  };
}

async function startBenchServer(
  dir: string,
  policyDir: string,
  mode: "fs" | "fs-plain" | "none" | "bare",
  nodeFlags: string[],
  extra: string[] = [],
): Promise<Target> {
  const script = path.join(benchDir, "lib", "guard-server.js");
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      script,
      `--log=${mode}`,
      `--data=${path.join(dir, `bench-${mode}`)}`,
      `--policies=${policyDir}`,
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const ready = (await readLine(proc, (l) =>
    l.startsWith("{") ? (JSON.parse(l) as { port: number; token: string; ca: string }) : undefined,
  )) as { port: number; token: string; ca: string };
  return { ...ready, proc, countsStalls: true };
}

/** Stops the server; a bench server's stall counts, printed as it stops. */
async function stop(t: Target): Promise<Stalls | undefined> {
  let stalls: Stalls | undefined;
  const lines = createInterface({ input: t.proc.stdout! });
  lines.on("line", (l) => {
    if (l.startsWith('{"stalls"')) stalls = (JSON.parse(l) as { stalls: Stalls }).stalls;
  });
  const exited = new Promise((r) => t.proc.once("exit", r));
  t.proc.kill("SIGTERM");
  await exited;
  return stalls;
}

async function webhookSection(
  dir: string,
  policyDir: string,
  rate: number,
  seconds: number,
  profileDir: string | undefined,
  only: readonly string[],
  spacing: string | undefined,
  connections: number,
  nodeFlags: readonly string[],
): Promise<void> {
  const bodies = reviewTemplates(4000);
  const rows: string[][] = [];
  const results: Record<string, LoadResult> = {};
  const all: [string, () => Promise<Target>][] = [
    [
      "kubetrail serve (decisions logged; indexer on)",
      () => startServeTarget(dir, policyDir, serverFlags(nodeFlags, profileDir, "serve")),
    ],
    [
      "admission route, decisions logged (fs log, group commit, fdatasync)",
      () =>
        startBenchServer(
          dir,
          policyDir,
          "fs",
          serverFlags(nodeFlags, profileDir, "route-logged"),
          spacing === undefined ? [] : [`--spacing=${spacing}`],
        ),
    ],
    [
      "admission route, decisions logged, leaf hashes left to the log, no commit spacing",
      () => startBenchServer(dir, policyDir, "fs-plain", serverFlags(nodeFlags, profileDir, "route-plain")),
    ],
    [
      "admission route, answered without logging",
      () => startBenchServer(dir, policyDir, "none", serverFlags(nodeFlags, profileDir, "route-unlogged")),
    ],
    [
      "same server answering a fixed allow: no policy, no log (the floor)",
      () => startBenchServer(dir, policyDir, "bare", serverFlags(nodeFlags, profileDir, "route-bare")),
    ],
  ];
  const targets = all.filter((_, i) => only.includes(["serve", "logged", "plain", "unlogged", "bare"][i]!));
  for (const [name, start] of targets) {
    log(`guard: webhook ${name}`);
    const t = await start();
    let r: LoadResult;
    let stalls: Stalls | undefined;
    try {
      r = await pacedLoad(t, dir, bodies, rate, seconds, connections);
    } finally {
      stalls = await stop(t);
    }
    results[name] = r;
    {
      const ms = (p: number) => percentile(r.latenciesMs, p).toFixed(2);
      rows.push([
        name,
        r.sent.toLocaleString("en-US"),
        Math.round(r.achievedRate).toLocaleString("en-US"),
        ms(50),
        ms(99),
        ms(99.9),
        Math.max(...r.latenciesMs).toFixed(1),
        String(r.errors),
        ((r.serverCpuS / r.sent) * 1e6).toFixed(0),
        stalls === undefined
          ? "–"
          : `${stalls.loopDelayMaxMs.toFixed(1)} / ${stalls.gc.maxMs.toFixed(1)} (${stalls.gc.count}, ${stalls.gc.totalMs.toFixed(0)} ms; major ${stalls.gc.majorCount}, ${stalls.gc.majorMs.toFixed(0)} ms)`,
        `${r.generatorCpuUsPerRequest.toFixed(0)} µs, ${r.generatorMaxDelayMs.toFixed(1)} ms`,
        Object.entries(r.decisions)
          .sort()
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
      ]);
    }
  }
  process.stdout.write(
    `\n#### Admission webhook paced at ${rate.toLocaleString("en-US")} reviews/s for ${seconds} s (HTTPS, keep-alive, built-in library on)\n\n` +
      markdownTable(
        [
          "system",
          "reviews",
          "achieved/s",
          "p50 ms",
          "p99 ms",
          "p99.9 ms",
          "max ms",
          "errors",
          "server CPU µs/review",
          "server max loop delay / GC pause ms (GCs, total; major)",
          "generator CPU/req, max loop delay",
          "results",
        ],
        rows,
      ) +
      "\n",
  );
  const logged = results[all[1]![0]];
  const unlogged = results[all[3]![0]];
  const floor = results[all[4]![0]];
  if (logged === undefined || unlogged === undefined) return;
  printNote(
    `Cost of logging each decision durably: p99 ${(percentile(logged.latenciesMs, 99) - percentile(unlogged.latenciesMs, 99)).toFixed(2)} ms, ` +
      `server CPU ${(((logged.serverCpuS - unlogged.serverCpuS) / logged.sent) * 1e6).toFixed(0)} µs per review. ` +
      (floor === undefined
        ? ""
        : `The floor under any webhook here (same server, fixed answer): p99 ${percentile(floor.latenciesMs, 99).toFixed(2)} ms. `) +
      "Latency is measured from when each " +
      "request was due (open loop), so queueing behind a slow answer counts. The mix: 55% Pods, 25% Deployments, 13% ConfigMaps, " +
      "7% RoleBindings; policies: pss-baseline enforce, a CEL warn policy, the other built-ins in audit mode.",
  );
}

const first12 = (hex: string) => hex.slice(0, 12);

async function allocSection(
  dir: string,
  policyDir: string,
  reviews: number,
  rounds: number,
  top: number,
  heapProfile: string | undefined,
  nodeFlags: readonly string[],
): Promise<void> {
  const results: GuardAllocResult[] = [];
  for (let round = 0; round < rounds; round++) {
    const config: GuardAllocConfig = {
      policyDir,
      bodies: reviewTemplates(4000),
      warmup: Math.min(reviews, 5000),
      reviews,
      top,
      ...(round === 0 && heapProfile !== undefined ? { heapProfile: path.resolve(heapProfile) } : {}),
    };
    const file = path.join(dir, "guard-alloc.json");
    writeFileSync(file, JSON.stringify(config));
    log(`guard: alloc round ${round + 1} of ${rounds} (${reviews.toLocaleString("en-US")} reviews a pass)`);
    const child = spawn(
      process.execPath,
      [...nodeFlags, path.join(benchDir, "lib", "guard-alloc.js"), file],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    results.push(
      (await readLine(child, (l) =>
        l.startsWith("{") ? (JSON.parse(l) as GuardAllocResult) : undefined,
      )) as GuardAllocResult,
    );
    if ((await exited) !== 0) throw new Error("the allocation probe failed");
  }
  const median = (f: (r: GuardAllocResult) => number) => percentile(results.map(f), 50);
  const per10k = (n: number) => (n * 10_000) / reviews;
  const each = (f: (r: GuardAllocResult) => number, digits: number) =>
    results.map((r) => f(r).toFixed(digits)).join(", ");
  process.stdout.write(
    `\n#### Garbage per admission review (in process, ${reviews.toLocaleString("en-US")} reviews a pass, ${rounds} fresh processes)\n\n` +
      markdownTable(
        ["measure", "median", "each round"],
        [
          [
            "bytes allocated per review",
            median((r) => r.bytesPerReview).toFixed(0),
            each((r) => r.bytesPerReview, 0),
          ],
          [
            "scavenges per 10,000 reviews",
            median((r) => per10k(r.scavenges)).toFixed(1),
            each((r) => per10k(r.scavenges), 1),
          ],
          [
            "major GCs per 10,000 reviews",
            median((r) => per10k(r.majorGcs)).toFixed(1),
            each((r) => per10k(r.majorGcs), 1),
          ],
          [
            "GC ms per 10,000 reviews",
            median((r) => per10k(r.gcMs)).toFixed(0),
            each((r) => per10k(r.gcMs), 0),
          ],
          ["CPU µs per review", median((r) => r.cpuUsPerReview).toFixed(1), each((r) => r.cpuUsPerReview, 1)],
          [
            "decisions (SHA-256 of the warm-up's entries and answers)",
            first12(results[0]!.decisionsDigest),
            results.map((r) => first12(r.decisionsDigest)).join(", "),
          ],
        ],
      ) +
      "\n",
  );
  const first = results[0];
  if (first !== undefined && first.top.length > 0)
    printNote(
      `Heaviest allocating functions (round 1, bytes per review): ${first.top.map(([site, b]) => `${site} ${b.toFixed(0)}`).join("; ")}. ` +
        "The reviews are answered without logging; the mix and policies are the webhook section's.",
    );
}

async function checkSection(dir: string, count: number): Promise<void> {
  const rng = makeRng(10);
  const file = path.join(dir, "manifests.yaml");
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(JSON.stringify(manifest(rng, i)));
  // YAML as people write it, not JSON: re-emitted through the yaml library once here.
  writeFileSync(file, parts.map((p) => stringify(JSON.parse(p))).join("---\n"));
  const bytes = readFileSync(file).length;
  const policyDir = path.join(dir, "policies");
  log(`guard: check over ${count} manifests (${(bytes / 1e6).toFixed(1)} MB)`);
  const cli = kubetrailCli();
  const rows = [];
  const parse = await runMeasured(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import {parseAllDocuments} from "yaml"; import {readFileSync} from "node:fs"; let n=0; for (const d of parseAllDocuments(readFileSync(${JSON.stringify(file)}, "utf8"))) { d.toJS(); n++; } console.log(n);`,
    ],
    { cwd: repoRoot },
  );
  if (parse.code !== 0) throw new Error(`parse baseline failed: ${parse.stderr}`);
  rows.push(fromChild("parse the YAML only (node + yaml, the floor)", parse, count, bytes));
  for (const [name, extra] of [
    ["kubetrail guard check -o json", ["-o", "json"]],
    [
      "kubetrail guard check (table) + --sarif + --junit",
      ["--sarif", path.join(dir, "out.sarif"), "--junit", path.join(dir, "out.xml")],
    ],
  ] as const) {
    const r = await runMeasured(process.execPath, [
      cli,
      "guard",
      "check",
      "-f",
      file,
      "-p",
      policyDir,
      ...extra,
    ]);
    if (r.code !== 0 && r.code !== 1) throw new Error(`guard check failed (${r.code}): ${r.stderr}`);
    rows.push(fromChild(name, r, count, bytes));
  }
  printTable(
    `guard check over ${count.toLocaleString("en-US")} manifests (${(bytes / 1e6).toFixed(1)} MB of YAML, every built-in + 2 policies)`,
    rows,
    { unit: "manifests", baseline: rows[0]!.name },
  );
}

async function replaySection(dir: string, count: number): Promise<void> {
  const data = path.join(dir, "replay-data");
  const jsonl = path.join(dir, "events.jsonl");
  const nowUs = Date.now() * 1000;
  const span = 48 * 3600e6;
  log(`guard: generating and appending ${count} events`);
  const fsLog = await openFsLog(data, { integrateIntervalMs: 250 });
  const fd = openSync(jsonl, "w");
  const inflight: Promise<unknown>[] = [];
  let batch: Buffer[] = [];
  for (const ev of generateEvents({
    seed: 11,
    count,
    startTime: formatMicroTime(nowUs - span),
    ratePerSecond: count / (span / 1e6),
  })) {
    const line = toLogLine(ev);
    batch.push(Buffer.from(line, "utf8"));
    if (batch.length === 1000) {
      writeSync(fd, Buffer.concat(batch.flatMap((b) => [b, Buffer.from("\n")])));
      inflight.push(fsLog.append(batch));
      batch = [];
      if (inflight.length >= 8) await Promise.all(inflight.splice(0));
    }
  }
  if (batch.length > 0) {
    writeSync(fd, Buffer.concat(batch.flatMap((b) => [b, Buffer.from("\n")])));
    inflight.push(fsLog.append(batch));
  }
  await Promise.all(inflight);
  closeSync(fd);
  await fsLog.waitIntegrated(count);
  await fsLog.close();
  log("guard: indexing (not measured: serve keeps the index current)");
  const snapshot = await openSnapshot(fsStorage(data));
  const { index } = openIndexForLog(data, snapshot, { rebuild: true });
  await catchUp(index, snapshot);
  index.close();
  const policyDir = path.join(dir, "policies");
  const rows = [];
  const jq = await runMeasured("bash", [
    "-c",
    `jq -c 'select(.stage == "ResponseComplete" and (.verb == "create" or .verb == "update" or .verb == "patch") and .requestObject != null)' ${JSON.stringify(jsonl)} | wc -l`,
  ]);
  rows.push(fromChild("jq: select the creates, updates and patches with a body (no evaluation)", jq, count));
  const replay = await runMeasured(process.execPath, [
    kubetrailCli(),
    "guard",
    "replay",
    "--data",
    data,
    "--since",
    "30d",
    "--policy",
    policyDir,
    "--builtins",
    "-o",
    "json",
  ]);
  if (replay.code !== 0) throw new Error(`guard replay failed: ${replay.stderr}`);
  rows.push(fromChild("kubetrail guard replay --builtins (evaluate, prove each finding)", replay, count));
  const summary = (
    JSON.parse(replay.stdout) as {
      summary: { candidates: number; evaluated: number; belowRequestLevel: number; findings: number };
    }
  ).summary;
  printTable(`guard replay over ${count.toLocaleString("en-US")} stored events`, rows, {
    unit: "events",
    baseline: rows[0]!.name,
  });
  printNote(
    `Of ${count.toLocaleString("en-US")} events: ${summary.candidates.toLocaleString("en-US")} creates/updates/patches, ${summary.evaluated.toLocaleString("en-US")} evaluated, ` +
      `${summary.belowRequestLevel.toLocaleString("en-US")} below Request level, ${summary.findings.toLocaleString("en-US")} findings, each with a verified inclusion proof. ` +
      `jq printed ${jq.stdout.trim()} matching lines. Events per second are over all stored events (the index selects the candidates).`,
  );
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const rate = intOption(args, "rate", 1000);
  const seconds = intOption(args, "seconds", args.quick ? 5 : 30);
  const manifests = intOption(args, "manifests", args.quick ? 2000 : 10_000);
  const events = intOption(args, "events", args.quick ? 100_000 : 2_000_000);
  const dir = tempDir("guard");
  const policyDir = path.join(dir, "policies");
  mkdirSync(policyDir);
  copyFileSync(benchFixture("guard-policies.yaml"), path.join(policyDir, "policies.yaml"));
  const sections = (args.options["sections"] ?? "webhook,check,replay").split(",");
  const nodeFlags = (args.options["server-node-flags"] ?? "").split(" ").filter((f) => f !== "");
  if (sections.includes("webhook"))
    await webhookSection(
      dir,
      policyDir,
      rate,
      seconds,
      args.options["profile"],
      (args.options["targets"] ?? "serve,logged,unlogged,bare").split(","),
      args.options["spacing"],
      intOption(args, "connections", 64),
      nodeFlags,
    );
  if (sections.includes("alloc"))
    await allocSection(
      dir,
      policyDir,
      intOption(args, "reviews", args.quick ? 2000 : 10_000),
      intOption(args, "rounds", 3),
      intOption(args, "alloc-top", 12),
      args.options["heap-profile"],
      nodeFlags,
    );
  if (sections.includes("check")) await checkSection(dir, manifests);
  if (sections.includes("replay")) await replaySection(dir, events);
  removeTemp(dir);
}

runIfMain(import.meta.url, main);
