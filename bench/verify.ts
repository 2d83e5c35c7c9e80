// Full verification of N stored events: `kubetrail verify --data` (re-hash every entry, rebuild
// and check every tile, check the signed checkpoint) against sha256sum over the same bytes
// (integrity of one file, no structure, no signature) and a re-walk of a PostgreSQL hash chain.
// Two copies of the log are verified: as the writer leaves it (the bundles its background
// compactor reached are compressed, the rest plain) and after `kubetrail compact` (every full
// bundle compressed), so the cost of decompressing shows beside the plain reads.
import { cpSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PostgresUnavailable, startPostgres, verifyChain } from "./baselines/postgres.js";
import {
  fromChild,
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
import { fillChainTable, fillFsLog } from "./lib/fill.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { generatedEntries, writeJsonl } from "./lib/workload.js";

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "entries", args.quick ? 20_000 : 500_000);
  log(`verify: generating ${n} events`);
  const data = generatedEntries(2, n);
  const dir = tempDir("verify");
  const dataDir = await fillFsLog(dir, data.buffers);
  const jsonl = path.join(dir, "audit.jsonl");
  writeJsonl(jsonl, data.buffers);
  const cli = kubetrailCli();
  const compactedDir = path.join(dir, "compacted");
  cpSync(dataDir, compactedDir, { recursive: true });
  log("verify: compacting a copy of the log");
  const compact = await runMeasured(process.execPath, [cli, "compact", "--data", compactedDir, "-o", "json"]);
  if (compact.code !== 0) throw new Error(`kubetrail compact failed: ${compact.stderr.slice(0, 500)}`);
  const mixed = compressedShare(dataDir);
  const rows: Measurement[] = [];

  // The default (one hashing worker per core but one) and one worker per core, on both copies.
  const logs = [
    { dir: dataDir, what: `${mixed.compressed} of ${mixed.full} bundles compressed` },
    { dir: compactedDir, what: "every bundle compressed" },
  ];
  for (const { dir: logDir, what } of logs) {
    for (const workers of [undefined, os.availableParallelism()]) {
      const r = await runMeasured(process.execPath, [
        cli,
        "verify",
        "--data",
        logDir,
        "-o",
        "json",
        ...(workers ? ["--workers", String(workers)] : []),
      ]);
      const report = parseReport(r.stdout);
      if (r.code !== 0 || !report.ok || report.entries !== n) {
        throw new Error(
          `kubetrail verify failed (exit ${r.code}): ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`,
        );
      }
      const name = `kubetrail verify${workers ? ` --workers ${workers}` : ""}`;
      rows.push(fromChild(name, r, n, data.bytes, what));
    }
  }
  const sum = await runMeasured("sha256sum", [jsonl]);
  if (sum.code !== 0) throw new Error(`sha256sum failed: ${sum.stderr}`);
  rows.push(fromChild("sha256sum", sum, n, data.bytes, "one file, no structure or signature"));

  try {
    const pg = await startPostgres();
    try {
      await fillChainTable(pg, data);
      const client = await pg.client();
      rows.push(
        await measure(
          "PostgreSQL chain re-walk",
          {
            items: n,
            bytes: data.bytes,
            note: "SQL, server CPU included",
            extraPids: () => [pg.pid()],
            countSelfRss: false,
          },
          async () => {
            const r = await verifyChain(client);
            if (r.rows !== n || r.broken !== 0)
              throw new Error(`chain walk: ${r.rows} rows, ${r.broken} broken`);
          },
        ),
      );
      await client.end();
    } finally {
      await pg.stop();
    }
  } catch (err) {
    if (!(err instanceof PostgresUnavailable)) throw err;
    printNote(`PostgreSQL row skipped: ${err.message}`);
  }

  printTable(
    `Verify: ${n.toLocaleString("en-US")} stored audit events (${(data.bytes / 1e6).toFixed(0)} MB)`,
    rows,
    {
      baseline: "sha256sum",
      unit: "entries",
      compare: "time",
    },
  );
  printNote(
    "Each system checks the same event bytes, all in the page cache (just written). kubetrail verify is a separate " +
      "process (its own CPU and peak RSS); the PostgreSQL row counts the server processes (PSS), not the client.",
  );
}

/** How many of the log's full bundles are stored compressed (`N.zst`) rather than plain (`N`). */
function compressedShare(dataDir: string): { compressed: number; full: number } {
  let compressed = 0;
  let full = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!e.name.endsWith(".p")) walk(path.join(d, e.name));
      } else if (/^[0-9]{3}(\.zst)?$/.test(e.name)) {
        full++;
        if (e.name.endsWith(".zst")) compressed++;
      }
    }
  };
  walk(path.join(dataDir, "tile", "entries"));
  return { compressed, full };
}

function parseReport(stdout: string): { ok: boolean; entries: number } {
  try {
    const r = JSON.parse(stdout) as { ok?: unknown; entries?: unknown };
    return { ok: r.ok === true, entries: typeof r.entries === "number" ? r.entries : -1 };
  } catch {
    return { ok: false, entries: -1 };
  }
}

runIfMain(import.meta.url, main);
