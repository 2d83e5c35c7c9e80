// Mirror catch-up from empty: `kubetrail mirror --from URL --once` pulling a whole log from a
// `kubetrail serve` on loopback HTTPS (every checkpoint signature, every entry bundle against
// its leaf hashes and the tree, stored durably in tlog-tiles layout), beside `cp -r` of the
// same log's files on the same disk (no network, no checks, no fsync).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import {
  fromChild,
  intOption,
  log,
  type Measurement,
  parseBenchArgs,
  printNote,
  printTable,
  runIfMain,
  runMeasured,
  tempDir,
} from "./harness.js";
import { startCliServer, type CliServer } from "./lib/cli-server.js";
import { fillFsLog } from "./lib/fill.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { generatedEntries } from "./lib/workload.js";

function get(server: CliServer, pathname: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: "127.0.0.1",
          port: server.port,
          path: pathname,
          ca: server.ca,
          servername: "localhost",
          headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      )
      .on("error", reject);
  });
}

/**
 * Waits until serve's index has caught up with the log and the UI's statistics have loaded
 * what it indexed (they follow the index, and answer 503 until loaded), so that serve's own
 * catching up takes no CPU during the pull.
 */
async function untilSettled(server: CliServer, readToken: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const ready = await get(server, "/readyz");
    const stats =
      ready.status === 200 && !ready.body.includes("degraded")
        ? await get(server, "/v1/stats", readToken)
        : undefined;
    if (stats?.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`serve not settled: /readyz ${ready.status} ${ready.body}; /v1/stats ${stats?.status}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "entries", args.quick ? 50_000 : 500_000);
  log(`mirror: generating and appending ${n} events`);
  const data = generatedEntries(13, n);
  const dir = tempDir("mirror");
  const dataDir = await fillFsLog(dir, data.buffers);
  const cli = kubetrailCli();
  const key = await runMeasured(process.execPath, [cli, "keys", "--data", dataDir]);
  if (key.code !== 0) throw new Error(`kubetrail keys: ${key.stderr}`);
  const vkey = key.stdout.trim();
  const rows: Measurement[] = [];
  const server = await startCliServer(["serve", "--data", dataDir, "--no-detect"], dataDir, "/readyz");
  try {
    log("mirror: waiting for serve's index and statistics to catch up");
    await untilSettled(server, readFileSync(path.join(dataDir, "read-token"), "utf8").trim());
    const caFile = path.join(dir, "serve-ca.pem");
    writeFileSync(caFile, server.ca);
    // execArgv passes through, so `node --cpu-prof build/bench/mirror.js` profiles the mirror too.
    const pull = await runMeasured(process.execPath, [
      ...process.execArgv,
      cli,
      "mirror",
      "--data",
      path.join(dir, "mirror"),
      "--from",
      `${server.url}log/`,
      "--key",
      vkey,
      "--token-file",
      path.join(dataDir, "read-token"),
      "--ca",
      caFile,
      "--once",
      "--log-level",
      "warn",
    ]);
    const done = /: (\d+) entries mirrored \((\d+) new\)/.exec(pull.stdout);
    if (pull.code !== 0 || !done || Number(done[1]) !== n || Number(done[2]) !== n)
      throw new Error(
        `kubetrail mirror --once (exit ${pull.code}): ${pull.stdout} ${pull.stderr.slice(0, 2000)}`,
      );
    rows.push(
      fromChild(
        "kubetrail mirror --from --once (HTTPS, checked, durable)",
        pull,
        n,
        data.bytes,
        "serve's CPU not counted",
      ),
    );
  } finally {
    await server.stop();
  }
  // The same files: the log's tiles and entry bundles, its checkpoint.
  const copyDir = path.join(dir, "copy");
  mkdirSync(copyDir);
  const copy = await runMeasured("cp", [
    "-r",
    path.join(dataDir, "tile"),
    path.join(dataDir, "checkpoint"),
    copyDir,
  ]);
  if (copy.code !== 0) throw new Error(`cp -r: ${copy.stderr}`);
  rows.push(fromChild("cp -r of the log's files", copy, n, data.bytes, "same disk, no checks, no fsync"));
  const held = readFileSync(path.join(dir, "copy", "checkpoint"), "utf8").split("\n")[1];
  if (Number(held) !== n) throw new Error(`the copied checkpoint has size ${held}, not ${n}`);
  printTable(`mirror: catch-up from empty of a log of ${n} entries, loopback`, rows, {
    unit: "entries",
    baseline: "cp -r of the log's files",
  });
  printNote(
    "The mirror reads the log's checkpoint, then every entry bundle and the hash tiles it needs over HTTPS, " +
      "recomputes the tree from the entries, checks it against the signed checkpoint, and writes its copy " +
      "(tiles, bundles, checkpoint) with fsync before it reports. serve answers on the same two cores.",
  );
}

runIfMain(import.meta.url, main);
