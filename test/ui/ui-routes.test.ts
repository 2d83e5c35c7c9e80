// The UI's server side over the real HTTPS server core: the static files and their headers,
// sign-in and sessions (what a cookie may and may not do), and the read endpoints' answers,
// whose proofs verify against the signed checkpoint exactly as the browser checks them.
import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIndexer, type Indexer } from "../../src/index/indexer.js";
import { EventStats } from "../../src/index/stats/event-stats.js";
import { StatsSource } from "../../src/index/stats/source.js";
import { authChains, type AuthConfig } from "../../src/server/auth/chain.js";
import { createCa, issueCert } from "../../src/server/certs.js";
import { createMetrics } from "../../src/server/metrics.js";
import { uiApiRoutes } from "../../src/server/routes/ui-api.js";
import { loadUiAssets, readTokenLogin, uiRoutes } from "../../src/server/routes/ui.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { SESSION_COOKIE, sessionAuthenticator, SessionStore } from "../../src/server/session.js";
import { openFsLog } from "../../src/store/fs/storage.js";
import {
  decodeBase64,
  hashLeaf,
  NoteVerifier,
  openCheckpoint,
  verifyInclusion,
} from "../../src/tlog/index.js";
import { request, type Reply } from "../fixtures/audit/request.js";
import { tempDir } from "../fixtures/audit/temp-dir.js";
import { scenarioEntries } from "../query-fixtures.js";

const READ_TOKEN = "ui-routes-read-token-0123456789";
const ASSET = "assets/index-AbCdEf12.js";

let dir: string;
let log: Awaited<ReturnType<typeof openFsLog>>;
let indexer: Indexer;
let server: RunningServer;
let ca: string;
let auth: AuthConfig;
let stats: EventStats;
const sessions = new SessionStore();

beforeAll(async () => {
  dir = tempDir("kubetrail-ui-routes-");
  log = await openFsLog(path.join(dir, "data"), { origin: "ui-routes.example/log", integrateIntervalMs: 20 });
  const entries = scenarioEntries();
  await log.append(entries);
  await log.waitIntegrated(entries.length);
  indexer = startIndexer(log, path.join(dir, "data"));
  await indexer.caughtUp();
  const web = path.join(dir, "web");
  mkdirSync(path.join(web, "assets"), { recursive: true });
  writeFileSync(path.join(web, "index.html"), "<!doctype html><title>kubetrail</title><div id=app></div>");
  writeFileSync(path.join(web, ASSET), `console.log(${JSON.stringify("x".repeat(4000))});`);
  stats = new EventStats(new StatsSource(path.join(dir, "data")));
  const authority = await createCa("ui routes CA");
  const serving = await issueCert(authority, {
    commonName: "kubetrail",
    hosts: ["localhost", "127.0.0.1"],
    usage: "server",
  });
  ca = authority.certPem;
  auth = {
    ingestTokens: ["ingest-token-0123456789"],
    readTokens: [READ_TOKEN],
    extra: { read: [sessionAuthenticator(sessions)] },
  };
  server = await startServer(
    {
      routes: [
        ...uiApiRoutes({
          log,
          index: indexer,
          stats,
          verifierKey: log.verifierKey,
          checkpointWrittenAt: () => Date.now(),
        }),
        ...uiRoutes({ assets: loadUiAssets(web), sessions, logins: [readTokenLogin(auth.readTokens)] }),
      ],
      auth,
      logger: pino({ level: "silent" }),
      metrics: createMetrics(),
      tls: { cert: serving.certPem, key: serving.keyPem },
    },
    { host: "127.0.0.1", port: 0 },
  );
});

afterAll(async () => {
  await server?.close(1000);
  stats?.close();
  await indexer?.stop();
  await log?.close();
});

function get(p: string, headers: Record<string, string> = {}): Promise<Reply> {
  return request(server.port, { path: p, headers, ca });
}

const bearer = { Authorization: `Bearer ${READ_TOKEN}` };
const origin = (): Record<string, string> => ({
  Origin: `https://127.0.0.1:${server.port}`,
  Host: `127.0.0.1:${server.port}`,
  "Content-Type": "application/json",
});

function login(token: string, headers = origin()): Promise<Reply> {
  return request(server.port, {
    method: "POST",
    path: "/ui/api/login",
    headers,
    body: JSON.stringify({ token }),
    ca,
  });
}

function cookieOf(r: Reply): string {
  const set = ([] as string[]).concat(r.headers["set-cookie"] ?? []);
  return (set[0] ?? "").split(";")[0] ?? "";
}

describe("UI files", () => {
  it("redirects to /ui/, serves the app for its pages, with CSP and cache headers", async () => {
    expect((await get("/")).headers.location).toBe("/ui/");
    expect((await get("/ui")).headers.location).toBe("/ui/");
    for (const p of ["/ui/", "/ui/event/3", "/ui/people?user=alice"]) {
      const r = await get(p);
      expect(r.status).toBe(200);
      expect(r.body).toContain("<title>kubetrail</title>");
      expect(r.headers["cache-control"]).toBe("no-cache");
      expect(r.headers["content-security-policy"]).toMatch(
        /default-src 'none'; script-src 'self'; style-src 'self'/,
      );
      expect(r.headers["x-frame-options"]).toBe("DENY");
    }
    const asset = await request(server.port, {
      path: `/ui/${ASSET}`,
      headers: { "Accept-Encoding": "gzip" },
      ca,
    });
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(asset.headers["content-encoding"]).toBe("gzip");
    expect(asset.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect((await get("/ui/assets/missing-AbCdEf12.js")).status).toBe(404);
    expect((await get("/ui/api/unknown")).status).toBe(404);
    expect((await get("/ui/..%2F..%2Fetc%2Fpasswd")).status).toBe(404);
  });

  it("loads the built files once, gzipped when that helps", () => {
    const assets = loadUiAssets(path.join(dir, "web"));
    const js = assets?.get(ASSET);
    expect(gunzipSync(js?.gzip as Buffer).equals(js?.body as Buffer)).toBe(true);
    expect(loadUiAssets(path.join(dir, "not-built"))).toBeUndefined();
  });
});

describe("sign-in and sessions", () => {
  it("refuses cross-site, non-JSON and wrong-token logins; throttles guessing", async () => {
    expect((await login(READ_TOKEN, { ...origin(), Origin: "https://evil.example" })).status).toBe(403);
    expect((await login(READ_TOKEN, { ...origin(), "Content-Type": "text/plain" })).status).toBe(415);
    const wrong = await login("ingest-token-0123456789");
    expect(wrong.status).toBe(401);
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    expect(JSON.parse(wrong.body)).toEqual({
      error: "this token is not accepted for reading the audit trail",
    });
  });

  it("exchanges a read token for a session cookie that reads, and only reads, until logout", async () => {
    const r = await login(READ_TOKEN);
    expect(r.status).toBe(200);
    const set = String(r.headers["set-cookie"]);
    expect(set).toMatch(
      new RegExp(
        `^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=\\d+$`,
      ),
    );
    expect(JSON.parse(r.body).identity.name).toMatch(/^read token [0-9a-f]{12}$/);
    expect(r.body).not.toContain(READ_TOKEN);
    const cookie = { Cookie: cookieOf(r) };

    expect((await get("/v1/stats")).status).toBe(401);
    const page = await get("/v1/entries?limit=2", cookie);
    expect(page.status).toBe(200);
    expect(page.headers["cache-control"]).toBe("no-store");
    expect(JSON.parse((await get("/ui/api/session", cookie)).body).authenticated).toBe(true);

    // A session is a read credential on GET only: never ingest, never a write.
    const fake = (method: string): IncomingMessage =>
      ({ method, headers: { cookie: cookie.Cookie }, socket: {} }) as unknown as IncomingMessage;
    const authenticate = authChains(auth);
    expect(await authenticate(fake("GET"), "read")).toMatchObject({
      ok: true,
      identity: { method: "read-token" },
    });
    expect((await authenticate(fake("POST"), "read")).ok).toBe(false);
    expect((await authenticate(fake("POST"), "ingest")).ok).toBe(false);
    expect((await authenticate(fake("POST"), "admission")).ok).toBe(false);

    const out = await request(server.port, {
      method: "POST",
      path: "/ui/api/logout",
      headers: { ...origin(), ...cookie },
      ca,
    });
    expect(String(out.headers["set-cookie"])).toContain("Max-Age=0");
    expect((await get("/v1/entries?limit=2", cookie)).status).toBe(401);
  });

  it("answers 429 with Retry-After once an address failed too often", async () => {
    let last: Reply | undefined;
    for (let i = 0; i < 12; i++) last = await login(`wrong-token-${i}-padding-padding`);
    expect(last?.status).toBe(429);
    expect(Number(last?.headers["retry-after"])).toBeGreaterThan(0);
  });
});

describe("read endpoints", () => {
  interface Proven {
    index: number;
    entry: string;
    proof: string[];
  }

  it("says stats are loading (503, Retry-After) until the in-memory columns are", async () => {
    const r = await get("/v1/stats", bearer);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("1");
    expect(JSON.parse(r.body).error).toMatch(/^statistics are still loading/);
    await stats.refresh();
  });

  it("gives entries as stored with proofs that verify against the signed checkpoint", async () => {
    const info = JSON.parse((await get("/ui/api/log")).body) as { checkpoint: string; verifierKey: string };
    const cp = openCheckpoint(info.checkpoint, NoteVerifier.fromKey(info.verifierKey));
    const answer = JSON.parse((await get(`/v1/entries?user=mallory&tree-size=${cp.size}`, bearer)).body) as {
      treeSize: number;
      items: Proven[];
    };
    expect(answer.treeSize).toBe(cp.size);
    expect(answer.items.map((i) => (JSON.parse(i.entry) as { auditID: string }).auditID)).toEqual([
      "d4",
      "c3",
    ]);
    for (const item of answer.items) {
      const proof = item.proof.map((h) => decodeBase64(h) as Uint8Array);
      expect(
        verifyInclusion(
          hashLeaf(new TextEncoder().encode(item.entry)),
          item.index,
          cp.size,
          proof,
          cp.rootHash,
        ),
      ).toBe(true);
    }
    const stat = JSON.parse((await get(`/v1/stats?user=mallory&tree-size=${cp.size}`, bearer)).body) as {
      total: number;
      facets: { codes: { key: string; count: number }[] };
    };
    expect(stat.total).toBe(2);
    expect(stat.facets.codes).toEqual([
      { key: "200", count: 1 },
      { key: "403", count: 1 },
    ]);
    expect((await get(`/v1/entries?tree-size=${cp.size + 1}`, bearer)).status).toBe(400);
    expect(JSON.parse((await get("/v1/entries?code=4x", bearer)).body).error).toBe(
      'code: "4x" is not an HTTP status code or class (e.g. 403, 4xx, 5xx)',
    );
    const one = JSON.parse((await get(`/v1/entries/${answer.items[0]!.index}`, bearer)).body) as Proven;
    expect(one.entry).toBe(answer.items[0]!.entry);
  });

  it("gives an object's history with diffs, and kubetrail's records by kind", async () => {
    const h = JSON.parse((await get("/v1/history?object=cm/app-config&namespace=prod", bearer)).body) as {
      items: (Proven & { changes?: { path: string; op: string }[] })[];
    };
    expect(h.items.map((i) => (JSON.parse(i.entry) as { verb: string }).verb)).toEqual([
      "create",
      "update",
      "delete",
    ]);
    expect(h.items[1]!.changes).toEqual([
      { path: "data.extra", op: "add", to: '"1"' },
      { path: "data.mode", op: "change", from: '"safe"', to: '"fast"' },
    ]);
    const alerts = JSON.parse((await get("/v1/records?kind=Alert", bearer)).body) as { items: Proven[] };
    expect(alerts.items.map((i) => (JSON.parse(i.entry) as { rule: string }).rule)).toEqual([
      "configmap-deleted",
    ]);
    expect((await get("/v1/records?kind=alert;drop", bearer)).status).toBe(400);
    expect((await get("/v1/history", bearer)).status).toBe(400);
  });
});
