// What witnesses and mirrors cost `serve`: the same webhook load sent to a `kubetrail serve`
// alone, to one whose every checkpoint is cosigned by three `kubetrail witness` processes
// (quorum 3), and to one in strict mode with a `kubetrail mirror` (an acknowledgement waits
// until the mirror cosigned a checkpoint covering the batch), all on loopback HTTPS, each with
// its own data directory. Side by side: ingest throughput and acknowledgement latency (which
// must not wait for witnesses; in strict mode it waits for the mirror by design), and how long
// publishing each checkpoint waited for cosignatures (the server's
// kubetrail_checkpoint_cosign_seconds).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { eventListBodies } from "./lib/workload.js";
import {
  bestOf,
  intOption,
  log,
  markdownTable,
  measure,
  type Measurement,
  parseBenchArgs,
  printNote,
  printTable,
  runIfMain,
  tempDir,
} from "./harness.js";
import { BENCH_CLI, startCliServer, type CliServer } from "./lib/cli-server.js";

const WITNESSES = 3;
const BATCH = 200;
const SENDERS = 8;
const INTEGRATE = "250ms";

function cli(args: readonly string[]): string {
  const r = spawnSync(process.execPath, [BENCH_CLI, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubetrail ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

function request(
  agent: https.Agent,
  server: CliServer,
  opts: { method: string; path: string; token?: string; body?: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: server.port,
        method: opts.method,
        path: opts.path,
        ca: server.ca,
        servername: "localhost",
        agent,
        headers: {
          ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body ? { "Content-Type": "application/json", "Content-Length": opts.body.length } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The quantiles and count of the server's cosign-time summary, from /metrics. */
function cosignSummary(metrics: string): { count: number; q: Record<string, number> } {
  const q: Record<string, number> = {};
  let count = 0;
  for (const line of metrics.split("\n")) {
    const m = /^kubetrail_checkpoint_cosign_seconds\{quantile="([0-9.]+)"\} (\S+)$/.exec(line);
    if (m) q[m[1]!] = Number(m[2]);
    const c = /^kubetrail_checkpoint_cosign_seconds_count (\S+)$/.exec(line);
    if (c) count = Number(c[1]);
  }
  return { count, q };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const events = intOption(args, "events", args.quick ? 40_000 : 200_000);
  const rounds = intOption(args, "rounds", args.quick ? 1 : 2);
  const dir = tempDir("cosign");

  // The witnessed log's key first: the witnesses are configured with it.
  const witnessedDir = path.join(dir, "log-witnessed");
  const logKey = cli(["keys", "--data", witnessedDir, "--origin", "bench.cosign/log"]);
  const strictDir = path.join(dir, "log-strict");
  const strictKey = cli(["keys", "--data", strictDir, "--origin", "bench.cosign/strict"]);
  writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${logKey}\n  - ${strictKey}\n`);
  const witnesses: CliServer[] = [];
  let mirror: CliServer | undefined;
  const witnessKeys: string[] = [];
  const rows: Measurement[] = [];
  const latency: string[][] = [];
  try {
    for (let w = 0; w < WITNESSES; w++) {
      const data = path.join(dir, `witness-${w}`);
      witnessKeys.push(cli(["witness", "key", "--data", data, "--name", `bench.cosign/w${w}`]));
      witnesses.push(
        await startCliServer(["witness", "--data", data, "--logs", path.join(dir, "logs.yaml")], data),
      );
    }
    const mirrorData = path.join(dir, "mirror");
    const mirrorKey = cli(["mirror", "key", "--data", mirrorData, "--name", "bench.cosign/m"]);
    mirror = await startCliServer(
      ["mirror", "--data", mirrorData, "--logs", path.join(dir, "logs.yaml")],
      mirrorData,
    );
    writeFileSync(path.join(dir, "witnesses-ca.pem"), witnesses.map((w) => w.ca).join("\n"));
    writeFileSync(path.join(dir, "mirror-ca.pem"), mirror.ca);
    const strict = path.join(dir, "strict.yaml");
    writeFileSync(
      strict,
      [
        "mirrors:",
        `  - {url: "${mirror.url}", key: "${mirrorKey}"}`,
        "strict: true",
        "strictTimeout: 30s",
        "timeout: 10s",
        "maxWait: 10s",
        `ca: ${path.join(dir, "mirror-ca.pem")}`,
      ].join("\n") + "\n",
    );
    const cosigners = path.join(dir, "cosigners.yaml");
    writeFileSync(
      cosigners,
      [
        "witnesses:",
        ...witnesses.map((w, i) => `  - {url: "${w.url}", key: "${witnessKeys[i]}"}`),
        `quorum: ${WITNESSES}`,
        "failMode: open",
        "timeout: 5s",
        "maxWait: 5s",
        `ca: ${path.join(dir, "witnesses-ca.pem")}`,
      ].join("\n") + "\n",
    );

    const systems = [
      { name: "serve alone", data: path.join(dir, "log-alone"), extra: [] as string[] },
      {
        name: `serve --cosigners (${WITNESSES} witnesses, quorum ${WITNESSES})`,
        data: witnessedDir,
        extra: ["--cosigners", cosigners],
      },
      {
        name: "serve --cosigners (1 mirror, strict: acknowledged once mirrored)",
        data: strictDir,
        extra: ["--cosigners", strict],
      },
    ];
    const runs = new Map<string, Measurement[]>(systems.map((s) => [s.name, []]));
    const summaries = new Map<string, { count: number; q: Record<string, number> }[]>();
    // Rounds alternate the systems, so a busy minute on the shared machine hits each of them.
    for (let round = 0; round < rounds; round++) {
      log(`cosign: round ${round + 1} of ${rounds}: generating ${events} events in bodies of ${BATCH}`);
      // New events each round: the logs keep their dedupe stores between rounds.
      const load = eventListBodies(11 + round, events, BATCH);
      for (const system of systems) {
        log(`cosign: ${system.name}`);
        const server = await startCliServer(
          ["serve", "--data", system.data, "--no-detect", "--integrate-interval", INTEGRATE, ...system.extra],
          system.data,
          "/readyz",
        );
        const token = readFileSync(path.join(system.data, "ingest-token"), "utf8").trim();
        const agent = new https.Agent({ keepAlive: true, maxSockets: SENDERS });
        try {
          let next = 0;
          const row = await measure(
            system.name,
            { items: events, extraPids: () => [server.pid] },
            async (probe) => {
              await Promise.all(
                Array.from({ length: SENDERS }, async () => {
                  for (let i = next++; i < load.bodies.length; i = next++) {
                    const r = await probe.time(() =>
                      request(agent, server, {
                        method: "POST",
                        path: "/v1/audit/webhook",
                        token,
                        body: load.bodies[i]!,
                      }),
                    );
                    if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${r.body}`);
                  }
                }),
              );
            },
          );
          row.note = `acknowledgement latency per ${BATCH}-event body`;
          runs.get(system.name)!.push(row);
          if (system.extra.length > 0) {
            // A few idle checkpoints too, then the server's own account of each publication.
            await new Promise((r) => setTimeout(r, 2000));
            const metrics = await request(agent, server, { method: "GET", path: "/metrics" });
            summaries.set(system.name, [...(summaries.get(system.name) ?? []), cosignSummary(metrics.body)]);
          }
        } finally {
          agent.destroy();
          await server.stop();
        }
      }
    }
    for (const system of systems) {
      rows.push(bestOf(runs.get(system.name)!));
      const s = summaries.get(system.name);
      if (!s) continue;
      // Each round's server reports its own quantiles: the worst of them is shown.
      const worst = (k: string) => {
        const v = Math.max(...s.map((x) => x.q[k] ?? NaN));
        return Number.isFinite(v) ? (v * 1000).toFixed(1) : "n/a";
      };
      const count = s.reduce((n, x) => n + x.count, 0);
      latency.push([system.name, String(count), worst("0.5"), worst("0.9"), worst("0.99")]);
    }
  } finally {
    for (const w of witnesses) await w.stop();
    await mirror?.stop();
  }
  printTable(
    `cosign: webhook ingest of ${events} events, ${SENDERS} senders, checkpoints every ${INTEGRATE}, HTTPS on loopback; best of ${rounds} round(s)`,
    rows,
    { unit: "events" },
  );
  console.log(
    `\n#### cosign: time publishing each checkpoint waited for cosignatures (kubetrail_checkpoint_cosign_seconds)\n\n` +
      markdownTable(["system", "checkpoints", "p50 ms (worst round)", "p90 ms", "p99 ms"], latency) +
      "\n",
  );
  printNote(
    "Each witness checks the log's signature and the consistency proof from the size it last cosigned, and makes " +
      "its journal record durable before it answers. Acknowledgements never wait for a checkpoint, so the ingest " +
      "rows with witnesses differ only by the CPU the cosigning takes (log, witnesses and load generator share the " +
      "machine's cores). In strict mode each acknowledgement waits for the next checkpoint (every " +
      `${INTEGRATE} here), the upload of its entries to the mirror, the mirror's fsync and its cosignature.`,
  );
}

runIfMain(import.meta.url, main);
