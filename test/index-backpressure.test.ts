// `serve --index-max-lag` (2 s by default): while the query index is further behind what ingest
// acknowledged than the bound, a webhook batch waits for it (at most INDEX_WAIT_MAX_MS) before it is stored; once the index has
// caught up, batches go straight through. The index is held back for real: the test holds
// SQLite's write lock on DATA/index.db, so the index writer cannot commit.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INDEX_WAIT_MAX_MS } from "../src/index/lag-gate.js";
import { request } from "./fixtures/audit/request.js";
import {
  startServeInTempDir,
  type ServeInTempDir,
  type ServeProcess,
} from "./fixtures/audit/serve-process.js";

let running: ServeInTempDir | undefined;
let dir: string;
let serve: ServeProcess;
let ca: string;
let ingestToken: string;
let readToken: string;
let sent = 0;

/** `count` new Metadata events (auditIDs never sent before). */
function events(count: number): object[] {
  return Array.from({ length: count }, () => {
    const n = sent++;
    const time = new Date(Date.UTC(2026, 11, 6, 12, 0, 0) + n).toISOString();
    return {
      level: "Metadata",
      auditID: `bp-${String(n).padStart(8, "0")}`,
      stage: "ResponseComplete",
      requestURI: `/api/v1/namespaces/bp/pods/p${n}`,
      verb: "get",
      user: { username: "backpressure", groups: ["system:authenticated"] },
      sourceIPs: ["10.0.0.1"],
      objectRef: { resource: "pods", namespace: "bp", name: `p${n}`, apiVersion: "v1" },
      responseStatus: { metadata: {}, code: 200 },
      requestReceivedTimestamp: time,
      stageTimestamp: time,
    };
  });
}

/** Posts a batch of `count` new events; resolves with the milliseconds until its ack. */
async function post(count: number): Promise<number> {
  const started = performance.now();
  const reply = await request(serve.port, {
    method: "POST",
    path: "/v1/audit/webhook",
    ca,
    body: JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: events(count) }),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${ingestToken}` },
  });
  expect(reply.status).toBe(200);
  return performance.now() - started;
}

/** A counter or gauge of /metrics (0 when absent). */
async function metric(name: string): Promise<number> {
  const r = await request(serve.port, { path: "/metrics", ca });
  expect(r.status).toBe(200);
  const line = r.body.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** Waits (bounded) until the index holds every event sent so far. */
async function indexedAll(): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const r = await request(serve.port, {
      path: `/v1/events?audit-id=bp-${String(sent - 1).padStart(8, "0")}`,
      ca,
      headers: { Authorization: `Bearer ${readToken}` },
    });
    if (r.status === 200 && (JSON.parse(r.body) as { items: unknown[] }).items.length === 1) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`the index never caught up with ${sent} events`);
}

/** Each describe runs its own serve with these flags. */
function serveWith(flags: string[]): void {
  beforeAll(async () => {
    running = await startServeInTempDir("kubetrail-index-backpressure-", flags);
    ({ dir, serve, ca, ingestToken, readToken } = running);
    sent = 0;
  });
  afterAll(async () => {
    await running?.close();
  });
}

/** Holds SQLite's write lock on the index while `during` runs: the index writer cannot commit. */
async function withIndexHeld<T>(during: () => Promise<T>): Promise<T> {
  const blocker = new Database(join(dir, "index.db"));
  try {
    blocker.exec("BEGIN IMMEDIATE");
    return await during();
  } finally {
    blocker.exec("ROLLBACK");
    blocker.close();
  }
}

describe("serve --index-max-lag 0", () => {
  serveWith(["--index-max-lag", "0"]);

  it("never holds a webhook batch for the index, however far behind it is", async () => {
    await post(10);
    await indexedAll();
    const waitedMs = await withIndexHeld(async () => {
      const times: number[] = [];
      // Well past the default bound of 2 s.
      const until = performance.now() + 3_500;
      while (performance.now() < until) times.push(await post(10));
      expect(await metric("kubetrail_index_lag_seconds")).toBeGreaterThan(2);
      return times;
    });
    expect(Math.max(...waitedMs)).toBeLessThan(INDEX_WAIT_MAX_MS / 2);
    expect(await metric("kubetrail_ingest_index_waits_total")).toBe(0);
    await indexedAll();
  });
});

describe("serve by default (--index-max-lag 2s)", () => {
  serveWith([]);

  it("holds webhook batches while the index is behind, and lets them through once it caught up", async () => {
    await post(10);
    await indexedAll();
    expect(await metric("kubetrail_ingest_index_waits_total")).toBe(0);

    // Hold the index back: the writer cannot commit while this connection holds the write lock.
    let waitedMs: number[] = [];
    await withIndexHeld(async () => {
      // Accepted and durable at once until the index is more than 2 s behind what was
      // acknowledged; then each batch waits for it, up to INDEX_WAIT_MAX_MS, and still goes through.
      const deadline = performance.now() + 20_000;
      while (performance.now() < deadline && !waitedMs.some((ms) => ms >= INDEX_WAIT_MAX_MS * 0.9))
        waitedMs.push(await post(10));
      expect(waitedMs.some((ms) => ms >= INDEX_WAIT_MAX_MS * 0.9)).toBe(true);
      expect(await metric("kubetrail_ingest_index_waits_total")).toBeGreaterThanOrEqual(1);
      expect(await metric("kubetrail_ingest_index_wait_seconds_total")).toBeGreaterThanOrEqual(
        (INDEX_WAIT_MAX_MS / 1000) * 0.9,
      );
    });

    // Released: the index catches up with every event accepted meanwhile, and new batches no
    // longer wait (the bound leaves a loaded machine's writer two seconds to keep up).
    await indexedAll();
    const waits = await metric("kubetrail_ingest_index_waits_total");
    waitedMs = [await post(10), await post(10)];
    await indexedAll();
    expect(await metric("kubetrail_ingest_index_waits_total")).toBe(waits);
    expect(await metric("kubetrail_index_lag_entries")).toBe(0);
  });
});
