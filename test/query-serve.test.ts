// The query side of a running `kubetrail serve`: events posted to the webhook become queryable
// over HTTP (read token) within about a second, the CLI answers the same beside the live
// server, and the static log under /log/ verifies remotely.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeBase64, hashLeaf, NoteVerifier, openCheckpoint, verifyInclusion } from "../src/tlog/index.js";
import { request } from "./fixtures/audit/request.js";
import { startServe, type ServeProcess } from "./fixtures/audit/serve-process.js";
import { runCli } from "./fixtures/cli.js";
import { verifyRemote } from "./query-cli.js";
import { requestEvents, SCENARIO } from "./query-fixtures.js";

let dir: string;
let serve: ServeProcess;
let ca: string;
let readToken: string;
let vkey: string;

const get = (path: string, token: string | null = readToken) =>
  request(serve.port, { path, ca, headers: token === null ? {} : { Authorization: `Bearer ${token}` } });

interface EventListBody {
  items: { index: number; event: { auditID: string; user: { username: string } } }[];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-query-serve-"));
  serve = await startServe(["--data", dir, "--listen", "127.0.0.1:0"]);
  ca = readFileSync(join(dir, "tls", "ca.crt"), "utf8");
  readToken = readFileSync(join(dir, "read-token"), "utf8").trim();
  vkey = readFileSync(join(dir, "keys", "verifier.key"), "utf8").trim();
  const ingestToken = readFileSync(join(dir, "ingest-token"), "utf8").trim();
  // The webhook backend sends items without kind/apiVersion.
  const items = SCENARIO.flatMap(requestEvents).map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  const reply = await request(serve.port, {
    method: "POST",
    path: "/v1/audit/webhook",
    ca,
    body: JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items }),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${ingestToken}` },
  });
  expect(reply.status).toBe(200);
});

afterAll(async () => {
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("queries against a running serve", () => {
  it("indexes webhook events and answers GET /v1/events with the read token only", async () => {
    let body: EventListBody = { items: [] };
    // Integration and indexing run on their own interval: poll for the answer (bounded).
    for (let attempt = 0; attempt < 100 && body.items.length < 2; attempt++) {
      const r = await get("/v1/events?user=mallory");
      expect(r.status).toBe(200);
      body = JSON.parse(r.body) as EventListBody;
      if (body.items.length < 2) await new Promise((res) => setTimeout(res, 100));
    }
    expect(body.items.map((i) => i.event.auditID)).toEqual(["d4", "c3"]);
    expect((await get("/v1/events?user=mallory", null)).status).toBe(401);
    const ingestToken = readFileSync(join(dir, "ingest-token"), "utf8").trim();
    expect((await get("/v1/events?user=mallory", ingestToken)).status).toBe(403);
  });

  it("gives the same answer from the CLI beside the live server", async () => {
    const http = JSON.parse((await get("/v1/events?verb=delete,update&limit=50")).body) as EventListBody;
    const cli = await runCli(["query", "--data", dir, "--verb", "delete,update", "-o", "json"]);
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as EventListBody).items).toEqual(http.items);
  });

  it("proves an entry against the signed checkpoint and verifies the static log remotely", async () => {
    const r = JSON.parse((await get("/v1/events?audit-id=g7")).body) as EventListBody;
    const index = r.items[0]?.index as number;
    const one = JSON.parse((await get(`/v1/events/${index}`)).body) as {
      entry: string;
      inclusionProof: string[];
      checkpoint: { note: string };
    };
    const cp = openCheckpoint(one.checkpoint.note, NoteVerifier.fromKey(vkey));
    const proof = one.inclusionProof.map((h) => decodeBase64(h) as Uint8Array);
    expect(verifyInclusion(hashLeaf(Buffer.from(one.entry)), index, cp.size, proof, cp.rootHash)).toBe(true);

    const verify = await verifyRemote(serve.port, vkey, join(dir, "tls", "ca.crt"), join(dir, "read-token"));
    expect(verify.stderr).toBe("");
    expect(verify.code).toBe(0);
    const anonymous = await verifyRemote(serve.port, vkey, join(dir, "tls", "ca.crt"));
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stdout).toMatch(
      /unreadable: .*HTTP 401: entry bundles need a read credential \(--token-file\)/,
    );
  });

  it("exports a bundle beside the live server that verifies offline", async () => {
    const file = join(dir, "bundle.json");
    const exp = await runCli(["export", "--data", dir, "--resource", "configmaps", "-o", file]);
    expect(exp.code).toBe(0);
    const v = await runCli(["verify-bundle", file, "--key", vkey]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^OK: 3 entries/);
  });
});
