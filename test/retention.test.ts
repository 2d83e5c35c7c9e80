// `kubetrail retention run` on a real data directory: only bundles whose every entry the policy
// no longer keeps are removed (a Secret read kept for years holds its bundle back), the record
// is in the log before any file goes, disk use drops, a later run extends the pruned range under
// a second record, a run that stops between its record and the removal loses nothing, and
// verify names the record behind every pruned range. With --thin, the entries past the policy
// go one by one from the bundles kept, listed in a record first, and verify names it too.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseRetentionPolicy } from "../src/retention/policy.js";
import { runRetention } from "../src/retention/run.js";
import { scanOffThread } from "../src/retention/scan-thread.js";
import { findThinnable, ThinCursors, type FindThinnable } from "../src/retention/thin.js";
import { makeRng } from "../bench/gen/rng.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { INDEX_FILE } from "../src/index/db.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { verifyLog } from "../src/verify/verify-log.js";
import { FsLogFiles } from "../src/store/fs/files.js";
import { setTimeout as sleep } from "node:timers/promises";
import { runCli } from "./fixtures/cli.js";
import { readerTlsFlags, startServe } from "./faults/serve-process.js";

const DAY_MS = 86_400_000;
const NOW = Date.parse("2026-12-01T00:00:00Z");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const POLICY_TEXT = `apiVersion: kubetrail.dev/v1
kind: RetentionPolicy
metadata: { name: ops }
keep: 30d
records: 30d
rules:
  - { resources: [secrets], keep: 7y }
`;
const POLICY = parseRetentionPolicy(POLICY_TEXT, "ops.yaml");

/** Event `i`, `ageDays` old at NOW; a Secret read when `secret`. */
function event(i: number, ageDays: number, secret = false): Buffer {
  return Buffer.from(
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "Metadata",
      auditID: `r-${i}`,
      stage: "ResponseComplete",
      verb: "get",
      user: { username: "alice" },
      objectRef: { resource: secret ? "secrets" : "pods", namespace: "team-a", name: `x-${i}` },
      stageTimestamp: new Date(NOW - ageDays * DAY_MS).toISOString(),
    }),
  );
}

/** A log of `ages.length` events (event i is ages[i] days old); secrets at the given indexes. */
async function makeLog(ages: number[], secrets: number[] = []): Promise<{ dir: string; key: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), "kt-retention-"));
  dirs.push(dir);
  const log = await openFsLog(dir, { origin: "example.com/retention" });
  await log.append(ages.map((age, i) => event(i, age, secrets.includes(i))));
  await log.waitIntegrated(ages.length);
  const key = log.verifierKey;
  await log.close();
  return { dir, key };
}

/** `<dir>-<name>.yaml` beside the data directory `dir` (removed after the suite), POLICY_TEXT by default. */
function policyFileBeside(dir: string, name = "policy", text = POLICY_TEXT): string {
  const file = `${dir}-${name}.yaml`;
  dirs.push(file);
  writeFileSync(file, text);
  return file;
}

/** Disk the bundle files take, or with `apparent` the bytes they hold (what a small test log changes). */
function bundleBytes(dir: string, apparent = false): number {
  const entries = path.join(dir, "tile", "entries");
  return readdirSync(entries).reduce((sum, n) => {
    const st = statSync(path.join(entries, n));
    return st.isFile() ? sum + (apparent ? st.size : st.blocks * 512) : sum;
  }, 0);
}

/**
 * Whether index.db (and its write-ahead log, if any) holds x-17, a name only pruned events
 * (x-17, x-170 … x-179) carried, and `kept`, one a kept event carries.
 */
function prunedNamesIn(dir: string, kept: string): { pruned: boolean; kept: boolean } {
  const files = [INDEX_FILE, `${INDEX_FILE}-wal`].map((f) => path.join(dir, f)).filter((f) => existsSync(f));
  const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
  return { pruned: bytes.includes("x-17"), kept: bytes.includes(kept) };
}

/** How many events `kubetrail query` lists in `dir` (from the index). */
async function listed(dir: string): Promise<number> {
  const r = await runCli(["query", "--data", dir, "--limit", "all", "-o", "json"]);
  return (JSON.parse(r.stdout) as { items: unknown[] }).items.length;
}

/** Waits (30 s at most) until serve has printed `text`, and fails if it has not. */
async function untilPrinted(serve: { output(): string }, text: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!serve.output().includes(text) && Date.now() < deadline) await sleep(100);
  expect(serve.output()).toContain(text);
}

/** Opens the log in `dir` for `fn`, then closes it (which syncs the tiles retention waits for). */
async function withLog<T>(
  dir: string,
  fn: (log: Awaited<ReturnType<typeof openFsLog>>) => Promise<T>,
): Promise<T> {
  const log = await openFsLog(dir);
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

/** verify's report of `dir`, checked to have no problem and `pruned` entries pruned. */
async function cleanReport(dir: string, key: string, pruned: number) {
  const report = await verifyLog(new FsLogFiles(dir), { verifierKey: key });
  expect(report.problems).toEqual([]);
  expect(report.pruned).toBe(pruned);
  return report;
}

describe("retention run", () => {
  it("removes only whole bundles past the policy, records it first, and frees the disk", async () => {
    // Bundles 0 and 1 are 90 days old; a Secret read at entry 300 (kept 7 years) holds bundle 1.
    const { dir, key } = await makeLog([...Array(600).fill(90), ...Array(100).fill(1)], [300]);
    const policyFile = policyFileBeside(dir);
    expect((await runCli(["reindex", "--data", dir])).code).toBe(0);
    expect(await listed(dir)).toBe(700);
    const diskBefore = bundleBytes(dir);
    const retentionRun = (...more: string[]) =>
      runCli(["retention", "run", "--data", dir, "--policy", policyFile, ...more]);
    const dry = await retentionRun("--dry-run", "-o", "json");
    expect(JSON.parse(dry.stdout)).toMatchObject({ from: 0, before: 256, recordIndex: null, dryRun: true });
    expect(bundleBytes(dir)).toBe(diskBefore);

    const r = await retentionRun("--by", "ops@example", "-o", "json");
    expect(r.stderr).toBe("");
    const run = JSON.parse(r.stdout) as {
      before: number;
      recordIndex: number;
      bytesFreed: number;
      stoppedBy: string;
    };
    expect(run).toMatchObject({ from: 0, before: 256, bundles: 1, recordIndex: 700, indexRowsDropped: 256 });
    // The pruned events' index rows went with them: who did what to which object is not kept either,
    // nor the names only they held (x-0 … x-255) in the index's dictionary.
    expect(await listed(dir)).toBe(700 - 256);
    expect(run).toMatchObject({ stringsForgotten: 256 });
    expect(prunedNamesIn(dir, "x-600")).toEqual({ pruned: false, kept: true });
    const until = new Date(NOW - 90 * DAY_MS + 7 * 365 * DAY_MS).toISOString();
    expect(run.stoppedBy).toBe(
      `entry 300 is still kept (get secrets in team-a, kept by rule 1 until ${until}); only whole bundles go, oldest first`,
    );
    expect(run.bytesFreed).toBeGreaterThan(0);
    expect(bundleBytes(dir)).toBe(diskBefore - run.bytesFreed);

    const v = await runCli(["verify", "--data", dir, "--key", key]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      /entries 0–255 pruned by retention record #700 \(policy ops, by ops@example, 20/,
    );

    // The record is an entry of the log like any other, under the signed checkpoint.
    const log = await openFsLog(dir);
    try {
      const records: Uint8Array[] = [];
      for await (const e of log.readEntries(700, 701)) records.push(e.data!);
      expect(JSON.parse(Buffer.from(records[0]!).toString())).toMatchObject({
        apiVersion: "kubetrail.dev/v1",
        kind: "RetentionRecord",
        by: "ops@example",
        policy: { name: "ops", sha256: POLICY.digest },
        range: { from: 0, before: 256 },
        prunedBefore: 256,
      });
    } finally {
      await log.close();
    }
  });

  it("extends the pruned range under a second record, each range named by its record", async () => {
    const { dir, key } = await makeLog([...Array(300).fill(100), ...Array(600).fill(40)]);
    await withLog(dir, async (log) => {
      // 50 days before NOW only the 100-day-old entries are past 30 days: bundle 0 goes.
      const first = await runRetention(log, {
        policy: POLICY,
        by: "first",
        nowUs: (NOW - 50 * DAY_MS) * 1000,
      });
      expect(first).toMatchObject({ from: 0, before: 256, recordIndex: 900 });
      // At NOW the 40-day-old ones are too, and the first record itself (dated 50 days ago);
      // the second run's record covers everything pruned so far.
      const second = await runRetention(log, { policy: POLICY, by: "second", nowUs: NOW * 1000 });
      expect(second).toMatchObject({ from: 256, before: 768, recordIndex: 901 });
    });
    const report = await cleanReport(dir, key, 768);
    expect(report.prunedRanges).toEqual([
      {
        from: 0,
        before: 256,
        record: 900,
        policy: "ops",
        by: "first",
        time: new Date(NOW - 50 * DAY_MS).toISOString(),
      },
      { from: 256, before: 768, record: 901, policy: "ops", by: "second", time: new Date(NOW).toISOString() },
    ]);
  });

  it("is not held back by its own earlier record when records are kept forever", async () => {
    // The documented example keeps kubetrail's records forever. A run's record is one: were it
    // kept, every later run would stop at it and the log would grow without bound.
    const forever = parseRetentionPolicy(POLICY_TEXT.replace("records: 30d", "records: forever"), "f.yaml");
    const { dir, key } = await makeLog(Array(300).fill(100));
    await withLog(dir, async (log) => {
      const first = await runRetention(log, {
        policy: forever,
        by: "first",
        nowUs: (NOW - 50 * DAY_MS) * 1000,
      });
      expect(first).toMatchObject({ from: 0, before: 256, recordIndex: 300 });
      await log.append(Array.from({ length: 600 }, (_, i) => event(301 + i, 40)));
      await log.waitIntegrated(901);
    });
    // Bundle 1 holds the first record (entry 300); bundles 1 and 2 go all the same.
    const second = await withLog(dir, (log) =>
      runRetention(log, { policy: forever, by: "second", nowUs: NOW * 1000 }),
    );
    expect(second).toMatchObject({ from: 256, before: 768, recordIndex: 901 });
    const report = await cleanReport(dir, key, 768);
    // One range: the second record covers what the first (now pruned with its bundle) did.
    expect(report.prunedRanges.map((r) => [r.from, r.before, r.record])).toEqual([[0, 768, 901]]);
  });

  it("loses nothing when it stops between its record and the removal; the next run finishes", async () => {
    const { dir, key } = await makeLog(Array(600).fill(90));
    const log = await openFsLog(dir);
    try {
      const prune = log.driver.pruneBundles.bind(log.driver);
      log.driver.pruneBundles = () => Promise.reject(new Error("stopped before removing anything"));
      await expect(runRetention(log, { policy: POLICY, by: "ops", nowUs: NOW * 1000 })).rejects.toThrow(
        /stopped before removing/,
      );
      // The record is in the log and the bundles are all there: a record over present bundles is fine.
      expect(log.latestCheckpoint().size).toBe(601);
      const mid = await verifyLog(new FsLogFiles(dir), { verifierKey: key });
      expect(mid).toMatchObject({ ok: true, pruned: 0, entries: 601 });
      log.driver.pruneBundles = prune;
      const again = await runRetention(log, { policy: POLICY, by: "ops", nowUs: NOW * 1000 });
      expect(again).toMatchObject({ from: 0, before: 512, recordIndex: 601 });
    } finally {
      await log.close();
    }
    const report = await verifyLog(new FsLogFiles(dir), { verifierKey: key });
    expect(report).toMatchObject({ ok: true, pruned: 512 });
    // The first record announced this very range: it is the one named.
    expect(report.prunedRanges.map((r) => r.record)).toEqual([600]);
    expect(existsSync(new FsLayout(dir).bundle(1)) || existsSync(new FsLayout(dir).compressedBundle(1))).toBe(
      false,
    );
  });

  it("is applied by serve --retention-policy once the log is open", async () => {
    const { dir, key } = await makeLog(Array(600).fill(90));
    const policyFile = policyFileBeside(dir);
    // Indexed before serve starts, so its index holds the rows retention is to drop.
    expect((await runCli(["reindex", "--data", dir])).code).toBe(0);
    const serve = await startServe(dir, ["--retention-policy", policyFile, "--no-detect"]);
    try {
      await untilPrinted(serve, "retention: bundles removed");
      expect(serve.output()).toContain('"indexRowsDropped":512');
      expect(serve.output()).toContain('"stringsForgotten":512');
      expect(serve.output()).toMatch(/"stoppedBy":"every full bundle with durable tiles was looked at"/);
    } finally {
      await serve.kill("SIGTERM");
    }
    expect(prunedNamesIn(dir, "x-520")).toEqual({ pruned: false, kept: true });
    const v = await runCli(["verify", "--data", dir, "--key", key, "-o", "json"]);
    const report = JSON.parse(v.stdout) as { ok: boolean; pruned: number; prunedRanges: { by: string }[] };
    expect(report).toMatchObject({ ok: true, pruned: 512 });
    expect(report.prunedRanges[0]!.by).toMatch(/^kubetrail serve \(/);
  });

  it("drops the index rows a run left behind (stopped between its two steps) at the next run", async () => {
    const { dir } = await makeLog(Array(600).fill(90));
    expect((await runCli(["reindex", "--data", dir])).code).toBe(0);
    // The library's run removes the bundles only: what a run killed before its second step leaves.
    const first = await withLog(dir, (log) => runRetention(log, { policy: POLICY, by: "first" }));
    expect(first).toMatchObject({ before: 512 });
    const policyFile = policyFileBeside(dir);
    const r = await runCli(["retention", "run", "--data", dir, "--policy", policyFile]);
    expect(r.stdout).toMatch(
      /^nothing to remove \(.*\); 512 index rows of entries pruned earlier dropped in /,
    );
  });

  it("keeps the pruned events' fingerprints: importing their audit file again stores nothing", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "kt-retention-reimport-"));
    dirs.push(root);
    const file = path.join(root, "audit.log");
    // What the apiserver writes has these too; import requires them.
    const line = (i: number): string => {
      const e = JSON.parse(event(i, 90).toString()) as { stageTimestamp: string };
      return JSON.stringify({
        ...e,
        requestReceivedTimestamp: e.stageTimestamp,
        requestURI: `/api/v1/pods/x-${i}`,
      });
    };
    writeFileSync(file, Array.from({ length: 600 }, (_, i) => line(i)).join("\n") + "\n");
    writeFileSync(path.join(root, "policy.yaml"), POLICY_TEXT);
    const data = path.join(root, "data");
    expect((await runCli(["import", "--data", data, file])).code).toBe(0);
    const run = await runCli([
      "retention",
      "run",
      "--data",
      data,
      "--policy",
      path.join(root, "policy.yaml"),
      "-o",
      "json",
    ]);
    expect(JSON.parse(run.stdout)).toMatchObject({ from: 0, before: 512 });
    const again = await runCli(["import", "--data", data, file]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/stored 0, duplicates 600/);
  });

  it("thins kept bundles: the entries past the policy go one by one, listed first, and verify names the record", async () => {
    // A Secret read every 50 entries (kept 7 years) holds every bundle back from whole pruning.
    const secrets = Array.from({ length: 12 }, (_, k) => k * 50);
    const { dir, key } = await makeLog([...Array(600).fill(90), ...Array(100).fill(1)], secrets);
    const policyFile = policyFileBeside(dir);
    expect((await runCli(["reindex", "--data", dir])).code).toBe(0);
    const bytesBefore = bundleBytes(dir, true);
    const retentionRun = (...more: string[]) =>
      runCli(["retention", "run", "--data", dir, "--policy", policyFile, "--thin", ...more]);

    const dry = JSON.parse((await retentionRun("--dry-run", "-o", "json")).stdout) as {
      thinned: { entries: number };
    };
    // Full bundles 0 and 1 (entries 0–511) hold 11 of the Secret reads; the rest is 90 days old.
    expect(dry).toMatchObject({ bundles: 0, thinned: { entries: 501, bundles: 2, records: [] } });
    expect(bundleBytes(dir, true)).toBe(bytesBefore);

    const r = await retentionRun("--by", "ops@example");
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(
      /^nothing to remove \(entry 0 is still kept .*\); thinned 501 entries from 2 kept bundles \([0-9.]+ MB, 501 index rows\) under retention record #700 in /,
    );
    expect(bundleBytes(dir, true)).toBeLessThan(bytesBefore);
    // Their index rows went with them; the Secret reads and the young entries stay.
    expect(await listed(dir)).toBe(700 - 501);

    const v = await runCli(["verify", "--data", dir, "--key", key]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain("0 pruned, 501 thinned and 0 erased entries were checked");
    expect(v.stdout).toMatch(/501 entries thinned by retention record #700 \(policy ops, by ops@example, 20/);
    const report = await cleanReport(dir, key, 0);
    expect(report).toMatchObject({ thinned: 501, erased: 0, erasedBy: [] });
    expect(report.thinnedBy).toEqual([
      { record: 700, count: 501, policy: "ops", by: "ops@example", time: expect.any(String) },
    ]);

    // What is thinned stays thinned: a second run finds nothing and appends nothing.
    const again = await retentionRun("-o", "json");
    expect(JSON.parse(again.stdout)).toMatchObject({
      thinned: { entries: 0, records: [] },
      recordIndex: null,
    });
    await withLog(dir, async (log) => expect(log.latestCheckpoint().size).toBe(701));

    // An entry emptied without a record is still an error: the Secret read at 50.
    await withLog(dir, (log) => log.driver.eraseEntries([50]));
    const forged = await verifyLog(new FsLogFiles(dir), { verifierKey: key });
    expect(forged.ok).toBe(false);
    expect(forged.problems).toEqual([expect.objectContaining({ code: "erased-without-record", index: 50 })]);
  });

  it("thins again only what expired since the last run when given cursors (serve's runs)", async () => {
    const { dir, key } = await makeLog(Array(600).fill(90), [0, 300]);
    const cursors = new ThinCursors();
    const thin = (by: string) => (log: Awaited<ReturnType<typeof openFsLog>>) =>
      runRetention(log, { policy: POLICY, by, nowUs: NOW * 1000, thin: true, cursors });
    const first = await withLog(dir, thin("first"));
    // The 30-day walk reads bundles 0 and 1 to their end; the 7-year one stops at entry 0.
    expect(first.thinned).toMatchObject({ entries: 510, bundles: 2, read: 513 });
    const second = await withLog(dir, thin("second"));
    expect(second.thinned).toMatchObject({ entries: 0, read: 1 });
    // 600 more, 40 days old: only they are read (bundle 2 onwards), and thinned.
    await withLog(dir, async (log) => {
      await log.append(Array.from({ length: 600 }, (_, i) => event(700 + i, 40)));
      await log.waitIntegrated(1201);
    });
    const third = await withLog(dir, thin("third"));
    // Full bundles 2–3 (entries 512–1023): all but the record at 600 go.
    expect(third.thinned).toMatchObject({ entries: 511, bundles: 2, read: 512 + 1 });
    const report = await cleanReport(dir, key, 0);
    expect(report.thinnedBy.map((t) => [t.by, t.count])).toEqual([
      ["first", 510],
      ["third", 511],
    ]);
  });

  it("finds on a thread of its own (serve's scan) what it finds in line, with and without cursors", async () => {
    const seed = 4107;
    console.log(`thinning scan seed ${seed}`);
    const rng = makeRng(seed);
    const ages = Array.from({ length: 1400 }, () => Math.floor(rng.next() * 60));
    const secrets = ages.map((_, i) => i).filter(() => rng.next() < 0.05);
    const { dir } = await makeLog(ages, secrets);
    const scan = async (find: FindThinnable, cursors?: ThinCursors) => {
      const found = new Map<number, number[]>();
      const moves: [number, number][] = [];
      const read = await withLog(dir, (log) =>
        find(
          log,
          { policy: POLICY, from: 0, limit: 1280, nowUs: NOW * 1000, ...(cursors ? { cursors } : {}) },
          found,
          moves,
        ),
      );
      return { read, found: [...found].sort((a, b) => a[0] - b[0]), moves };
    };
    const inLine = await scan(findThinnable);
    expect(inLine.found.length).toBe(5);
    expect(await scan(scanOffThread(dir))).toEqual(inLine);
    const cursors = ThinCursors.of([
      [30 * DAY_MS * 1000, 300],
      [7 * 365 * DAY_MS * 1000, 40],
    ]);
    const walked = await scan(findThinnable, cursors);
    expect(walked.moves.length).toBe(2);
    expect(await scan(scanOffThread(dir), cursors)).toEqual(walked);
    // A directory it cannot read is a clear error, not a crash.
    await expect(
      withLog(dir, (log) =>
        scanOffThread(`${dir}-missing`)(
          log,
          { policy: POLICY, from: 0, limit: 256, nowUs: 0 },
          new Map(),
          [],
        ),
      ),
    ).rejects.toThrow(/the thinning scan failed: .*missing/);
    // A damaged bundle is the log's "corrupt" on the thread as in line.
    const layout = new FsLayout(dir);
    const damaged = existsSync(layout.compressedBundle(1)) ? layout.compressedBundle(1) : layout.bundle(1);
    writeFileSync(damaged, "not a bundle\n".repeat(50));
    await expect(scan(findThinnable)).rejects.toMatchObject({ code: "corrupt" });
    await expect(scan(scanOffThread(dir))).rejects.toMatchObject({
      code: "corrupt",
      message: expect.stringMatching(/^the thinning scan failed: /) as string,
    });
  });

  it("keeps the cursors for one policy: another policy, or a damaged file, starts from the pruned point", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-thin-cursors-"));
    dirs.push(dir);
    const file = path.join(dir, "retention-thin.json");
    const saved = new ThinCursors();
    saved.set(30 * DAY_MS * 1000, 4096);
    await saved.save(file, POLICY.digest);
    expect((await ThinCursors.load(file, POLICY.digest)).from(30 * DAY_MS * 1000, 0)).toBe(4096);
    expect((await ThinCursors.load(file, "another policy")).from(30 * DAY_MS * 1000, 0)).toBe(0);
    writeFileSync(file, '{"policy":');
    expect((await ThinCursors.load(file, POLICY.digest)).from(30 * DAY_MS * 1000, 256)).toBe(256);
    expect((await ThinCursors.load(path.join(dir, "none.json"), POLICY.digest)).from(1, 7)).toBe(7);
  });

  it("is thinned by serve --retention-thin", async () => {
    const { dir, key } = await makeLog(Array(600).fill(90), [0, 300]);
    const policyFile = policyFileBeside(dir);
    expect((await runCli(["reindex", "--data", dir])).code).toBe(0);
    const serve = await startServe(dir, [
      "--retention-policy",
      policyFile,
      "--retention-thin",
      "--no-detect",
    ]);
    try {
      await untilPrinted(serve, "retention: entries thinned");
      expect(serve.output()).toContain('"thinned":510');
      expect(serve.output()).toContain('"thinnedIndexRows":510');
    } finally {
      await serve.kill("SIGTERM");
    }
    // Where the walks got to is kept: started again, serve reads one entry (the Secret read at 0).
    const again = await startServe(dir, [
      "--retention-policy",
      policyFile,
      "--retention-thin",
      "--no-detect",
    ]);
    try {
      await untilPrinted(again, "retention: nothing to remove");
      expect(again.output()).toMatch(/"thinned":0,.*"thinRead":1\b/);
    } finally {
      await again.kill("SIGTERM");
    }
    expect(await listed(dir)).toBe(600 + 1 - 510 - 1);
    const report = await cleanReport(dir, key, 0);
    expect(report.thinned).toBe(510);
    expect(report.thinnedBy[0]!.by).toMatch(/^kubetrail serve \(/);
  });

  it("a thinned log is restored from its directory and from serve's URL: tombstones kept, same root", async () => {
    const { dir, key } = await makeLog(Array(600).fill(90), [0, 300]);
    const policyFile = policyFileBeside(dir);
    expect((await runCli(["retention", "run", "--data", dir, "--policy", policyFile, "--thin"])).code).toBe(
      0,
    );
    const thinned = await cleanReport(dir, key, 0);
    expect(thinned.thinned).toBe(510);
    const restoreFrom = async (from: string, ...more: string[]) => {
      const into = `${dir}-restored-${dirs.length}`;
      dirs.push(into);
      const r = await runCli([
        "restore",
        "--data",
        into,
        "--from",
        from,
        "--key",
        key,
        "--signing-key",
        path.join(dir, "keys", "signing.key"),
        ...more,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const report = await cleanReport(into, key, 0);
      expect(report).toMatchObject({ rootHash: thinned.rootHash, size: thinned.size, thinned: 510 });
      expect(report.thinnedBy).toEqual(thinned.thinnedBy);
    };
    await restoreFrom(dir);
    const serve = await startServe(dir, ["--no-detect"]);
    try {
      await restoreFrom(`${serve.url}/log/`, ...readerTlsFlags(dir));
    } finally {
      await serve.kill("SIGTERM");
    }
  });

  it("never thins the log's own records, and a run stopped before tombstoning is finished by the next", async () => {
    const { dir, key } = await makeLog(Array(600).fill(1), [0]);
    await withLog(dir, async (log) => {
      // 60 days on, every event but the Secret read is past 30 days.
      const later = (NOW + 60 * DAY_MS) * 1000;
      const erase = log.driver.eraseEntries.bind(log.driver);
      log.driver.eraseEntries = () => Promise.reject(new Error("stopped before tombstoning"));
      await expect(
        runRetention(log, { policy: POLICY, by: "first", nowUs: later, thin: true }),
      ).rejects.toThrow(/stopped before tombstoning/);
      // Its record lists entries still present: no error, nothing counted.
      expect(await verifyLog(new FsLogFiles(dir), { verifierKey: key })).toMatchObject({
        ok: true,
        thinned: 0,
      });
      log.driver.eraseEntries = erase;
      const second = await runRetention(log, { policy: POLICY, by: "second", nowUs: later, thin: true });
      expect(second.thinned).toMatchObject({ entries: 511, bundles: 2, records: [601] });
      // Fill bundle 2, which holds both records.
      await log.append(Array.from({ length: 200 }, (_, i) => event(700 + i, 1)));
      await log.waitIntegrated(802);
    });
    // Reopened, so bundle 2's tiles are durable; a year on, everything but the Secret read is past.
    await withLog(dir, async (log) => {
      const third = await runRetention(log, {
        policy: POLICY,
        by: "third",
        nowUs: (NOW + 365 * DAY_MS) * 1000,
        thin: true,
      });
      // Bundle 2: entries 512–599 and 602–767; the records at 600 and 601 are kept.
      expect(third.thinned).toMatchObject({ entries: 88 + 166, bundles: 1, records: [802] });
      const kept: number[] = [];
      for await (const e of log.readEntries(512, 768)) if (e.data !== undefined) kept.push(e.index);
      expect(kept).toEqual([600, 601]);
    });
    const report = await cleanReport(dir, key, 0);
    // The first record listed the same entries as the second: the first in the log is named.
    expect(report.thinnedBy.map((t) => [t.record, t.by, t.count])).toEqual([
      [600, "first", 511],
      [802, "third", 254],
    ]);
  });

  it("refuses --retention-thin without a policy to apply", async () => {
    const r = await runCli(["serve", "--data", path.join(tmpdir(), "kt-never-created"), "--retention-thin"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--retention-thin applies the policy of --retention-policy FILE, which is missing/,
    );
  });

  it("refuses a policy file with a clear error and changes nothing", async () => {
    const { dir } = await makeLog(Array(300).fill(90));
    const policyFile = policyFileBeside(
      dir,
      "bad",
      "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\nkeep: a month\n",
    );
    const r = await runCli(["retention", "run", "--data", dir, "--policy", policyFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml: keep: "a month" is not a duration/);
  });
});
