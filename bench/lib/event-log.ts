// One generated, indexed event log that several benches can share: generating and indexing
// 2M events takes longer than most of the benches that read them, so `--data-dir=DIR` keeps
// the log in DIR and a later run (of the same or another bench) reuses it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { catchUp, openIndexForLog } from "../../src/index/indexer.js";
import { fsStorage, openFsLog } from "../../src/store/fs/storage.js";
import { openSnapshot } from "../../src/store/storage.js";
import { formatMicroTime, generateEvents, toLogLine } from "../gen/events.js";
import { log } from "../harness.js";

/** What a reader of the log needs to know about it; kept beside the log as `bench-log.json`. */
export interface BenchLog {
  count: number;
  seed: number;
  spanS: number;
  /** When the last event happened (µs since the epoch); the first is spanS earlier. */
  endUs: number;
  /** A Deployment with the median number of changes: a typical `history` question. */
  typicalDeployment: { namespace: string; name: string };
}

const MARK = "bench-log.json";
const SEED = 26;
const SPAN_S = 7 * 24 * 3600;
const CHANGE_VERBS = new Set(["create", "update", "patch", "delete"]);

/**
 * The log of `count` generated events (seed 26, one week ending now) in `dataDir`, appended
 * and indexed as serve would; reused when `dataDir` already holds one of that size.
 */
export async function benchEventLog(dataDir: string, count: number): Promise<BenchLog> {
  const mark = path.join(dataDir, MARK);
  if (existsSync(mark)) {
    const kept = JSON.parse(readFileSync(mark, "utf8")) as BenchLog;
    if (kept.count !== count)
      throw new Error(
        `${dataDir} holds a bench log of ${kept.count} events, not ${count}: give another --data-dir`,
      );
    log(`reusing the bench log of ${count} events in ${dataDir}`);
    return kept;
  }
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0)
    throw new Error(`${dataDir} is not empty and holds no ${MARK}: give an empty or new --data-dir`);
  log(`generating, appending and indexing ${count} events in ${dataDir}`);
  const endUs = Date.now() * 1000;
  const log_ = await openFsLog(dataDir, { integrateIntervalMs: 250 });
  const changes = new Map<string, number>();
  let batch: Buffer[] = [];
  const inflight: Promise<unknown>[] = [];
  let done = 0;
  for (const ev of generateEvents({
    seed: SEED,
    count,
    startTime: formatMicroTime(endUs - SPAN_S * 1e6),
    ratePerSecond: count / SPAN_S,
  })) {
    const ref = ev.objectRef;
    if (ref?.resource === "deployments" && ref.namespace && ref.name && CHANGE_VERBS.has(ev.verb)) {
      const key = `${ref.namespace}/${ref.name}`;
      changes.set(key, (changes.get(key) ?? 0) + 1);
    }
    batch.push(Buffer.from(toLogLine(ev), "utf8"));
    if (batch.length === 1000) {
      inflight.push(log_.append(batch));
      batch = [];
      done += 1000;
      if (inflight.length >= 8) await Promise.all(inflight.splice(0));
      if (done % 500_000 === 0) log(`appended ${done} events`);
    }
  }
  if (batch.length > 0) inflight.push(log_.append(batch));
  await Promise.all(inflight);
  await log_.waitIntegrated(count);
  await log_.close();
  const snapshot = await openSnapshot(fsStorage(dataDir));
  const { index } = openIndexForLog(dataDir, snapshot, { rebuild: true });
  log("indexing");
  await catchUp(index, snapshot);
  index.optimize();
  index.close();
  const sorted = [...changes].sort((a, b) => a[1] - b[1]);
  const [namespace, name] = (sorted[Math.floor(sorted.length / 2)]?.[0] ?? "default/web").split("/") as [
    string,
    string,
  ];
  const made: BenchLog = { count, seed: SEED, spanS: SPAN_S, endUs, typicalDeployment: { namespace, name } };
  // Written last: a run stopped half-way leaves no mark, and the next run refuses the directory.
  writeFileSync(mark, JSON.stringify(made, null, 2) + "\n");
  return made;
}
