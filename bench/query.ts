// The forensic questions on the SQLite index against jq over the same events as JSON lines,
// and the indexing rate against the webhook ingest goal (30,000 events/s).
//
//   node build/bench/query.js [--quick] [--events=N] [--runs=N] [--jq-runs=N]
//
// The events span the 48 hours before now, so "--since 24h" and "--since 1h" select the way
// they would on a live cluster. kubetrail's figures are the library calls `kubetrail query`
// and GET /v1/events make (index search + reading each answer's bytes back from the log and
// checking its leaf hash); the CLI process, Node start-up included, is reported beside them.
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import path from "node:path";
import type { AuditEvent } from "../src/audit/types.js";
import { objectHistory } from "../src/index/history.js";
import { catchUp, openIndexForLog } from "../src/index/indexer.js";
import { parseFilter } from "../src/index/query.js";
import { resolveEntries } from "../src/index/resolve.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { openSnapshot } from "../src/store/storage.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { formatMicroTime, generateEvents, toLogLine } from "./gen/events.js";
import {
  intOption,
  log,
  markdownTable,
  measure,
  parseBenchArgs,
  percentile,
  printNote,
  printTable,
  runIfMain,
  runMeasured,
  tempDir,
} from "./harness.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { createChainTable, insertBatch, PostgresUnavailable, startPostgres } from "./baselines/postgres.js";
import {
  byCodeSince,
  byUserVerbSince,
  createForensicIndexes,
  objectHistory as pgObjectHistory,
  type ForensicQuery,
} from "./baselines/postgres-queries.js";

const INGEST_GOAL = 30_000;
/** `kubetrail query` shows 100 rows unless --limit says otherwise; ALL returns every match like jq. */
const PAGE = 100;
const ALL = 100_000;
const SPAN_S = 48 * 3600;
const CHANGE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

interface Targets {
  deleter: string;
  deployment: { namespace: string; name: string };
}

/** Most frequent key of a tally (ties: first seen). */
function top(tally: Map<string, number>): string {
  let best = "";
  let n = -1;
  for (const [k, v] of tally) if (v > n) [best, n] = [k, v];
  return best;
}

/** Appends `count` generated events to a new fs log and the same lines to a JSON-lines file. */
async function load(dataDir: string, jsonl: string, count: number, nowUs: number): Promise<Targets> {
  const startTime = formatMicroTime(nowUs - SPAN_S * 1e6);
  const deleters = new Map<string, number>();
  const deployments = new Map<string, number>();
  const since24h = formatMicroTime(nowUs - 24 * 3600e6);
  const fsLog = await openFsLog(dataDir, { integrateIntervalMs: 250 });
  const fd = openSync(jsonl, "w");
  const inflight: Promise<unknown>[] = [];
  let batch: Buffer[] = [];
  let text: string[] = [];
  const tally = (ev: AuditEvent): void => {
    if (ev.stage !== "ResponseComplete") return;
    const user = ev.user.username ?? "";
    if (ev.verb === "delete" && ev.requestReceivedTimestamp >= since24h) {
      deleters.set(user, (deleters.get(user) ?? 0) + 1);
    }
    const ref = ev.objectRef;
    if (ref?.resource === "deployments" && ref.namespace && ref.name && CHANGE_VERBS.has(ev.verb)) {
      const key = `${ref.namespace}/${ref.name}`;
      deployments.set(key, (deployments.get(key) ?? 0) + 1);
    }
  };
  let done = 0;
  for (const ev of generateEvents({ seed: 7, count, startTime, ratePerSecond: count / SPAN_S })) {
    tally(ev);
    const line = toLogLine(ev);
    batch.push(Buffer.from(line, "utf8"));
    text.push(line);
    if (batch.length === 1000) {
      inflight.push(fsLog.append(batch));
      writeSync(fd, text.join("\n") + "\n");
      done += batch.length;
      batch = [];
      text = [];
      if (inflight.length >= 8) await Promise.all(inflight.splice(0));
      if (done % 200_000 === 0) log(`query: loaded ${done} events`);
    }
  }
  if (batch.length > 0) {
    inflight.push(fsLog.append(batch));
    writeSync(fd, text.join("\n") + "\n");
  }
  await Promise.all(inflight);
  closeSync(fd);
  await fsLog.waitIntegrated(count);
  await fsLog.close();
  const [namespace, name] = top(deployments).split("/") as [string, string];
  return { deleter: top(deleters), deployment: { namespace, name } };
}

/**
 * The same questions as SQL on a hash-chained PostgreSQL table holding the same events, with
 * expression indexes: the do-it-yourself alternative. Null when PostgreSQL is not installed.
 */
async function postgresAnswers(
  jsonl: string,
  queries: ForensicQuery[],
  runs: number,
): Promise<{ rows: number; p50: number }[] | null> {
  let server;
  try {
    server = await startPostgres();
  } catch (err) {
    if (err instanceof PostgresUnavailable) {
      log(`query: no PostgreSQL row (${err.message})`);
      return null;
    }
    throw err;
  }
  const client = await server.client();
  try {
    await createChainTable(client);
    let batch: string[] = [];
    for await (const line of createInterface({ input: createReadStream(jsonl), crlfDelay: Infinity })) {
      if (line === "") continue;
      batch.push(line);
      if (batch.length === 1000) {
        await insertBatch(client, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await insertBatch(client, batch);
    await createForensicIndexes(client);
    const out: { rows: number; p50: number }[] = [];
    for (const q of queries) {
      const rows = (await client.query(q.sql, q.params)).rowCount ?? 0; // warm-up
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await client.query(q.sql, q.params);
        ms.push(performance.now() - t);
      }
      out.push({ rows, p50: percentile(ms, 50) });
    }
    return out;
  } finally {
    await client.end();
    await server.stop();
  }
}

interface Question {
  title: string;
  sql: ForensicQuery;
  cli: string[];
  jq: string;
  /** Answers in process with at most `limit` rows; resolves to the number of rows. */
  answer: (limit: number) => Promise<number>;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const count = intOption(args, "events", args.quick ? 100_000 : 2_000_000);
  const runs = intOption(args, "runs", args.quick ? 15 : 25);
  const jqRuns = intOption(args, "jq-runs", 3);
  const dir = tempDir("query");
  const dataDir = path.join(dir, "data");
  const jsonl = path.join(dir, "events.jsonl");
  const nowUs = Date.now() * 1000;

  log(`query: generating and appending ${count} events`);
  const targets = await load(dataDir, jsonl, count, nowUs);

  // Indexing from the log, as `kubetrail reindex` and the serve indexer do it.
  const snapshot = await openSnapshot(fsStorage(dataDir));
  let { index } = openIndexForLog(dataDir, snapshot, { rebuild: true });
  log("query: indexing");
  const indexing = await measure("kubetrail index (from the fs log)", { items: count }, async () => {
    await catchUp(index, snapshot);
    index.optimize();
  });
  index.close();
  printTable(`Indexing ${count.toLocaleString("en-US")} events`, [indexing], { unit: "events" });
  const rate = count / indexing.wallS;
  printNote(
    `Indexing rate ${Math.round(rate).toLocaleString("en-US")} events/s = ${(rate / INGEST_GOAL).toFixed(2)}× the ` +
      `webhook ingest goal of ${INGEST_GOAL.toLocaleString("en-US")} events/s (reads entry bundles, parses each ` +
      "event, one SQLite transaction per 16,384 entries, WAL, synchronous=NORMAL).",
  );

  index = openIndexForLog(dataDir, snapshot).index;
  const since = (hours: number): string => formatMicroTime(nowUs - hours * 3600e6);
  const { deleter, deployment } = targets;
  // The windows are anchored at the same instant as jq's, so both answer the same question.
  const search = async (raw: Record<string, string[]>, limit: number): Promise<number> => {
    const filter = parseFilter({ ...raw, limit: [String(limit)] });
    filter.logSize = snapshot.size();
    const rows = index.search(filter, nowUs).rows;
    return (await resolveEntries(snapshot, rows)).length;
  };
  const questions: Question[] = [
    {
      title: `query --user ${deleter} --verb delete --since 24h`,
      cli: ["query", "--user", deleter, "--verb", "delete", "--since", "24h", "--limit", "100000"],
      jq: `select(.stage == "ResponseComplete" and .user.username == ${JSON.stringify(deleter)} and .verb == "delete" and .requestReceivedTimestamp >= ${JSON.stringify(since(24))}) | .auditID`,
      sql: byUserVerbSince(deleter, "delete", since(24)),
      answer: (limit) => search({ user: [deleter], verb: ["delete"], since: ["24h"] }, limit),
    },
    {
      title: `history deployment/${deployment.name} -n ${deployment.namespace}`,
      cli: ["history", `deployment/${deployment.name}`, "-n", deployment.namespace],
      jq:
        `select(.stage == "ResponseComplete" and .objectRef.resource == "deployments" and .objectRef.apiGroup == "apps" ` +
        `and .objectRef.namespace == ${JSON.stringify(deployment.namespace)} and .objectRef.name == ${JSON.stringify(deployment.name)} ` +
        `and (.verb == "create" or .verb == "update" or .verb == "patch" or .verb == "delete" or .verb == "deletecollection")) | .auditID`,
      sql: pgObjectHistory("deployments", "apps", deployment.namespace, deployment.name),
      answer: async (limit) =>
        (
          await objectHistory(
            index,
            snapshot,
            { resource: { resource: "deployments", apiGroup: "apps" }, ...deployment, limit },
            nowUs,
          )
        ).reduce((n, o) => n + o.items.length, 0),
    },
    {
      title: "query --code 403 --since 1h",
      cli: ["query", "--code", "403", "--since", "1h", "--limit", "100000"],
      jq: `select(.stage == "ResponseComplete" and .responseStatus.code == 403 and .requestReceivedTimestamp >= ${JSON.stringify(since(1))}) | .auditID`,
      sql: byCodeSince(403, since(1)),
      answer: (limit) => search({ code: ["403"], since: ["1h"] }, limit),
    },
  ];

  const cli = kubetrailCli();
  const table: string[][] = [];
  for (const q of questions) {
    log(`query: ${q.title}`);
    let matches = 0;
    matches = await q.answer(ALL); // warm-up: pages in the index and the bundles it points at
    const page = await measure(q.title, { items: runs }, async (probe) => {
      for (let i = 0; i < runs; i++) await probe.time(() => q.answer(PAGE));
    });
    const ours = await measure(q.title, { items: runs }, async (probe) => {
      for (let i = 0; i < runs; i++) await probe.time(() => q.answer(ALL));
    });
    const cliMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runMeasured(process.execPath, [cli, ...q.cli, "--data", dataDir, "-o", "jsonl"]);
      if (r.code !== 0) throw new Error(`${q.title}: CLI exit ${r.code}: ${r.stderr}`);
      cliMs.push(r.wallS * 1000);
    }
    const jqMs: number[] = [];
    let jqMatches = 0;
    for (let i = 0; i < jqRuns; i++) {
      const r = await runMeasured("jq", ["-r", q.jq, jsonl]);
      if (r.code !== 0) throw new Error(`jq failed: ${r.stderr}`);
      jqMatches = r.stdout.split("\n").filter((l) => l !== "").length;
      jqMs.push(r.wallS * 1000);
    }
    const page50 = percentile(page.latenciesMs ?? [], 50);
    const p50 = percentile(ours.latenciesMs ?? [], 50);
    const jq50 = percentile(jqMs, 50);
    table.push([
      `\`${q.title}\``,
      String(matches),
      String(jqMatches),
      page50.toFixed(2),
      p50.toFixed(2),
      percentile(ours.latenciesMs ?? [], 99).toFixed(2),
      percentile(cliMs, 50).toFixed(0),
      jq50.toFixed(0),
      `${(jq50 / page50).toFixed(0)}× / ${(jq50 / p50).toFixed(0)}×`,
    ]);
  }
  index.close();
  log("query: loading the same events into PostgreSQL");
  const pgRows = args.rest.includes("--no-pg")
    ? null
    : await postgresAnswers(
        jsonl,
        questions.map((q) => q.sql),
        runs,
      );
  table.forEach((row, i) => {
    const pgRow = pgRows?.[i];
    row.push(pgRow ? String(pgRow.rows) : "—", pgRow ? pgRow.p50.toFixed(2) : "—");
  });
  process.stdout.write(
    `\n#### Forensic questions over ${count.toLocaleString("en-US")} events (warm, median of ${runs}; jq median of ${jqRuns})\n\n` +
      markdownTable(
        [
          "question",
          "rows",
          "jq rows",
          `first ${PAGE} p50 ms`,
          "all rows p50 ms",
          "all rows p99 ms",
          "CLI process p50 ms",
          "jq p50 ms",
          "jq / kubetrail (page / all)",
          "PostgreSQL rows",
          "PostgreSQL p50 ms",
        ],
        table,
      ) +
      "\n",
  );
  printNote(
    "kubetrail: the index search plus reading every answer's bytes back from the log (one positioned read per " +
      "entry) and checking its leaf hash, in process (what GET /v1/events and the CLI do); the first page is what " +
      `\`kubetrail query\` shows by default (${PAGE} rows), "all rows" returns every match as jq does. CLI process: ` +
      "the same question as `kubetrail … -o jsonl`, all rows, a fresh Node process each time (start-up included). jq reads the same " +
      "events as one JSON-lines file from the page cache. Row counts differ only where a request's final stage is not " +
      "ResponseComplete (kubetrail's default is one row per request, its final stage). PostgreSQL: the hash-chained " +
      "table of the append bench filled with the same lines, expression indexes for the three questions, the SQL " +
      "returning auditIDs of all matches (no read-back or proof), warm, median of the same runs; --no-pg skips it.",
  );
}

runIfMain(import.meta.url, main);
