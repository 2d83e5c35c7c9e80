// Full verification of N stored events: `kubetrail verify --data` (re-hash every entry, rebuild
// and check every tile, check the signed checkpoint) against sha256sum over the same bytes
// (integrity of one file, no structure, no signature) and a re-walk of a PostgreSQL hash chain.
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
  const rows: Measurement[] = [];

  // The default (one hashing worker per core but one) and one worker per core.
  for (const workers of [undefined, os.availableParallelism()]) {
    const r = await runMeasured(process.execPath, [
      cli,
      "verify",
      "--data",
      dataDir,
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
    rows.push(
      fromChild(workers ? `kubetrail verify --workers ${workers}` : "kubetrail verify", r, n, data.bytes),
    );
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
      baseline: "kubetrail verify",
      unit: "entries",
      compare: "time",
    },
  );
  printNote(
    "Each system checks the same event bytes, all in the page cache (just written). kubetrail verify is a separate " +
      "process (its own CPU and peak RSS); the PostgreSQL row counts the server processes (PSS), not the client.",
  );
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
