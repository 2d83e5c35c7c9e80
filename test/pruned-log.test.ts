// A log whose oldest entry bundles were removed on purpose (a retention run): everything that
// reads it says so instead of failing — verify from the directory and over HTTP checks the tree
// with the pruned entries' published leaf hashes and names the retention record that removed
// them, the static log answers 410 Gone — while a bundle gone without a record is still an error.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRetentionPolicy } from "../src/retention/policy.js";
import { runRetention } from "../src/retention/run.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { openFsLog } from "../src/store/fs/storage.js";
import type { AuditLog } from "../src/store/types.js";
import { runCli } from "./fixtures/cli.js";
import { startReadServer, type ReadServer } from "./fixtures/read-server.js";

const READ_TOKEN = "pruned-log-read-token";
const SIZE = 700;
let dir: string;
let vkey: string;
let log: AuditLog;
let reads: ReadServer;

const DAY_MS = 86_400_000;
/** The first bundle's events are 60 days old, the rest from today. */
const event = (i: number) =>
  Buffer.from(
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID: `a-${i}`,
      stage: "ResponseComplete",
      verb: "get",
      user: { username: `user-${i % 5}` },
      stageTimestamp: new Date(Date.now() - (i < 256 ? 60 : 0) * DAY_MS).toISOString(),
    }),
  );
const POLICY = parseRetentionPolicy(
  "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\nmetadata: { name: thirty-days }\nkeep: 30d\n",
  "policy.yaml",
);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kt-pruned-"));
  const first = await openFsLog(dir, { origin: "example.com/pruned" });
  await first.append(Array.from({ length: SIZE }, (_, i) => event(i)));
  await first.waitIntegrated(SIZE);
  vkey = first.verifierKey;
  await first.close();
  const writer = await openFsLog(dir);
  const run = await runRetention(writer, { policy: POLICY, by: "auditor@example" });
  expect(run).toMatchObject({ from: 0, before: 256, recordIndex: SIZE });
  log = writer;
  reads = await startReadServer(log, dir, READ_TOKEN);
});

afterAll(async () => {
  await reads?.close();
});

describe("a pruned log", () => {
  it("verifies from its directory, naming the pruned entries", async () => {
    const r = await runCli(["verify", "--data", dir, "--key", vkey, "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      entries: SIZE + 1,
      pruned: 256,
      erased: 0,
      prunedRanges: [{ from: 0, before: 256, record: SIZE, policy: "thirty-days", by: "auditor@example" }],
    });
  });

  it("answers 410 Gone for a pruned bundle and entry, and verifies over HTTP", async () => {
    const base = `http://127.0.0.1:${reads.server.port}`;
    // Entry bundles hold event content: they need the read credential, pruned or not.
    const headers = { Authorization: `Bearer ${READ_TOKEN}` };
    const bundle = await fetch(`${base}/log/tile/entries/000`, { headers });
    expect(bundle.status).toBe(410);
    expect(await bundle.text()).toMatch(
      /pruned \(retention record #700 \(policy thirty-days, by auditor@example\)\)/,
    );
    expect((await fetch(`${base}/log/tile/entries/001`, { headers })).status).toBe(200);
    const one = await fetch(`${base}/v1/events/3`, { headers });
    expect(one.status).toBe(410);
    const tokenFile = join(dir, "verify-read-token");
    writeFileSync(tokenFile, `${READ_TOKEN}\n`, { mode: 0o600 });
    const r = await runCli(["verify", `${base}/log/`, "--key", vkey, "--token-file", tokenFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /256 pruned, 0 thinned and 0 erased entries were checked by their published leaf hashes alone/,
    );
    expect(r.stdout).toMatch(
      /entries 0–255 pruned by retention record #700 \(policy thirty-days, by auditor@example/,
    );
  });

  it("still fails verification for a bundle that is gone without a record", async () => {
    const copy = mkdtempSync(join(tmpdir(), "kt-pruned-copy-"));
    try {
      cpSync(dir, copy, { recursive: true });
      rmSync(new FsLayout(copy).bundle(1), { force: true });
      rmSync(new FsLayout(copy).compressedBundle(1), { force: true });
      const r = await runCli(["verify", "--data", copy, "--key", vkey]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/missing-bundle: entry bundle 1 \(entries 256–511\) is missing or damaged/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("fails verification for bundles pruned (DATA/retention) without a retention record in the log", async () => {
    const copy = mkdtempSync(join(tmpdir(), "kt-pruned-norecord-"));
    try {
      const bare = await openFsLog(copy, { origin: "example.com/pruned-bare" });
      await bare.append(Array.from({ length: 600 }, (_, i) => event(i)));
      await bare.waitIntegrated(600);
      const key = bare.verifierKey;
      await bare.close();
      const again = await openFsLog(copy);
      await again.driver.pruneBundles(512, "someone's say-so");
      await again.close();
      const r = await runCli(["verify", "--data", copy, "--key", key]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /pruned-without-record: entries 0–511 were removed, but no retention record in the log covers them/,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
