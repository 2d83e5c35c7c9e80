// Witness throughput: a `kubetrail witness` process (HTTPS on loopback) loaded by a separate
// generator process (bench/lib/https-load.ts) with one kept-alive connection per log sending
// add-checkpoint requests one after another, as a log does (each builds on the last
// cosignature). Every answer is a checked signature, a consistency proof and a durable journal
// record before the reply. Baselines beside it, through the same generator: the same server's
// /healthz (its HTTPS and routing, no crypto, no disk), and a bare node:https process answering
// the same bodies with 200 (the HTTPS round trip alone on this machine).
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { ed25519 } from "../src/tlog/ed25519.js";
import { witnessLoad } from "./gen/witness-load.js";
import {
  intOption,
  log,
  measure,
  type Measurement,
  parseBenchArgs,
  printNote,
  printTable,
  runIfMain,
  runMeasured,
  tempDir,
} from "./harness.js";
import { startCliServer, BENCH_CLI, freePort, type CliServer } from "./lib/cli-server.js";
import type { LoadConfig, LoadResult } from "./lib/https-load.js";
import { benchDir } from "./lib/paths.js";

const LOAD = path.join(benchDir, "lib", "https-load.js");
const SINK = path.join(benchDir, "lib", "https-sink.js");

/**
 * Runs the generator process on `cfg` against the server `serverPid`. The row is the timed
 * window after the generator's warm-up: its requests, wall time and latencies, and as CPU the
 * server's and the generator's in that window (the processes' start, the TLS handshakes and
 * the warm-up are left out).
 */
async function loaded(
  name: string,
  dir: string,
  cfg: LoadConfig,
  serverPid: number,
): Promise<{ row: Measurement; result: LoadResult }> {
  const file = path.join(dir, `load-${cfg.method}-${cfg.port}.json`);
  writeFileSync(file, JSON.stringify({ ...cfg, serverPid }));
  let result!: LoadResult;
  const row = await measure(name, { items: 0, extraPids: () => [serverPid] }, async (probe) => {
    const child = await runMeasured(process.execPath, [LOAD, file]);
    if (child.code !== 0) throw new Error(`load generator failed: ${child.stderr}`);
    result = JSON.parse(child.stdout) as LoadResult;
    probe.items = result.ok;
    for (const ms of result.latenciesMs) probe.latenciesMs.push(ms);
  });
  const server = result.server!;
  row.wallS = result.wallS;
  row.cpuS = server.cpuS + result.cpuS;
  const per = (s: number): string => ((s / Math.max(1, result.ok + result.failed)) * 1e6).toFixed(0);
  const refused = Object.entries(result.statuses).map(([code, n]) => `${n}× ${code}`);
  row.note =
    `${result.failed} not 200${refused.length > 0 ? ` (${refused.join(", ")})` : ""}; ` +
    `server CPU ${per(server.cpuS)} µs (main thread ${per(server.mainCpuS)}, other threads ${per(server.cpuS - server.mainCpuS)}), ` +
    `load generator CPU ${per(result.cpuS)} µs per request; ` +
    `after a warm-up of ${result.warmup.requests} requests (${result.warmup.failed} not 200)`;
  return { row, result };
}

async function startSink(tlsDir: string): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SINK, tlsDir, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`https-sink exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    pid: child.pid!,
    port,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const seconds = intOption(args, "seconds", args.quick ? 3 : 10);
  const warmupSeconds = intOption(args, "warmup", args.quick ? 1 : 5);
  const logs = intOption(args, "logs", 50);
  // More bodies than the warm-up and the run can send at 10,000 requests/s.
  const perLog = Math.ceil(((warmupSeconds + seconds) * 10_000) / logs);
  const dir = tempDir("witness");
  log(`witness: preparing ${logs} logs × ${perLog} signed checkpoints with proofs`);
  const load = await witnessLoad(7, logs, perLog);
  writeFileSync(path.join(dir, "logs.yaml"), `logs:\n${load.map((l) => `  - ${l.verifierKey}\n`).join("")}`);
  const data = path.join(dir, "witness");
  const key = spawnSync(process.execPath, [
    BENCH_CLI,
    "witness",
    "key",
    "--data",
    data,
    "--name",
    "bench.witness/w",
  ]);
  if (key.status !== 0) throw new Error(`witness key: ${key.stderr}`);
  const server: CliServer = await startCliServer(
    ["witness", "--data", data, "--logs", path.join(dir, "logs.yaml")],
    data,
  );
  const rows: Measurement[] = [];
  const common = { ca: server.ca, seconds, warmupSeconds, connections: logs };
  try {
    const bodies = load.map((l) => l.bodies);
    const witnessed = await loaded(
      `kubetrail witness: add-checkpoint, ${logs} logs`,
      dir,
      { ...common, port: server.port, method: "POST", path: "/add-checkpoint", bodies },
      server.pid,
    );
    rows.push(witnessed.row);
    rows.push(
      (
        await loaded(
          "baseline: GET /healthz, same server and generator",
          dir,
          { ...common, port: server.port, method: "GET", path: "/healthz" },
          server.pid,
        )
      ).row,
    );
    const sink = await startSink(path.join(data, "tls"));
    try {
      rows.push(
        (
          await loaded(
            "baseline: bare node:https answering the same bodies with 200",
            dir,
            { ...common, port: sink.port, method: "POST", path: "/add-checkpoint", bodies, cycle: true },
            sink.pid,
          )
        ).row,
      );
    } finally {
      await sink.stop();
    }
  } finally {
    await server.stop();
  }
  printTable(
    `witness: ${logs} logs, one connection each, ${seconds} s after ${warmupSeconds} s of warm-up, HTTPS on loopback, Ed25519 on ${ed25519.name}`,
    rows,
    { unit: "requests" },
  );
  printNote(
    "Each cosignature: the log's Ed25519 signature checked, the consistency proof from the size held checked, " +
      "a cosignature/v1 signed, and the new checkpoint durable in the witness's journal (one fdatasync per group of " +
      "concurrent requests, on a thread of its own, written in place in a zero-filled journal) before the answer. " +
      "The load generator is a process of its own on the same cores as the server; each row is its timed window after the " +
      "warm-up (--warmup=S): requests/s over that window, and the CPU column is the server's and the generator's in it.",
  );
}

runIfMain(import.meta.url, main);
