// Authentication on a real server: every non-public endpoint refuses a missing, malformed or
// wrong-scope credential, public ones answer without one, and no endpoint — with any
// credential, by any method — changes or deletes an entry already in the log.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { KUBETRAIL_API_VERSION } from "../../src/audit/types.js";
import { hashLeaf, rootFromLeafHashes } from "../../src/tlog/index.js";
import {
  call,
  postEvents,
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  type Serve,
  sleep,
  startServe,
  tempDir,
} from "./serve-process.js";

type Scope = "ingest" | "read" | "admission";
interface Endpoint {
  method: "GET" | "POST";
  path: string;
  scope: Scope;
  body?: string;
}

const batch = JSON.stringify(toEventList(generateEvents({ seed: 99, count: 300 })));
const ENDPOINTS: Endpoint[] = [
  { method: "POST", path: "/v1/audit/webhook", scope: "ingest", body: batch },
  { method: "GET", path: "/v1/events", scope: "read" },
  { method: "GET", path: "/v1/events?verb=delete", scope: "read" },
  { method: "GET", path: "/v1/events/0", scope: "read" },
  { method: "GET", path: "/v1/proof/consistency?from=10&to=20", scope: "read" },
  { method: "GET", path: "/v1/proof/inclusion?index=3&size=20", scope: "read" },
  { method: "GET", path: "/v1/evidence?from=0&to=20", scope: "read" },
  // Entry bundles hold whole events; only the checkpoint and hash tiles are public.
  { method: "GET", path: "/log/tile/entries/000.p/1", scope: "read" },
  { method: "GET", path: "/log/tile//entries/000.p/1", scope: "read" },
  {
    method: "POST",
    path: "/v1/admission/validate",
    scope: "admission",
    body: JSON.stringify({
      kind: "AdmissionReview",
      apiVersion: "admission.k8s.io/v1",
      request: { uid: randomUUID() },
    }),
  },
];
const PUBLIC = ["/healthz", "/readyz", "/metrics", "/log/checkpoint", "/log/tile/0/000.p/1"];
const WRITE_METHODS = ["PUT", "DELETE", "PATCH", "POST"] as const;
const TARGETS = [
  "/v1/events/0",
  "/v1/events",
  "/log/checkpoint",
  "/log/tile/entries/000.p/1",
  "/log/tile/0/000.p/1",
  "/v1/audit/webhook",
  "/v1/entries/0",
  "/",
];

describe("authentication and immutability", () => {
  let dir: string;
  let serve: Serve;
  const mounted: Endpoint[] = [];

  beforeAll(async () => {
    requireBuiltCli();
    dir = tempDir("auth");
    serve = await startServe(`${dir}/data`);
    expect((await postEvents(serve, batch)).status).toBe(200);
    // Endpoints another area has not wired into `serve` yet answer 404 even with the right
    // credential; they are reported and left out rather than passing vacuously.
    for (const e of ENDPOINTS) {
      const r = await call(serve, {
        method: e.method,
        path: e.path,
        body: e.body,
        token: tokenFor(serve, e.scope),
      });
      if (r.status === 404 && !/not in the log/.test(r.body))
        console.warn(`auth test: ${e.method} ${e.path} is not served yet (404)`);
      else mounted.push(e);
    }
  }, 120_000);
  afterAll(async () => {
    await serve?.kill("SIGKILL");
    removeDir(dir);
  });

  it("serves the webhook (the one endpoint that must exist)", () => {
    expect(mounted.map((e) => e.path)).toContain("/v1/audit/webhook");
  });

  it("refuses every non-public endpoint without the right credential", async () => {
    const problems: string[] = [];
    for (const e of mounted) {
      const other = e.scope === "read" ? serve.ingestToken : serve.readToken;
      const attempts: [string, Record<string, string>, number[]][] = [
        ["no credential", {}, [401]],
        ["unknown token", { Authorization: "Bearer not-a-real-token" }, [401, 403]],
        ["empty bearer", { Authorization: "Bearer " }, [401, 403]],
        [
          "basic auth",
          { Authorization: `Basic ${Buffer.from(`x:${tokenFor(serve, e.scope)}`).toString("base64")}` },
          [401, 403],
        ],
        ["token of the other scope", { Authorization: `Bearer ${other}` }, [401, 403]],
        ["token with a suffix", { Authorization: `Bearer ${tokenFor(serve, e.scope)}x` }, [401, 403]],
      ];
      for (const [what, headers, want] of attempts) {
        const r = await call(serve, { method: e.method, path: e.path, body: e.body, headers });
        if (!want.includes(r.status))
          problems.push(`${e.method} ${e.path} with ${what}: ${r.status} ${r.body.slice(0, 100)}`);
      }
      const sep = e.path.includes("?") ? "&" : "?";
      const r = await call(serve, {
        method: e.method,
        path: `${e.path}${sep}token=${tokenFor(serve, e.scope)}`,
        body: e.body,
      });
      if (r.status !== 401)
        problems.push(`${e.method} ${e.path} with the token in the query string: ${r.status}`);
    }
    expect(problems).toEqual([]);
  });

  it("answers public endpoints without a credential", async () => {
    for (const p of PUBLIC) {
      const status = (await call(serve, { path: p })).status;
      if (status === 404 && p.startsWith("/log/"))
        console.warn(`auth test: GET ${p} is not served yet (404)`);
      else expect(status, p).toBe(200);
    }
  });

  it("never changes or deletes entries, whatever the method and credential", async () => {
    // The 300 events, plus any records kubetrail writes about them (alerts), covered and settled.
    let before = await fetchCheckpoint(serve);
    for (let i = 0, stable = 0; i < 100 && stable < 5; i++) {
      await sleep(200);
      const now = await fetchCheckpoint(serve);
      stable = now.size === before.size && now.size >= 300 ? stable + 1 : 0;
      before = now;
    }
    expect(before.size).toBeGreaterThanOrEqual(300);
    const problems: string[] = [];
    for (const target of TARGETS) {
      for (const method of WRITE_METHODS) {
        if (method === "POST" && target === "/v1/audit/webhook") continue; // appending is its job
        for (const token of [undefined, serve.ingestToken, serve.readToken]) {
          const r = await call(serve, {
            method,
            path: target,
            token,
            body: '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}',
          });
          if (r.status >= 200 && r.status < 300)
            problems.push(`${method} ${target} (${token === undefined ? "no token" : "token"}): ${r.status}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect((await fetchCheckpoint(serve)).size).toBeGreaterThanOrEqual(before.size);

    // At rest: the first entries still hash to the root signed before the barrage (nothing in
    // them changed or went missing), anything after them is kubetrail's own records (no event
    // slipped in), and the whole log verifies.
    const entriesBefore = (await call(serve, { path: "/v1/events/0", token: serve.readToken })).body;
    expect(await serve.kill("SIGTERM")).toBe(0);
    const stored = await readLog(serve.dataDir);
    const prefix = stored.slice(0, before.size).map((e) => hashLeaf(e.bytes));
    expect(Buffer.from(rootFromLeafHashes(prefix)).toString("base64")).toBe(before.root);
    const events = stored.filter((e) => e.isAuditEvent);
    expect(events).toHaveLength(300);
    for (const e of stored.slice(before.size)) {
      expect(JSON.parse(Buffer.from(e.bytes).toString("utf8")).apiVersion).toBe(KUBETRAIL_API_VERSION);
    }
    if (mounted.some((e) => e.path === "/v1/events/0")) {
      const e0 = JSON.parse(entriesBefore) as { entry: string };
      expect(Buffer.from(stored[0]?.bytes ?? []).toString("utf8")).toBe(e0.entry);
    }
    const verify = await runVerify(serve.dataDir);
    expect(verify.code, JSON.stringify(verify.report.problems)).toBe(0);
    serve = await startServe(serve.dataDir);
  });
});

function tokenFor(serve: Serve, scope: Scope): string {
  return scope === "read" ? serve.readToken : serve.ingestToken;
}

/** The signed checkpoint on disk: what the server has committed to. */
async function fetchCheckpoint(serve: Serve): Promise<{ size: number; root: string }> {
  const text = readFileSync(path.join(serve.dataDir, "checkpoint"), "utf8");
  const [, size, root] = text.split("\n");
  return { size: Number(size), root: root ?? "" };
}
