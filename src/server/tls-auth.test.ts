// TLS and credentials on a real HTTPS server with real certificates: the cipher suites offered,
// what a refused client certificate is told (expired, not yet valid, unknown CA), which CA
// grants which right, and /metrics behind a credential.
import { connect, getCiphers } from "node:tls";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../test/fixtures/audit/request.js";
import { caFingerprints } from "./auth/credentials.js";
import { createCa, issueCert, type IssuedPem, type Issuer } from "./certs.js";
import { createMetrics } from "./metrics.js";
import type { Route } from "./route.js";
import { healthRoutes } from "./routes/health.js";
import { jsonReply, startServer, type RunningServer } from "./server.js";

const INGEST_TOKEN = "tls-auth-ingest-token";
const READ_TOKEN = "tls-auth-read-token";
const METRICS_TOKEN = "tls-auth-metrics-token";
const DAY = 24 * 3600 * 1000;

const routes: Route[] = [
  {
    method: "POST",
    pattern: "/ingest",
    scope: "ingest",
    async handle({ res }) {
      jsonReply(res, 200, { ok: true });
    },
  },
  {
    method: "GET",
    pattern: "/read",
    scope: "read",
    async handle({ res }) {
      jsonReply(res, 200, { ok: true });
    },
  },
];

let server: RunningServer;
let serverCa: Issuer & IssuedPem;
const certs: Record<string, IssuedPem> = {};

beforeAll(async () => {
  serverCa = await createCa("server CA");
  const serving = await issueCert(serverCa, {
    commonName: "kubetrail",
    hosts: ["localhost", "127.0.0.1"],
    usage: "server",
  });
  const ingestCa = await createCa("apiserver CA");
  const readCa = await createCa("auditors CA");
  const stranger = await createCa("stranger CA");
  const now = Date.now();
  certs["ingest"] = await issueCert(ingestCa, { commonName: "kube-apiserver", usage: "client" });
  certs["read"] = await issueCert(readCa, { commonName: "auditor", usage: "client" });
  certs["stranger"] = await issueCert(stranger, { commonName: "mallory", usage: "client" });
  certs["expired"] = await issueCert(readCa, {
    commonName: "old-auditor",
    usage: "client",
    validity: { notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) },
  });
  certs["future"] = await issueCert(ingestCa, {
    commonName: "early-apiserver",
    usage: "client",
    validity: { notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) },
  });
  const metrics = createMetrics();
  server = await startServer(
    {
      routes: [...routes, ...healthRoutes({ ready: () => true, registry: metrics.registry })],
      auth: {
        ingestTokens: [INGEST_TOKEN],
        readTokens: [READ_TOKEN],
        metricsTokens: [METRICS_TOKEN],
        metricsAuth: true,
        clientCas: { ingest: caFingerprints(ingestCa.certPem), read: caFingerprints(readCa.certPem) },
      },
      logger: pino({ level: "silent" }),
      metrics,
      tls: {
        cert: serving.certPem,
        key: serving.keyPem,
        clientCa: ingestCa.certPem,
        readClientCa: readCa.certPem,
      },
    },
    { host: "127.0.0.1", port: 0 },
  );
});

afterAll(async () => {
  await server?.close(1000);
});

function call(path: string, opts: { cert?: IssuedPem; token?: string; method?: string } = {}) {
  return request(server.port, {
    method: opts.method ?? (path === "/ingest" ? "POST" : "GET"),
    path,
    body: path === "/ingest" ? "{}" : undefined,
    ca: serverCa.certPem,
    cert: opts.cert?.certPem,
    key: opts.cert?.keyPem,
    headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
  });
}

/** Whether a TLS handshake with exactly these settings succeeds, and the suite agreed. */
function handshake(opts: {
  ciphers?: string;
  minVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
  maxVersion?: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
}): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port: server.port,
      servername: "localhost",
      ca: serverCa.certPem,
      ...opts,
    });
    socket.once("secureConnect", () => {
      const name = socket.getCipher().standardName;
      socket.destroy();
      resolve(name);
    });
    socket.once("error", () => resolve(undefined));
  });
}

describe("TLS settings", () => {
  it("offers TLS 1.3, and for TLS 1.2 only ECDHE with AEAD ciphers", async () => {
    expect(await handshake({ minVersion: "TLSv1.3" })).toMatch(
      /^TLS_(AES_\d+_GCM|CHACHA20_POLY1305)_SHA\d+$/,
    );
    expect(await handshake({ maxVersion: "TLSv1.1", minVersion: "TLSv1" })).toBeUndefined();
    const accepted: string[] = [];
    // Every TLS 1.2 suite this OpenSSL knows, one at a time (TLS 1.3 suites are not set this way).
    const suites = getCiphers()
      .map((c) => c.toUpperCase())
      .filter((c) => !c.startsWith("TLS_"));
    expect(suites.length).toBeGreaterThan(30);
    for (const suite of suites) {
      const agreed = await handshake({ ciphers: suite, maxVersion: "TLSv1.2", minVersion: "TLSv1.2" });
      if (agreed !== undefined) accepted.push(suite);
    }
    // The serving key is ECDSA, so of the list only the ECDSA suites can be agreed.
    expect(accepted.sort()).toEqual(
      [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
      ].sort(),
    );
  });
});

describe("client certificates", () => {
  it("says an expired certificate is expired, and a not-yet-valid one is not yet valid", async () => {
    const expired = await call("/read", { cert: certs["expired"] });
    expect(expired.status).toBe(403);
    expect(JSON.parse(expired.body).error).toMatch(/^client certificate "old-auditor" expired on .+ GMT$/);
    const future = await call("/ingest", { cert: certs["future"] });
    expect(future.status).toBe(403);
    expect(JSON.parse(future.body).error).toMatch(
      /^client certificate "early-apiserver" is not valid before .+ GMT$/,
    );
    const stranger = await call("/ingest", { cert: certs["stranger"] });
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body).error).toMatch(
      /^client certificate is not signed by a configured client CA \(/,
    );
  });

  it("grants each certificate the right of the CA that issued it, and no other", async () => {
    expect((await call("/ingest", { cert: certs["ingest"] })).status).toBe(200);
    expect((await call("/read", { cert: certs["read"] })).status).toBe(200);
    const ingestReads = await call("/read", { cert: certs["ingest"] });
    expect(ingestReads.status).toBe(403);
    expect(JSON.parse(ingestReads.body).error).toMatch(/does not grant read/);
    expect((await call("/ingest", { cert: certs["read"] })).status).toBe(403);
    // A token still works beside a certificate that does not grant the scope.
    expect((await call("/read", { cert: certs["ingest"], token: READ_TOKEN })).status).toBe(200);
  });
});

describe("/metrics with --metrics-auth required", () => {
  it("needs a read credential or a metrics token", async () => {
    expect((await call("/metrics")).status).toBe(401);
    expect((await call("/metrics", { token: INGEST_TOKEN })).status).toBe(403);
    expect((await call("/metrics", { cert: certs["ingest"] })).status).toBe(403);
    const ok = await call("/metrics", { token: METRICS_TOKEN });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("kubetrail_http_requests_total");
    expect((await call("/metrics", { token: READ_TOKEN })).status).toBe(200);
    expect((await call("/metrics", { cert: certs["read"] })).status).toBe(200);
    // The metrics token reads metrics only.
    expect((await call("/read", { token: METRICS_TOKEN })).status).toBe(403);
    expect((await call("/healthz")).status).toBe(200);
  });
});
