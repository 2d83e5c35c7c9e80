import { gzipSync } from "node:zlib";
import { connect } from "node:tls";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../test/fixtures/audit/request.js";
import { MemoryBudget } from "../ingest/memory-budget.js";
import { caFingerprints } from "./auth/credentials.js";
import { readBody } from "./body.js";
import { createCa, issueCert, type IssuedPem } from "./certs.js";
import { createMetrics } from "./metrics.js";
import type { Route } from "./route.js";
import { healthRoutes } from "./routes/health.js";
import { jsonReply, startServer, type RunningServer } from "./server.js";

const INGEST_TOKEN = "ingest-secret-token";
const READ_TOKEN = "read-secret-token";

// An echo route: the decoded body length, read under the server's limits.
const echo: Route = {
  method: "POST",
  pattern: "/v1/audit/webhook",
  scope: "ingest",
  async handle({ req, res }) {
    const { body } = await readBody(req, { maxBytes: 64 * 1024, maxDecodedBytes: 256 * 1024 });
    jsonReply(res, 200, { length: body.length });
  },
};
// Bodies read under a shared budget that other requests have (in this test) used up.
const budget = new MemoryBudget(1024);
const budgeted: Route = {
  method: "POST",
  pattern: "/budgeted",
  scope: "ingest",
  async handle({ req, res }) {
    const { body, release } = await readBody(req, { maxBytes: 1 << 20, maxDecodedBytes: 1 << 20, budget });
    release();
    jsonReply(res, 200, { length: body.length });
  },
};
const readRoute: Route = {
  method: "GET",
  pattern: "/v1/things/:name",
  scope: "read",
  async handle({ res, params }) {
    jsonReply(res, 200, { name: params.name });
  },
};
// What a handler sees of its request target: the path as routed and the parsed URL.
const whereRoute: Route = {
  method: "GET",
  pattern: "/v1/where/:name",
  scope: "public",
  async handle({ res, params, url }) {
    jsonReply(res, 200, { name: params.name, pathname: url.pathname, q: url.searchParams.get("q") });
  },
};

let server: RunningServer;
let ca: IssuedPem;
let client: IssuedPem;
let strangerClient: IssuedPem;
const metrics = createMetrics();

beforeAll(async () => {
  const serverCa = await createCa("server CA");
  const serving = await issueCert(serverCa, {
    commonName: "kubetrail",
    hosts: ["localhost", "127.0.0.1"],
    usage: "server",
  });
  const clientCa = await createCa("client CA");
  const stranger = await createCa("stranger CA");
  client = await issueCert(clientCa, { commonName: "kube-apiserver", usage: "client" });
  strangerClient = await issueCert(stranger, { commonName: "kube-apiserver", usage: "client" });
  ca = serverCa;
  server = await startServer(
    {
      routes: [
        echo,
        budgeted,
        readRoute,
        whereRoute,
        ...healthRoutes({ ready: () => true, registry: metrics.registry }),
      ],
      auth: {
        ingestTokens: [INGEST_TOKEN],
        readTokens: [READ_TOKEN],
        clientCas: { ingest: caFingerprints(clientCa.certPem), read: new Set() },
      },
      logger: pino({ level: "silent" }),
      metrics,
      tls: { cert: serving.certPem, key: serving.keyPem, clientCa: clientCa.certPem },
      requestTimeoutMs: 1500,
      headersTimeoutMs: 1000,
    },
    { host: "127.0.0.1", port: 0 },
  );
});

afterAll(async () => {
  await server.close(1000);
});

const post = (body: Buffer | string, headers: Record<string, string> = {}, cert?: IssuedPem) =>
  request(server.port, {
    method: "POST",
    path: "/v1/audit/webhook",
    body,
    headers,
    ca: ca.certPem,
    cert: cert?.certPem,
    key: cert?.keyPem,
  });

describe("server auth", () => {
  it("accepts a client certificate from the client CA", async () => {
    const r = await post("{}", {}, client);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: 2 });
  });

  it("accepts the ingest bearer token without a certificate", async () => {
    expect((await post("{}", { Authorization: `Bearer ${INGEST_TOKEN}` })).status).toBe(200);
  });

  it("answers 401 without a credential and 403 for a wrong one", async () => {
    const none = await post("{}");
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="kubetrail"');
    expect((await post("{}", { Authorization: "Bearer nope" })).status).toBe(403);
    expect((await post("{}", { Authorization: `Bearer ${READ_TOKEN}` })).status).toBe(403);
    expect((await post("{}", { Authorization: "Basic dXNlcjpwYXNz" })).status).toBe(401);
    expect((await post("{}", {}, strangerClient)).status).toBe(403);
    const text = await metrics.registry.getSingleMetricAsString("kubetrail_auth_failures_total");
    expect(text).toContain('kubetrail_auth_failures_total{scope="ingest",code="401"}');
    expect(text).toContain('kubetrail_auth_failures_total{scope="ingest",code="403"}');
  });

  it("keeps read scope for read tokens and passes path parameters", async () => {
    const ok = await request(server.port, {
      path: "/v1/things/a%20b",
      headers: { Authorization: `Bearer ${READ_TOKEN}` },
      ca: ca.certPem,
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ name: "a b" });
    const wrong = await request(server.port, {
      path: "/v1/things/x",
      headers: { Authorization: `Bearer ${INGEST_TOKEN}` },
      ca: ca.certPem,
    });
    expect(wrong.status).toBe(403);
  });

  it("routes every request target as URL resolves it, plain paths and others alike", async () => {
    const get = async (path: string) => {
      const r = await request(server.port, { path, ca: ca.certPem });
      return { status: r.status, body: r.status === 200 ? JSON.parse(r.body) : null };
    };
    expect(await get("/v1/where/plain")).toEqual({
      status: 200,
      body: { name: "plain", pathname: "/v1/where/plain", q: null },
    });
    expect(await get("/v1/where/x?q=1")).toEqual({
      status: 200,
      body: { name: "x", pathname: "/v1/where/x", q: "1" },
    });
    expect(await get("/v1/other/../where/a%20b")).toEqual({
      status: 200,
      body: { name: "a b", pathname: "/v1/where/a%20b", q: null },
    });
    expect(await get("/v1/where/./dot")).toEqual({
      status: 200,
      body: { name: "dot", pathname: "/v1/where/dot", q: null },
    });
    expect((await get("/v1//where/x")).body).toMatchObject({ name: "x", pathname: "/v1//where/x" });
    expect((await get("/v1/where/x/")).body).toMatchObject({ name: "x", pathname: "/v1/where/x/" });
    expect((await get("/v1/nowhere/x")).status).toBe(404);
  });

  it("serves health publicly and tells 404 from 405", async () => {
    expect((await request(server.port, { path: "/healthz", ca: ca.certPem })).status).toBe(200);
    expect((await request(server.port, { path: "/readyz", ca: ca.certPem })).status).toBe(200);
    expect((await request(server.port, { path: "/nope", ca: ca.certPem })).status).toBe(404);
    expect((await request(server.port, { path: "/v1/audit/webhook", ca: ca.certPem })).status).toBe(405);
    const m = await request(server.port, { path: "/metrics", ca: ca.certPem });
    expect(m.body).toContain("kubetrail_http_requests_total");
    expect(m.body).toContain("kubetrail_process_resident_memory_bytes");
  });
});

describe("server bodies", () => {
  const auth = { Authorization: `Bearer ${INGEST_TOKEN}` };

  it("decodes gzip bodies", async () => {
    const r = await post(gzipSync(Buffer.alloc(100_000, 0x61)), { ...auth, "Content-Encoding": "gzip" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ length: 100_000 });
  });

  it("refuses a body over the limit with 413, declared or streamed", async () => {
    expect((await post(Buffer.alloc(70 * 1024, 0x61), auth)).status).toBe(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      // Chunked: no Content-Length, so the limit must hold while streaming.
      import("node:https").then(({ request: r }) => {
        const req = r(
          {
            host: "127.0.0.1",
            servername: "localhost",
            port: server.port,
            method: "POST",
            path: "/v1/audit/webhook",
            headers: auth,
            ca: ca.certPem,
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        for (let i = 0; i < 10; i++) req.write(Buffer.alloc(16 * 1024, 0x61));
        req.end();
      }, reject);
    });
    expect(streamed).toBe(413);
  });

  it("refuses a zip bomb by its decompressed size", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024)); // ~50 KB compressed, 50 MiB inflated
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post(bomb, { ...auth, "Content-Encoding": "gzip" });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toBe("decompressed request body exceeds the limit of 262144 bytes");
  });

  it("answers 429 when bodies in memory exceed the shared budget, and frees it after", async () => {
    budget.tryReserve(budget.maxBytes); // as if other requests held it all
    const big = gzipSync(Buffer.alloc(200_000, 0x61)); // inflates in several chunks
    const r = await request(server.port, {
      method: "POST",
      path: "/budgeted",
      body: big,
      ca: ca.certPem,
      headers: { ...auth, "Content-Encoding": "gzip" },
    });
    expect(r.status).toBe(429);
    expect(r.headers["retry-after"]).toBe("1");
    expect(budget.usedBytes).toBe(budget.maxBytes);
    budget.release(budget.maxBytes);
    const ok = await request(server.port, {
      method: "POST",
      path: "/budgeted",
      body: "{}",
      ca: ca.certPem,
      headers: auth,
    });
    expect(ok.status).toBe(200);
    expect(budget.usedBytes).toBe(0);
  });

  it("refuses corrupt gzip and unknown encodings", async () => {
    expect((await post(Buffer.from("not gzip"), { ...auth, "Content-Encoding": "gzip" })).status).toBe(400);
    expect((await post("{}", { ...auth, "Content-Encoding": "br" })).status).toBe(415);
  });

  it("cuts off a sender that stops mid-body", async () => {
    const closed = await new Promise<string>((resolve) => {
      const socket = connect(
        { host: "127.0.0.1", port: server.port, servername: "localhost", ca: ca.certPem },
        () => {
          socket.write(
            `POST /v1/audit/webhook HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${INGEST_TOKEN}\r\nContent-Length: 1000\r\n\r\n{"kind":`,
          );
        },
      );
      let reply = "";
      socket.on("data", (d: Buffer) => (reply += d.toString()));
      socket.on("close", () => resolve(reply));
      socket.on("error", () => undefined);
    });
    expect(closed).toMatch(/^HTTP\/1.1 408 /);
  });
});
