// Witness throughput: a `kubetrail witness` process (HTTPS on loopback) and, in this process,
// one client per log sending add-checkpoint requests one after another, as a log does (each
// builds on the last cosignature). Every answer is a checked signature, a consistency proof and
// a durable journal record before the reply. The baseline beside it: the same clients asking
// the same server for /healthz — the HTTPS round trip alone, no crypto, no disk.
import { writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
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
  tempDir,
  treeCpuSeconds,
} from "./harness.js";
import { startCliServer, BENCH_CLI, type CliServer } from "./lib/cli-server.js";
import { spawnSync } from "node:child_process";

function send(
  agent: https.Agent,
  server: CliServer,
  method: string,
  pathname: string,
  body?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: server.port,
        method,
        path: pathname,
        ca: server.ca,
        servername: "localhost",
        agent,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `clients` loops until `seconds` pass; each loop calls `next(i)` for its next request. */
async function loops(
  clients: number,
  seconds: number,
  request: (client: number, k: number) => Promise<number> | null,
  time: <T>(op: () => Promise<T>) => Promise<T>,
): Promise<{ ok: number; failed: number }> {
  const until = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let k = 0; performance.now() < until; k++) {
        const pending = request(c, k);
        if (pending === null) return;
        const status = await time(() => pending);
        if (status === 200) ok++;
        else failed++;
      }
    }),
  );
  return { ok, failed };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const seconds = intOption(args, "seconds", args.quick ? 3 : 10);
  const logs = intOption(args, "logs", 50);
  // More bodies than the run can send at 10,000 requests/s.
  const perLog = Math.ceil((seconds * 10_000) / logs);
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
  const server = await startCliServer(
    ["witness", "--data", data, "--logs", path.join(dir, "logs.yaml")],
    data,
  );
  const agent = new https.Agent({ keepAlive: true, maxSockets: logs });
  const rows: Measurement[] = [];
  try {
    let counted = { ok: 0, failed: 0 };
    const cpu0 = treeCpuSeconds(server.pid);
    const witnessed = await measure(
      `kubetrail witness: add-checkpoint, ${logs} logs`,
      { items: 0, extraPids: () => [server.pid] },
      async (probe) => {
        counted = await loops(
          logs,
          seconds,
          (c, k) => {
            const body = load[c]!.bodies[k];
            return body === undefined ? null : send(agent, server, "POST", "/add-checkpoint", body);
          },
          (op) => probe.time(op),
        );
        probe.items = counted.ok;
      },
    );
    const serverCpu = treeCpuSeconds(server.pid) - cpu0;
    witnessed.note = `${counted.failed} not 200; witness process CPU ${((serverCpu / Math.max(1, counted.ok)) * 1e6).toFixed(0)} µs per cosignature`;
    rows.push(witnessed);
    const transport = await measure(
      "baseline: GET /healthz, same server and clients",
      { items: 0, extraPids: () => [server.pid] },
      async (probe) => {
        const r = await loops(
          logs,
          seconds,
          () => send(agent, server, "GET", "/healthz"),
          (op) => probe.time(op),
        );
        probe.items = r.ok;
      },
    );
    rows.push(transport);
  } finally {
    agent.destroy();
    await server.stop();
  }
  printTable(`witness: ${logs} logs, one client each, ${seconds} s, HTTPS on loopback`, rows, {
    unit: "requests",
  });
  printNote(
    "Each cosignature: the log's Ed25519 signature checked, the consistency proof from the size held checked, " +
      "a cosignature/v1 signed, and the new checkpoint durable in the witness's journal (one fdatasync per group of " +
      "concurrent requests) before the answer. The load generator shares the machine's cores with the witness.",
  );
}

runIfMain(import.meta.url, main);
