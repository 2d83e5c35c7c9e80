// The index fed with ingest's parsed events (indexer.ts, as `serve` wires it) on a real data
// directory: every filter answers as an index rebuilt from the log does, other writers' entries
// are read from the log, a restart catches up from the log, and the lag is on /metrics.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { INDEX_FILE } from "../src/index/db.js";
import { STRING_COLUMNS } from "../src/index/schema.js";
import type { AuditEvent } from "../src/audit/types.js";
import { catchUp, openIndexForLog, startIndexer, type Indexer } from "../src/index/indexer.js";
import { parseFilter, type RawFilter } from "../src/index/query.js";
import { resolveEntries } from "../src/index/resolve.js";
import { packBatch, unpackBatch } from "../src/ingest/receive.js";
import { registerIndexMetrics } from "../src/server/routes/query.js";
import { auditEvent } from "./detect-helpers.js";
import { makeRng } from "../bench/gen/rng.js";
import { eventList } from "./fixtures/audit/events.js";
import { onDemandIngest } from "./fixtures/on-demand-ingest.js";

const SEED = 24_06;
const NOW_US = Date.parse("2026-11-21T07:00:00Z") * 1000;

const { dataDir: tempDir, ingestAt, cleanups } = onDemandIngest("kubetrail-index-feed-");

/** Requests over every field a filter looks at; most as two stages, some only received. */
function requests(seed: number, count: number): AuditEvent[] {
  const rng = makeRng(seed);
  const r = () => rng.next();
  const pick = <T>(xs: readonly T[]): T => rng.pick(xs);
  const out: AuditEvent[] = [];
  for (let i = 0; i < count; i++) {
    const user = pick(["alice", "bob", "system:serviceaccount:kube-system:deployer", "mallory"]);
    const ref = pick([
      { resource: "pods", namespace: "prod", name: `web-${i % 5}` },
      { resource: "pods", subresource: "exec", namespace: "dev", name: "web-1" },
      { resource: "secrets", namespace: "prod", name: "db" },
      { resource: "deployments", apiGroup: "apps", namespace: "dev", name: "api" },
      { resource: "namespaces", name: "dev" },
    ]);
    const base = {
      auditID: `feed-${seed}-${i}`,
      verb: pick(["get", "list", "create", "delete", "patch"]),
      user: { username: user, groups: pick([["system:authenticated"], ["system:authenticated", "ops"]]) },
      objectRef: ref,
      sourceIPs: [pick(["10.0.0.7", "203.0.113.9", "192.0.2.1"]), "10.9.9.9"],
      requestReceivedTimestamp: new Date(Date.parse("2026-11-21T06:00:00Z") + i * 7_000)
        .toISOString()
        .replace("Z", "123Z"),
      annotations: { "authorization.k8s.io/decision": pick(["allow", "forbid"]) },
      ...(r() < 0.1 ? { impersonatedUser: { username: "root-ish" } } : {}),
    };
    out.push(auditEvent({ ...base, stage: "RequestReceived", responseStatus: undefined }));
    if (r() < 0.85)
      out.push(
        auditEvent({ ...base, responseStatus: { metadata: {}, code: pick([200, 201, 403, 404, 500]) } }),
      );
  }
  return out;
}

/** One value of every filter, as the CLI flags and URL parameters spell them. */
const FILTERS: RawFilter[] = [
  {},
  { user: ["alice"] },
  { user: ["bob", "mallory"], verb: ["delete"] },
  { group: ["ops"] },
  { verb: ["create", "patch"] },
  { resource: ["pods/exec"] },
  { resource: ["pods/*"] },
  { resource: ["deployments.apps"] },
  { resource: ["secrets"], namespace: ["prod"] },
  { namespace: ["dev"] },
  { name: ["web-1"] },
  { code: ["403"] },
  { code: ["4xx", "5xx"] },
  { since: ["50m"] },
  { from: ["2026-11-21T06:05:00Z"], to: ["2026-11-21T06:20:00Z"] },
  { "source-ip": ["203.0.113.9"] },
  { decision: ["forbid"] },
  { kind: ["event"] },
  { stage: ["RequestReceived"] },
  { stage: ["RequestReceived", "ResponseComplete"], asc: ["true"] },
  { "audit-id": [`feed-${SEED}-3`, `feed-${SEED}-7`], stage: ["RequestReceived", "ResponseComplete"] },
  { user: ["nobody-ever"] },
];

/** Every row of an index file as values (strings and group lists, not their ids), in log order. */
function rowsIn(dir: string): unknown[] {
  const db = new Database(join(dir, INDEX_FILE), { readonly: true });
  try {
    const strings = STRING_COLUMNS.map((c) => `(SELECT value FROM strings WHERE id = e.${c}) AS ${c}`);
    return db
      .prepare(
        `SELECT e.idx, hex(e.leaf) AS leaf, e.time_us, e.code, CAST(e.audit AS TEXT) AS audit, e.stage_rank, ` +
          `e.final, e.level, ${strings.join(", ")}, ` +
          `(SELECT groups FROM group_sets WHERE id = e.group_set) AS groups FROM entries e ORDER BY e.idx`,
      )
      .all();
  } finally {
    db.close();
  }
}

/**
 * Stores events in every form the indexer is handed them: parsed in this thread, as a receive
 * worker's bytes and digest, and another writer's entry (read from the log); then integrates.
 */
async function ingestEveryForm(
  ingest: Awaited<ReturnType<typeof ingestAt>>,
  events: AuditEvent[],
  tag: string,
) {
  const third = Math.floor(events.length / 3);
  await ingest.pipeline.ingest(structuredClone(events.slice(0, third)));
  const prepared = await ingest.receiver.receive(Buffer.from(eventList(events.slice(third, 2 * third))));
  await ingest.pipeline.ingestPrepared(unpackBatch(packBatch(prepared)));
  await ingest.log.append([Buffer.from(JSON.stringify(auditEvent({ auditID: `other-writer-${tag}` })))]);
  await ingest.pipeline.ingest(structuredClone(events.slice(2 * third)));
  await ingest.log.waitIntegrated(ingest.log.size());
}

describe("the index written by a worker thread", () => {
  it("holds the same rows as an index written in the server's thread, in every form entries come", async () => {
    console.log(`index-writer seed ${SEED + 10}`);
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const [inWorker, inThread] = [join(dir, "worker"), join(dir, "thread")];
    for (const d of [inWorker, inThread]) mkdirSync(d);
    const workers: Worker[] = [];
    const worker = startIndexer(ingest.log, inWorker, {
      pipeline: ingest.pipeline,
      checkOnStart: false,
      onWriterStarted: (w) => workers.push(w),
    });
    const thread = startIndexer(ingest.log, inThread, {
      pipeline: ingest.pipeline,
      checkOnStart: false,
      writeIn: "thread",
      onWriterStarted: (w) => workers.push(w),
    });
    cleanups.push(
      () => worker.stop(),
      () => thread.stop(),
    );
    await ingestEveryForm(ingest, requests(SEED + 10, 200), "a");
    await Promise.all([worker.caughtUp(), thread.caughtUp()]);
    expect(workers).toHaveLength(1); // the thread writer starts none
    expect(worker.position()).toBe(ingest.log.size());
    const rows = rowsIn(inWorker);
    expect(rows).toHaveLength(ingest.log.size());
    expect(rows).toEqual(rowsIn(inThread));
    expect(worker.sources().busySeconds).toBeGreaterThan(0);
  });

  it("restarts a writer worker that died, then writes in the server's thread once they keep dying", async () => {
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const workers: Worker[] = [];
    const errors: string[] = [];
    const indexer: Indexer = startIndexer(ingest.log, dir, {
      pipeline: ingest.pipeline,
      checkOnStart: false,
      onWriterStarted: (w) => workers.push(w),
      onError: (err) => errors.push(String(err)),
    });
    cleanups.push(() => indexer.stop());
    const users = (name: string) =>
      indexer.read((ix) => ix.search(parseFilter({ user: [name], limit: ["1000"] }), NOW_US).rows.length);
    for (let round = 0; round < 5; round++) {
      // A string the reading connection looked for in vain is found once the worker wrote it.
      const user = `late-user-${round}`;
      expect(users(user), `round ${round}`).toBe(0);
      await workers[workers.length - 1]!.terminate();
      const events = requests(SEED + 20 + round, 10).map((e) => ({
        ...e,
        user: { ...e.user, username: user },
      }));
      await ingest.pipeline.ingest(events);
      await ingest.log.waitIntegrated(ingest.log.size());
      await indexer.caughtUp();
      expect(indexer.position(), `round ${round}`).toBe(ingest.log.size());
      expect(users(user), `round ${round}`).toBeGreaterThan(0);
      expect(errors.filter((e) => e.includes("index writer worker stopped"))).toHaveLength(
        Math.min(round + 1, 4),
      );
    }
    // Three restarts, then no more workers: the fourth death moved writing into this thread.
    expect(workers).toHaveLength(4);
    expect(errors.filter((e) => e.includes("writing in this thread"))).toHaveLength(1);
    expect(rowsIn(dir)).toHaveLength(ingest.log.size());
  });

  it("a writer worker dying in the middle of a run loses no entry and rebuilds nothing", async () => {
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const workers: Worker[] = [];
    const errors: string[] = [];
    const rebuilds: string[] = [];
    const indexer = startIndexer(ingest.log, dir, {
      pipeline: ingest.pipeline,
      checkOnStart: false,
      onWriterStarted: (w) => workers.push(w),
      onError: (err) => errors.push(String(err)),
      onRebuild: (r) => rebuilds.push(r),
    });
    cleanups.push(() => indexer.stop());
    // Several batches: one is written, the next waits in the worker, more are to come.
    await ingest.pipeline.ingest(requests(SEED + 40, 8000));
    const size = ingest.log.size();
    await ingest.log.waitIntegrated(size);
    while (indexer.position() === 0) await new Promise((r) => setTimeout(r, 1));
    const killedAt = indexer.position();
    await workers[0]!.terminate();
    await indexer.caughtUp();
    expect(killedAt).toBeLessThan(size);
    expect(errors.some((e) => e.includes("index writer worker stopped"))).toBe(true);
    expect(rebuilds).toEqual([]);
    expect(workers).toHaveLength(2);
    expect((rowsIn(dir) as { idx: number }[]).map((r) => r.idx)).toEqual(
      Array.from({ length: size }, (_, i) => i),
    );
  });

  it("refills an index `kubetrail reindex` emptied beside it, and reads see the strings written again", async () => {
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const rebuilds: string[] = [];
    const indexer = startIndexer(ingest.log, dir, {
      pipeline: ingest.pipeline,
      checkOnStart: false,
      onRebuild: (r) => rebuilds.push(r),
    });
    cleanups.push(() => indexer.stop());
    const alice = () =>
      indexer.read((ix) => ix.search(parseFilter({ user: ["alice"], limit: ["1000"] }), NOW_US).rows.length);
    await ingest.pipeline.ingest(requests(SEED + 50, 300));
    await ingest.log.waitIntegrated(ingest.log.size());
    await indexer.caughtUp();
    const before = alice();
    expect(before).toBeGreaterThan(0);
    // What `kubetrail reindex` does to the file (a new generation, empty tables), from another connection.
    openIndexForLog(dir, ingest.log, { rebuild: true }).index.close();
    expect(alice()).toBe(0);
    await ingest.pipeline.ingest(requests(SEED + 51, 300));
    await ingest.log.waitIntegrated(ingest.log.size());
    await indexer.caughtUp();
    expect((rowsIn(dir) as { idx: number }[]).map((r) => r.idx)).toEqual(
      Array.from({ length: ingest.log.size() }, (_, i) => i),
    );
    expect(alice()).toBeGreaterThan(before);
    expect(rebuilds).toEqual([]);
  });

  it("stop() while a batch is being written leaves rows and position committed together", async () => {
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const first = startIndexer(ingest.log, dir, { pipeline: ingest.pipeline, checkOnStart: false });
    await ingest.pipeline.ingest(requests(SEED + 30, 3000));
    const size = ingest.log.size();
    await ingest.log.waitIntegrated(size);
    // Give the follower a first batch to start on, then stop in the middle of the run.
    await new Promise((r) => setTimeout(r, 5));
    await first.stop();
    const rows = rowsIn(dir) as { idx: number }[];
    const db = new Database(join(dir, INDEX_FILE), { readonly: true });
    const { position } = db.prepare("SELECT position FROM meta").get() as { position: number };
    db.close();
    expect(rows.map((r) => r.idx)).toEqual(Array.from({ length: position }, (_, i) => i));
    const second = startIndexer(ingest.log, dir, { pipeline: ingest.pipeline, checkOnStart: false });
    cleanups.push(() => second.stop());
    await second.caughtUp();
    expect(rowsIn(dir)).toHaveLength(size);
  });
});

describe("the index fed by the ingest pipeline", () => {
  it("answers every filter as an index rebuilt from the log does, reading only other writers' entries again", async () => {
    console.log(`index-feed seed ${SEED}`);
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const indexer = startIndexer(ingest.log, dir, { pipeline: ingest.pipeline, checkOnStart: false });
    cleanups.push(() => indexer.stop());
    const events = requests(SEED, 120);
    const third = Math.floor(events.length / 3);
    // Parsed in this thread (import, follow), as webhook bytes from a receive worker, and an
    // entry another writer appended between them.
    await ingest.pipeline.ingest(structuredClone(events.slice(0, third)));
    const prepared = await ingest.receiver.receive(Buffer.from(eventList(events.slice(third, 2 * third))));
    await ingest.pipeline.ingestPrepared(unpackBatch(packBatch(prepared)));
    await ingest.log.append([Buffer.from(JSON.stringify(auditEvent({ auditID: "other-writer" })))]);
    await ingest.pipeline.ingest(structuredClone(events.slice(2 * third)));
    const size = ingest.log.size();
    expect(indexer.lag()).toEqual({ entries: 0, seconds: 0 }); // nothing integrated yet
    // ...but all of it acknowledged: the backlog counts from when ingest stored each entry.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const backlog = indexer.backlog();
    expect(backlog.entries).toBe(size);
    expect(backlog.seconds).toBeGreaterThanOrEqual(0.05);
    await ingest.log.waitIntegrated(size);
    await indexer.caughtUp();
    expect(indexer.position()).toBe(size);
    expect(indexer.sources()).toMatchObject({ fromMemory: size - 1, fromLog: 1 });
    expect(indexer.lag()).toEqual({ entries: 0, seconds: 0 });
    expect(indexer.backlog()).toEqual({ entries: 0, seconds: 0 });

    const refDir = await tempDir();
    const { index: rebuilt } = openIndexForLog(refDir, ingest.log, { rebuild: true });
    cleanups.push(async () => rebuilt.close());
    await catchUp(rebuilt, ingest.log);
    const answer = (ix: typeof rebuilt, raw: RawFilter) => {
      const filter = parseFilter({ limit: ["1000"], ...raw });
      return ix.search(filter, NOW_US).rows;
    };
    for (const raw of FILTERS) {
      const fed = indexer.read((ix) => answer(ix, raw));
      const ref = answer(rebuilt, raw);
      expect(
        fed.map((r) => r.idx),
        JSON.stringify(raw),
      ).toEqual(ref.map((r) => r.idx));
      if (raw.user?.[0] !== "nobody-ever") expect(fed.length, JSON.stringify(raw)).toBeGreaterThan(0);
      // Each answer reads back from the log and matches the leaf hash the index kept.
      const resolved = await resolveEntries(ingest.log, fed);
      expect(resolved.every((e) => e.gone === undefined)).toBe(true);
    }
    // Spot checks against the events themselves, not only against the other index.
    const aliceFinal = indexer.read((ix) => answer(ix, { user: ["alice"], code: ["403"] }));
    const resolved = await resolveEntries(ingest.log, aliceFinal);
    expect(resolved.map((e) => [e.row.user, e.row.code, e.row.stage])).toEqual(
      resolved.map(() => ["alice", 403, "ResponseComplete"]),
    );
    const expected = events.filter(
      (e) => e.user.username === "alice" && e.responseStatus?.code === 403 && e.stage === "ResponseComplete",
    );
    expect(resolved.map((e) => e.row.auditID).sort()).toEqual(expected.map((e) => e.auditID).sort());
  });

  it("after a restart catches up from the log, and reports its lag on /metrics", async () => {
    const dir = await tempDir();
    const ingest = await ingestAt(dir);
    const registry = new Registry();
    const first = startIndexer(ingest.log, dir, { pipeline: ingest.pipeline, checkOnStart: false });
    await ingest.pipeline.ingest(requests(SEED + 1, 20));
    await ingest.log.waitIntegrated(ingest.log.size());
    await first.caughtUp();
    const indexedBefore = first.position();
    await first.stop();
    // Stored and integrated while no indexer ran: only the log has them.
    await ingest.pipeline.ingest(requests(SEED + 2, 30));
    await ingest.log.waitIntegrated(ingest.log.size());
    const second = startIndexer(ingest.log, dir, { pipeline: ingest.pipeline, checkOnStart: false });
    cleanups.push(() => second.stop());
    registerIndexMetrics(second, registry);
    const behind = ingest.log.size() - indexedBefore;
    expect(second.lag().entries).toBe(behind);
    // Stored before this indexer started: the checkpoint's marks stand for them.
    expect(second.backlog().entries).toBe(behind);
    expect(await registry.getSingleMetricAsString("kubetrail_index_lag_entries")).toContain(
      `kubetrail_index_lag_entries ${behind}`,
    );
    await second.caughtUp();
    expect(second.position()).toBe(ingest.log.size());
    expect(second.sources()).toMatchObject({ fromMemory: 0, fromLog: behind });
    expect(await registry.getSingleMetricAsString("kubetrail_index_lag_entries")).toContain(
      "kubetrail_index_lag_entries 0",
    );
    expect(await registry.getSingleMetricAsString("kubetrail_index_lag_seconds")).toContain(
      "kubetrail_index_lag_seconds 0",
    );
    expect(await registry.getSingleMetricAsString("kubetrail_index_ack_lag_seconds")).toContain(
      "kubetrail_index_ack_lag_seconds 0",
    );
    expect(await registry.getSingleMetricAsString("kubetrail_index_entries_total")).toContain(
      `kubetrail_index_entries_total{source="log"} ${behind}`,
    );
  });
});
