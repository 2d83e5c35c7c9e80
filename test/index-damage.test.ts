// A damaged DATA/index.db behind the real HTTPS routes: found by SQLite on a query (or by its
// quick_check on start), deleted and refilled from the log in the background. Meanwhile
// queries answer 503 saying so (never 500), /readyz stays 200 naming the index as degraded,
// the log keeps taking entries, and afterwards the answers are what they were.
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents } from "../bench/gen/events.js";
import { INDEX_FILE } from "../src/index/db.js";
import { startIndexer, type Indexer } from "../src/index/indexer.js";
import { createCa, issueCert, type IssuedPem, type Issuer } from "../src/server/certs.js";
import { createMetrics } from "../src/server/metrics.js";
import { healthRoutes } from "../src/server/routes/health.js";
import { queryRoutes } from "../src/server/routes/query.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { makeRng } from "../bench/gen/rng.js";
import { request } from "./fixtures/audit/request.js";

const READ_TOKEN = "index-damage-read-token";
const COUNT = 20_000;
const SEED = 7319;

let dir: string;
let log: Awaited<ReturnType<typeof openFsLog>>;
let ca: Issuer & IssuedPem;
let server: RunningServer | undefined;
let indexer: Indexer | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-index-damage-"));
  log = await openFsLog(dir, { integrateIntervalMs: 20 });
  const events = [...generateEvents({ seed: 11, count: COUNT })].map((e) =>
    Buffer.from(JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", ...e })),
  );
  for (let i = 0; i < events.length; i += 2000) await log.append(events.slice(i, i + 2000));
  await log.waitIntegrated(COUNT);
  ca = await createCa("index damage CA");
}, 120_000);

afterAll(async () => {
  await server?.close(1000);
  await indexer?.stop().catch(() => undefined);
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Serves queryRoutes and health over `idx` on a fresh HTTPS server. */
async function serve(idx: Indexer): Promise<RunningServer> {
  const serving = await issueCert(ca, {
    commonName: "kubetrail",
    hosts: ["127.0.0.1", "localhost"],
    usage: "server",
  });
  const metrics = createMetrics();
  return startServer(
    {
      routes: [
        ...healthRoutes({
          ready: () => true,
          registry: metrics.registry,
          degraded: () => (idx.status().state === "ready" ? [] : [{ part: "index", ...idx.status() }]),
        }),
        ...queryRoutes({ log, index: idx, verifierKey: log.verifierKey }),
      ],
      auth: { ingestTokens: [], readTokens: [READ_TOKEN] },
      logger: pino({ level: "silent" }),
      metrics,
      tls: { cert: serving.certPem, key: serving.keyPem },
    },
    { host: "127.0.0.1", port: 0 },
  );
}

const get = (path: string) =>
  request(server!.port, { path, ca: ca.certPem, headers: { Authorization: `Bearer ${READ_TOKEN}` } });

/**
 * Overwrites pages of the index file after the first few (the header, schema and meta) with
 * seeded random bytes, the way a bad disk or a stray write would.
 */
function damagePages(file: string, seed: number): void {
  console.log(`index damage seed ${seed}`);
  const rng = makeRng(seed);
  const pageSize = 4096;
  const pages = Math.floor(statSync(file).size / pageSize);
  const fd = openSync(file, "r+");
  try {
    for (let p = 4; p < pages; p++) {
      const junk = Buffer.alloc(pageSize);
      for (let i = 0; i < pageSize; i++) junk[i] = rng.int(256);
      writeSync(fd, junk, 0, pageSize, p * pageSize);
    }
  } finally {
    closeSync(fd);
  }
}

describe("a damaged query index while serving", () => {
  it("answers 503 while it rebuilds from the log, then the same answers as before", async () => {
    // Everything before 2027; the entries appended during the rebuild come later.
    const query = "/v1/events?verb=delete,patch&limit=200&to=2027-01-01T00:00:00Z";
    const first = startIndexer(log, dir, { checkOnStart: false });
    await first.caughtUp();
    server = await serve(first);
    const before = await get(query);
    expect(before.status).toBe(200);
    const expected = (JSON.parse(before.body) as { items: { index: number }[] }).items.map((it) => it.index);
    expect(expected).toHaveLength(200);
    await server.close(1000);
    await first.stop();

    // Reopened after a clean close, without the start check: the damage is found by a query
    // (a new connection has none of the pages cached).
    indexer = startIndexer(log, dir, { checkOnStart: false });
    await indexer.caughtUp();
    server = await serve(indexer);
    damagePages(join(dir, INDEX_FILE), SEED);
    const r = await get(query);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("10");
    expect(JSON.parse(r.body).error).toMatch(
      /^the query index is being rebuilt from the log \(a query failed: .+\): \d+ of 20000 entries so far; retry later$/,
    );
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    const body = JSON.parse(ready.body) as { status: string; degraded?: { part: string; state: string }[] };
    expect(body.status).toBe("ready");
    expect(body.degraded?.[0]).toMatchObject({ part: "index", state: "rebuilding", target: COUNT });

    // The log goes on taking entries meanwhile.
    const more = [...generateEvents({ seed: 12, count: 50, startTime: "2027-06-01T00:00:00.000000Z" })].map(
      (e) => Buffer.from(JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", ...e })),
    );
    const { firstIndex } = await log.append(more);
    expect(firstIndex).toBe(COUNT);

    // Until it is rebuilt every answer is a 503, never a 500; then the same rows as before.
    let answer: number[] | undefined;
    let refusals = 0;
    for (let i = 0; i < 1200 && answer === undefined; i++) {
      const q = await get(query);
      if (q.status === 503) {
        refusals++;
        await new Promise((res) => setTimeout(res, 50));
        continue;
      }
      expect(q.status, q.body).toBe(200);
      answer = (JSON.parse(q.body) as { items: { index: number }[] }).items.map((it) => it.index);
    }
    expect(answer).toEqual(expected);
    expect(refusals).toBeGreaterThan(0);
    expect(JSON.parse((await get("/readyz")).body)).toEqual({ status: "ready" });
    await log.waitIntegrated(COUNT + 50);
    await indexer.caughtUp();
    expect(indexer.position()).toBe(COUNT + 50);
  });

  it("finds damage on start with SQLite's quick_check and rebuilds", async () => {
    await server?.close(1000);
    server = undefined;
    await indexer!.stop();
    indexer = undefined;
    damagePages(join(dir, INDEX_FILE), SEED + 1);
    const rebuilt: string[] = [];
    indexer = startIndexer(log, dir, { onRebuild: (reason) => rebuilt.push(reason) });
    // Nothing queried it: only the check on start can have found the damage.
    for (let i = 0; i < 200 && rebuilt.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
    expect(rebuilt[0]).toMatch(/^quick_check: /);
    await indexer.caughtUp();
    expect(indexer.status()).toMatchObject({ state: "ready" });
    expect(indexer.position()).toBe(log.latestCheckpoint().size);
  });
});
