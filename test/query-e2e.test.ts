// End to end: scenario events appended to a real fs log; answered by the CLI (query, history,
// top, export, verify-bundle) and by the HTTP routes on the real HTTPS server core; the index
// deleted or corrupted and rebuilt with identical answers; evidence bundles tampered with.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIndexer, type Indexer } from "../src/index/indexer.js";
import { createCa, issueCert, type Issuer, type IssuedPem } from "../src/server/certs.js";
import { createMetrics } from "../src/server/metrics.js";
import { queryRoutes } from "../src/server/routes/query.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import { openFsLog } from "../src/store/fs/storage.js";
import {
  decodeBase64,
  generateNoteKey,
  hashLeaf,
  NoteVerifier,
  openCheckpoint,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from "../src/tlog/index.js";
import { request } from "./fixtures/audit/request.js";
import { runCli } from "./fixtures/cli.js";
import { verifyRemote } from "./query-cli.js";
import { requestEvents, scenarioEntries } from "./query-fixtures.js";

const READ_TOKEN = "query-e2e-read-token";

let dir: string;
let vkey: string;
let entries: Uint8Array[];

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli([...args, "--data", dir]);
}

async function jsonItems(...args: string[]): Promise<{ index: number; event: { auditID: string } }[]> {
  const r = await cli(...args, "-o", "json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { items: { index: number; event: { auditID: string } }[] }).items;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-query-e2e-"));
  const log = await openFsLog(dir, { origin: "query-e2e.example/log", integrateIntervalMs: 20 });
  entries = scenarioEntries();
  await log.append(entries);
  await log.waitIntegrated(entries.length);
  vkey = log.verifierKey;
  await log.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kubetrail query / history / top", () => {
  it("answers who deleted the ConfigMap, with the recorded time precision", async () => {
    const r = await cli("query", "--verb", "delete", "--resource", "configmaps", "-n", "prod");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^TIME\s+USER\s+VERB\s+RESOURCE\s+NAMESPACE\/NAME\s+CODE$/);
    expect(lines[1]).toMatch(
      /^2026-11-21T03:12:00\.123456Z\s+mallory\s+delete\s+configmaps\s+prod\/app-config\s+200$/,
    );
    // Aligned: every column starts at the same offset in every line.
    expect(lines[1]?.indexOf("mallory")).toBe(lines[0]?.indexOf("USER"));
  });

  it("combines filters and returns the log's entries in every format", async () => {
    const items = await jsonItems("query", "--user", "mallory", "--user", "bob", "--since", "3650d");
    expect(items.map((i) => i.event.auditID)).toEqual(["g7", "d4", "c3", "b2"]);
    for (const item of items) {
      expect(Buffer.from(entries[item.index] as Uint8Array).toString("utf8")).toBe(
        JSON.stringify(item.event),
      );
    }
    const jsonl = await cli("query", "--code", "4xx", "-o", "jsonl");
    expect(
      jsonl.stdout
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as { index: number }).index),
    ).toEqual([5]);
    const yaml = await cli("query", "--decision", "forbid", "-o", "yaml");
    expect(yaml.stdout).toContain("auditID: c3");
    const wide = await cli("query", "--resource", "pods/exec", "-o", "wide");
    expect(wide.stdout).toMatch(/pods\/exec\s+prod\/web-0\s+101\s+ResponseComplete\s+allow/);
  });

  it("shows an object's history with the request diff", async () => {
    const r = await cli("history", "cm/app-config", "-n", "prod");
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out.indexOf("alice")).toBeLessThan(out.indexOf("bob"));
    expect(out.indexOf("bob")).toBeLessThan(out.indexOf("mallory"));
    expect(out).toContain('    ~ data.mode: "safe" → "fast"');
    expect(out).toContain('    + data.extra: "1"');
    const deploy = await cli("history", "deployment/web", "-n", "prod", "-o", "json");
    const items = (JSON.parse(deploy.stdout) as { items: { body: string; changes: unknown[] }[] }).items;
    expect(items).toEqual([
      expect.objectContaining({ body: "patch", changes: [{ path: "spec.replicas", op: "add", to: "3" }] }),
    ]);
  });

  it("counts with top", async () => {
    const r = await cli("top", "sources", "--user", "mallory", "-o", "json");
    expect(JSON.parse(r.stdout)).toEqual({ dimension: "sources", items: [{ key: "203.0.113.9", count: 2 }] });
    const t = await cli("top", "verbs");
    expect(t.stdout.split("\n")[0]).toMatch(/^VERB\s+COUNT$/);
    expect(t.stdout).toMatch(/\ncreate\s+3\n/);
  });

  it("rejects bad filters with a usage error naming the flag", async () => {
    const cases: [string[], RegExp][] = [
      [["query", "--since", "5x"], /--since: "5x" is not a duration/],
      [["query", "--from", "yesterday"], /--from: "yesterday" is not an RFC 3339 time/],
      [["query", "-o", "xml"], /unknown output format "xml"/],
      [["query", "--code", "4x"], /--code: "4x" is not an HTTP status code/],
      [["history", "deploy"], /"deploy" is not KIND\/NAME/],
      [["top", "colours"], /unknown dimension "colours"/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe("");
    }
  });
});

describe("the index is derived data", () => {
  const questions = [
    ["query", "--user", "mallory"],
    ["query", "--code", "403"],
    ["query", "--stage", "RequestReceived", "--asc"],
    ["history", "configmap/app-config", "-n", "prod"],
    ["top", "users"],
  ];

  async function answers(): Promise<string[]> {
    return Promise.all(questions.map(async (q) => (await cli(...q, "-o", "json")).stdout));
  }

  it("gives identical answers after the index is deleted, corrupted or rebuilt", async () => {
    const before = await answers();
    expect(before.every((a) => a.length > 20)).toBe(true);
    rmSync(join(dir, "index.db"));
    expect(await answers()).toEqual(before);
    writeFileSync(join(dir, "index.db"), Buffer.alloc(16384, 0x5a));
    expect(await answers()).toEqual(before);
    const re = await cli("reindex");
    expect(re.stdout).toMatch(/^indexed 15 entries in/);
    expect(await answers()).toEqual(before);
    expect(existsSync(join(dir, "index.db"))).toBe(true);
  });
});

describe("evidence bundles", () => {
  let bundleFile: string;
  let bundle: { checkpoint: string; entries: { index: number; entry: string; inclusionProof: string[] }[] };

  beforeAll(async () => {
    bundleFile = join(dir, "bundle.json");
    const r = await cli("export", "--user", "mallory", "--user", "alice", "-o", bundleFile);
    expect(r.code).toBe(0);
    bundle = JSON.parse(readFileSync(bundleFile, "utf8")) as typeof bundle;
  });

  async function verifyVariant(mutate: (b: typeof bundle) => void, key = vkey) {
    const copy = JSON.parse(JSON.stringify(bundle)) as typeof bundle;
    mutate(copy);
    const file = join(dir, `bundle-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(copy));
    return runCli(["verify-bundle", file, "--key", key]);
  }

  it("verifies offline with only the verifier key", async () => {
    expect(bundle.entries.map((e) => e.index)).toEqual([1, 5, 7, 10]);
    const r = await runCli(["verify-bundle", bundleFile, "--key", vkey]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^OK: 4 entries of log "query-e2e.example\/log" proven included in the tree of size 15/,
    );
  });

  it("fails naming the entry when an entry byte changes", async () => {
    const r = await verifyVariant((b) => {
      const e = b.entries[2] as { entry: string };
      e.entry = e.entry.replace("mallory", "mallorz");
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/entries\[2\] \(log index 7\): inclusion proof does not verify/);
    expect(r.stderr).not.toMatch(/entries\[[013]\]/);
  });

  it("fails naming the entry when a proof hash changes", async () => {
    const r = await verifyVariant((b) => {
      const e = b.entries[0] as { inclusionProof: string[] };
      const h = Buffer.from(e.inclusionProof[0] as string, "base64");
      h[0] = (h[0] as number) ^ 1;
      e.inclusionProof[0] = h.toString("base64");
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/entries\[0\] \(log index 1\): inclusion proof does not verify/);
  });

  it("fails when an entry claims another index", async () => {
    const r = await verifyVariant((b) => {
      (b.entries[1] as { index: number }).index = 4;
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/entries\[1\] \(log index 4\)/);
  });

  it("fails when the checkpoint is altered or signed by another key", async () => {
    const altered = await verifyVariant((b) => {
      b.checkpoint = b.checkpoint.replace("\n15\n", "\n16\n");
    });
    expect(altered.code).toBe(1);
    expect(altered.stderr).toMatch(/checkpoint: /);
    const other = generateNoteKey("query-e2e.example/log").verifierKey;
    const wrongKey = await verifyVariant(() => {}, other);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/checkpoint: /);
    const foreign = await verifyVariant(() => {}, generateNoteKey("someone-else.example/log").verifierKey);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/bundle is for key "query-e2e.example\/log"/);
  });
});

describe("HTTP query, proof and static log routes", () => {
  let log: Awaited<ReturnType<typeof openFsLog>>;
  let indexer: Indexer;
  let server: RunningServer;
  let ca: Issuer & IssuedPem;
  let serving: IssuedPem;
  let caFile: string;

  beforeAll(async () => {
    log = await openFsLog(dir, { integrateIntervalMs: 20 });
    indexer = startIndexer(log, dir);
    await indexer.caughtUp();
    ca = await createCa("query e2e CA");
    serving = await issueCert(ca, {
      commonName: "kubetrail",
      hosts: ["localhost", "127.0.0.1"],
      usage: "server",
    });
    caFile = join(dir, "ca.pem");
    writeFileSync(caFile, ca.certPem);
    server = await startServer(
      {
        routes: queryRoutes({ log, index: indexer, verifierKey: log.verifierKey }),
        auth: { ingestTokens: [], readTokens: [READ_TOKEN] },
        logger: pino({ level: "silent" }),
        metrics: createMetrics(),
        tls: { cert: serving.certPem, key: serving.keyPem },
      },
      { host: "127.0.0.1", port: 0 },
    );
  });

  afterAll(async () => {
    await server?.close(1000);
    await indexer?.stop();
    await log?.close();
  });

  const get = (path: string, token: string | null = READ_TOKEN) =>
    request(server.port, {
      path,
      ca: ca.certPem,
      headers: token === null ? {} : { Authorization: `Bearer ${token}` },
    });

  it("needs the read token for queries and entry bundles but not for the checkpoint and hash tiles", async () => {
    expect((await get("/v1/events", null)).status).toBe(401);
    expect((await get("/v1/events", "wrong")).status).toBe(403);
    expect((await get("/log/checkpoint", null)).status).toBe(200);
    const size = log.latestCheckpoint().size;
    expect((await get(`/log/tile/0/000.p/${size}`, null)).status).toBe(200);
    // However the path is spelled, an entry bundle needs the read credential.
    for (const path of [
      `/log/tile/entries/000.p/${size}`,
      `/log/tile//entries/000.p/${size}`,
      `/log/tile/%65ntries/000.p/${size}`,
      `/log/tile/0/../entries/000.p/${size}`,
    ]) {
      const r = await get(path, null);
      expect([401, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain("auditID");
    }
  });

  it("answers the same as the CLI and pages with a cursor", async () => {
    const cliItems = await jsonItems("query", "--user", "mallory");
    const r = await get("/v1/events?user=mallory");
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { items: unknown[] }).items).toEqual(cliItems);

    const all = await jsonItems("query", "--limit", "100");
    const paged: unknown[] = [];
    let next: string | undefined = "";
    while (next !== undefined) {
      const page = await get(`/v1/events?limit=3${next ? `&cursor=${next}` : ""}`);
      const body = JSON.parse(page.body) as { items: unknown[]; metadata: { continue?: string } };
      paged.push(...body.items);
      next = body.metadata.continue;
    }
    expect(paged).toEqual(all);
  });

  it("rejects bad filters with 400 and the same message as the CLI", async () => {
    const r = await get("/v1/events?since=5x");
    expect(r.status).toBe(400);
    expect(r.body).toContain('since: \\"5x\\" is not a duration');
    expect((await get("/v1/events?colour=red")).status).toBe(400);
    expect((await get("/v1/events?limit=5000")).status).toBe(400);
  });

  it("returns one entry with an inclusion proof against the signed checkpoint", async () => {
    const r = await get("/v1/events/7");
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as {
      entry: string;
      inclusionProof: string[];
      checkpoint: { note: string; size: number };
    };
    expect(body.entry).toBe(Buffer.from(entries[7] as Uint8Array).toString("utf8"));
    const cp = openCheckpoint(body.checkpoint.note, NoteVerifier.fromKey(vkey));
    const proof = body.inclusionProof.map((h) => decodeBase64(h) as Uint8Array);
    expect(verifyInclusion(hashLeaf(Buffer.from(body.entry)), 7, cp.size, proof, cp.rootHash)).toBe(true);
    expect(verifyInclusion(hashLeaf(Buffer.from(body.entry + " ")), 7, cp.size, proof, cp.rootHash)).toBe(
      false,
    );
    expect((await get(`/v1/events/${cp.size}`)).status).toBe(404);
    expect((await get("/v1/events/x1")).status).toBe(400);
  });

  it("carries the published note, cosignatures and all, when it is of the same tree", async () => {
    const cp = log.latestCheckpoint();
    // As the publisher serves it once a witness has cosigned: the log's note and one more line.
    const cosigned = `${cp.note}\u2014 witness.example/w ${Buffer.alloc(72, 5).toString("base64")}\n`;
    let published: string | null = cosigned;
    const withWitnesses = await startServer(
      {
        routes: queryRoutes({
          log,
          index: indexer,
          verifierKey: log.verifierKey,
          publishedCheckpoint: () => published,
        }),
        auth: { ingestTokens: [], readTokens: [READ_TOKEN] },
        logger: pino({ level: "silent" }),
        metrics: createMetrics(),
        tls: { cert: serving.certPem, key: serving.keyPem },
      },
      { host: "127.0.0.1", port: 0 },
    );
    try {
      const noteOf = async (path: string): Promise<string> => {
        const r = await request(withWitnesses.port, {
          path,
          ca: ca.certPem,
          headers: { Authorization: `Bearer ${READ_TOKEN}` },
        });
        expect(r.status, r.body).toBe(200);
        return (JSON.parse(r.body) as { checkpoint: { note: string } }).checkpoint.note;
      };
      expect(await noteOf("/v1/events/3")).toBe(cosigned);
      expect(await noteOf(`/v1/proof/consistency?from=1&to=${cp.size}`)).toBe(cosigned);
      // Still the log's own checkpoint: it verifies with the log's key, the extra line ignored.
      expect(openCheckpoint(cosigned, NoteVerifier.fromKey(vkey)).size).toBe(cp.size);
      // Published for an older tree (a newer one not cosigned yet): the log's own note.
      published = cp.note.replace(`\n${cp.size}\n`, `\n${cp.size - 1}\n`) + "\u2014 witness.example/w x\n";
      expect(await noteOf("/v1/events/3")).toBe(cp.note);
      published = null;
      expect(await noteOf("/v1/events/3")).toBe(cp.note);
    } finally {
      await withWitnesses.close(1000);
    }
  });

  it("indexes new entries as they are integrated, and proves consistency from an old size", async () => {
    const more = requestEvents({
      id: "h8",
      time: "2026-11-21T03:30:00.000000Z",
      user: "eve",
      verb: "delete",
      resource: "namespaces",
      name: "prod",
    }).map((e) => Buffer.from(JSON.stringify(e)));
    await log.append(more);
    await log.waitIntegrated(entries.length + more.length);
    await indexer.caughtUp();
    const r = JSON.parse((await get("/v1/events?user=eve")).body) as { items: { index: number }[] };
    expect(r.items.map((i) => i.index)).toEqual([16]);

    const c = JSON.parse((await get("/v1/proof/consistency?from=5")).body) as {
      from: number;
      to: number;
      consistencyProof: string[];
      checkpoint: { note: string };
    };
    const cp = openCheckpoint(c.checkpoint.note, NoteVerifier.fromKey(vkey));
    expect(c.to).toBe(17);
    const oldRoot = rootFromLeafHashes(entries.slice(0, 5).map((e) => hashLeaf(e)));
    const proof = c.consistencyProof.map((h) => decodeBase64(h) as Uint8Array);
    expect(verifyConsistency(5, 17, proof, oldRoot, cp.rootHash)).toBe(true);
    expect((await get("/v1/proof/consistency?from=9&to=5")).status).toBe(400);
    expect((await get("/v1/proof/consistency?from=1&to=99")).status).toBe(400);
  });

  it("serves tiles and entry bundles of the signed tree only, by canonical path", async () => {
    const size = log.latestCheckpoint().size;
    const bundle = await get(`/log/tile/entries/000.p/${size}`);
    expect(bundle.status).toBe(200);
    expect(bundle.body.split("\n").slice(0, -1).length).toBe(size);
    expect(bundle.headers["cache-control"]).toBe("private, max-age=3600");
    const tile = await request(server.port, { path: `/log/tile/0/000.p/${size}`, ca: ca.certPem });
    expect(tile.status).toBe(200);
    expect(Buffer.byteLength(tile.body, "latin1")).toBeGreaterThan(0);
    for (const bad of [
      `/log/tile/0/000.p/${size + 1}`,
      "/log/tile/entries/000",
      "/log/tile/0/x000/000.p/1",
      "/log/tile/../keys/signing.key",
      "/log/tile/entries/000.p/0",
    ]) {
      expect((await get(bad)).status, bad).toBe(404);
    }
  });

  it("can be verified remotely with kubetrail verify URL", async () => {
    const tokenFile = join(dir, "read-token");
    writeFileSync(tokenFile, `${READ_TOKEN}\n`);
    const r = await verifyRemote(server.port, vkey, caFile, tokenFile);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
