// `kubetrail mirror --from URL --once` following a real serve whose retention pruned its oldest
// bundles (they answer 410) and that erased an entry (its tombstone, an empty line, cannot be
// hashed): the copy takes those leaf hashes from the log's tiles, records the pruned bundles as
// pruned, holds the log's retention and erasure records, and verifies. Before, the first 410 or
// empty line ended the pull: an auditor could not keep a copy of a log with either. A copy that already holds
// entries the log pruned after it fetched them cannot become prefix-pruned: that pull is refused
// with the reason, and the copy still verifies as it is. A new primary restored from such a copy
// (or from the log's URL) holds the same pruned bundles and tombstones under the same records. A copy that held entries before the log
// erased or thinned them, or pruned their bundles, does the same to its own files once it holds
// the records, also when it crashed in between.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MirroredLog } from "../../src/mirror/mirrored-log.js";
import { splitBundle } from "../../src/store/bundle-format.js";
import { FsLogFiles } from "../../src/store/fs/files.js";
import { NoteVerifier } from "../../src/tlog/index.js";
import { openFsLog } from "../../src/store/fs/storage.js";
import { originHash } from "../../src/witness/witness.js";
import { runCli } from "../fixtures/cli.js";
import { readerFlags, readerTlsFlags, startServe } from "../faults/serve-process.js";

const ORIGIN = "mirror-pull-pruned.test/log";
const DAY_MS = 86_400_000;

/** `n` events from index `from`, `ageDays` old (90: past a 30-day policy). */
function events(from: number, n: number, ageDays = 90): Buffer[] {
  return Array.from({ length: n }, (_, k) =>
    Buffer.from(
      JSON.stringify({
        kind: "Event",
        apiVersion: "audit.k8s.io/v1",
        auditID: `e-${from + k}`,
        stage: "ResponseComplete",
        verb: "get",
        objectRef: { resource: "pods", namespace: "a" },
        stageTimestamp: new Date(Date.now() - ageDays * DAY_MS).toISOString(),
      }),
    ),
  );
}

describe("mirror pull of a log with retention", () => {
  let dir = "";
  let policy = "";

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-mirror-pruned-"));
    policy = path.join(dir, "policy.yaml");
    writeFileSync(policy, "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\nkeep: 30d\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A log of `old` old events then `recent` of a day ago in DATA, its verifier key. */
  async function makeLog(data: string, old: number, recent = 0): Promise<string> {
    const log = await openFsLog(data, { origin: ORIGIN });
    await log.append([...events(0, old), ...events(old, recent, 1)]);
    await log.waitIntegrated(old + recent);
    const key = log.verifierKey;
    await log.close();
    return key;
  }

  /** `mirror --once` of the log serve answers for in `data`. */
  async function pull(data: string, mirrorData: string, key: string) {
    const serve = await startServe(data, ["--no-detect"]);
    try {
      return await runCli([
        "mirror",
        "--data",
        mirrorData,
        "--from",
        `${serve.url}/log/`,
        ...readerFlags(data, key),
        "--once",
      ]);
    } finally {
      await serve.kill("SIGTERM");
    }
  }

  it("copies a log with pruned bundles and an erased entry: hashes from the tiles, and the copy verifies", async () => {
    const data = path.join(dir, "pruned");
    const key = await makeLog(data, 512, 500);
    const ran = await runCli(["retention", "run", "--data", data, "--policy", policy, "-o", "json"]);
    expect(JSON.parse(ran.stdout)).toMatchObject({ from: 0, before: 512, recordIndex: 1012 });
    // A tombstone too: an empty line, whose leaf hash only the log's tile still has.
    const erased = await runCli([
      "erase",
      "--data",
      data,
      "--audit-id",
      "e-600",
      "--reason",
      "DSAR 9",
      "-o",
      "json",
    ]);
    expect(JSON.parse(erased.stdout)).toMatchObject({ entries: [600], records: [1013] });

    const mirrorData = path.join(dir, "mirror");
    const r = await pull(data, mirrorData, key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${ORIGIN}: 1014 entries mirrored (1014 new)`);
    const copy = path.join(mirrorData, "logs", originHash(ORIGIN));
    const v = await runCli(["verify", "--data", copy, "--key", key, "-o", "json"]);
    expect(v.code, v.stdout).toBe(0);
    const report = JSON.parse(v.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ ok: true, size: 1014, pruned: 512, erased: 1 });
    expect(report["prunedRanges"]).toMatchObject([{ from: 0, before: 512, record: 1012 }]);
    expect(report["erasedBy"]).toMatchObject([{ record: 1013, count: 1, reason: "DSAR 9" }]);
    // The mirror answers for the pruned ones as the log does: gone, with the log's reason.
    const held = await MirroredLog.open(mirrorData, ORIGIN, [NoteVerifier.fromKey(key)], "ndjson");
    expect(held.prunedReason(1)).toMatch(
      /^pruned by the log: tile\/entries\/001: gone \(HTTP 410\): pruned \(retention record #1012 /,
    );
    expect(held.prunedReason(2)).toBeNull();
    // The copy holds the log's key: the read commands open it like a log's own directory.
    const q = await runCli(["query", "--data", copy, "--limit", "1", "-o", "json"]);
    expect(q.code, q.stderr).toBe(0);
    expect((JSON.parse(q.stdout) as { items: { index: number }[] }).items[0]!.index).toBe(1011);
    // A new primary restored from the copy, and one from the log's own URL (410 for the pruned
    // bundles): the same tree, the same bundles pruned and the same entry erased, each under its
    // record, and it goes on as the log did.
    const signingKey = path.join(data, "keys", "signing.key");
    const restoreFrom = async (target: string, ...from: string[]) => {
      const restore = await runCli([
        "restore",
        "--data",
        target,
        ...from,
        "--key",
        key,
        "--signing-key",
        signingKey,
      ]);
      expect(restore.code, restore.stderr).toBe(0);
      const r = await runCli(["verify", "--data", target, "--key", key, "-o", "json"]);
      expect(r.code, r.stdout).toBe(0);
      const restored = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(restored).toMatchObject({
        ok: true,
        size: 1014,
        pruned: 512,
        erased: 1,
        rootHash: report["rootHash"],
      });
      expect(restored["prunedRanges"]).toMatchObject([{ from: 0, before: 512, record: 1012 }]);
      expect(restored["erasedBy"]).toMatchObject([{ record: 1013, count: 1, reason: "DSAR 9" }]);
      // Bundles 0 and 1 are gone from its disk, as from the log's, and the full one kept is
      // compressed, not left plain by a log that closed right after writing it.
      const stored = readdirSync(path.join(target, "tile", "entries"));
      expect(stored.filter((n) => /^00[01](\.zst)?$/.test(n))).toEqual([]);
      expect(stored.filter((n) => /^002(\.zst)?$/.test(n))).toEqual(["002.zst"]);
    };
    const fromCopy = path.join(dir, "restored-from-copy");
    await restoreFrom(fromCopy, "--from", copy);
    const serve = await startServe(data, ["--no-detect"]);
    try {
      await restoreFrom(
        path.join(dir, "restored-from-url"),
        "--from",
        `${serve.url}/log/`,
        ...readerTlsFlags(data),
      );
    } finally {
      await serve.kill("SIGTERM");
    }
    // Retention on the new primary starts where the old one stopped.
    const log = await openFsLog(fromCopy);
    await log.append(events(1014, 300));
    await log.waitIntegrated(1314);
    await log.close();
    const later = await runCli(["retention", "run", "--data", fromCopy, "--policy", policy, "-o", "json"]);
    expect(later.code, later.stderr).toBe(0);
    expect(JSON.parse(later.stdout)).toMatchObject({ from: 512, before: 512 });
    const v2 = await runCli(["verify", "--data", fromCopy, "--key", key, "-o", "json"]);
    expect(v2.code, v2.stdout).toBe(0);
    expect(JSON.parse(v2.stdout)).toMatchObject({ ok: true, size: 1314, pruned: 512 });
    // Nothing new: the next round fetches nothing.
    const again = await pull(data, mirrorData, key);
    expect(again.stdout).toContain(`${ORIGIN}: 1014 entries mirrored (0 new)`);
  });

  it("follows, in a copy that held them, what the log's erasure and retention remove later, also after a crash", async () => {
    const data = path.join(dir, "follow");
    // 0–599 past the policy, 600–899 a day old: bundles 0–2 full, 3 open.
    const key = await makeLog(data, 600, 300);
    const mirrorData = path.join(dir, "mirror-follow");
    expect((await pull(data, mirrorData, key)).code).toBe(0);
    const copy = path.join(mirrorData, "logs", originHash(ORIGIN));
    const bundle2 = readdirSync(path.join(copy, "tile", "entries")).find((n) => /^002(\.zst)?$/.test(n))!;
    const heldBefore = readFileSync(path.join(copy, "tile", "entries", bundle2));

    const erased = await runCli([
      "erase",
      "--data",
      data,
      "--audit-id",
      "e-650",
      "--reason",
      "DSAR 12",
      "-o",
      "json",
    ]);
    expect(JSON.parse(erased.stdout)).toMatchObject({ entries: [650] });
    const ran = await runCli([
      "retention",
      "run",
      "--data",
      data,
      "--policy",
      policy,
      "--thin",
      "-o",
      "json",
    ]);
    // Bundles 0–1 go whole; 512–599, past the policy in bundle 2, one by one.
    expect(JSON.parse(ran.stdout)).toMatchObject({ before: 512, thinned: { entries: 88 } });
    const r = await pull(data, mirrorData, key);
    expect(r.code, r.stderr).toBe(0);

    const lines = async (): Promise<Buffer[]> => {
      const got = await new FsLogFiles(copy).readEntryBundle(2, 256);
      return splitBundle(got!.data!).map((l) => Buffer.from(l));
    };
    const emptied = (all: Buffer[]) => all.flatMap((l, i) => (l.length === 0 ? [512 + i] : []));
    const removed = [...Array.from({ length: 88 }, (_, i) => 512 + i), 650];
    expect(emptied(await lines())).toEqual(removed);
    expect(existsSync(path.join(copy, "tile", "entries", "000.zst"))).toBe(false);
    expect(existsSync(path.join(copy, "tile", "entries", "001"))).toBe(false);
    const v = await runCli(["verify", "--data", copy, "--key", key, "-o", "json"]);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, pruned: 512, erased: 1, thinned: 88 });

    // A crash between the commit and the removals: the bundle as it was, the mark gone. Opening
    // the copy reads the records since and applies them.
    for (const name of ["002", "002.zst"]) rmSync(path.join(copy, "tile", "entries", name), { force: true });
    writeFileSync(path.join(copy, "tile", "entries", bundle2), heldBefore);
    rmSync(path.join(copy, "removals-applied"));
    expect(emptied(await lines())).toEqual([]);
    await MirroredLog.open(mirrorData, ORIGIN, [NoteVerifier.fromKey(key)], "ndjson");
    expect(emptied(await lines())).toEqual(removed);
  });

  it("refuses to leave a gap in a copy that holds what the log pruned later, and the copy still verifies", async () => {
    const data = path.join(dir, "later");
    const key = await makeLog(data, 600);
    const mirrorData = path.join(dir, "mirror-later");
    expect((await pull(data, mirrorData, key)).code).toBe(0);
    // The log goes on, then prunes entries 0–767: the copy holds 0–599 and never saw 600–767.
    const log = await openFsLog(data);
    await log.append(events(600, 300));
    await log.waitIntegrated(900);
    await log.close();
    const ran = await runCli(["retention", "run", "--data", data, "--policy", policy, "-o", "json"]);
    expect(JSON.parse(ran.stdout)).toMatchObject({ from: 0, before: 768 });
    const r = await pull(data, mirrorData, key);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/a copy can be pruned only from its start/);
    const copy = path.join(mirrorData, "logs", originHash(ORIGIN));
    const v = await runCli(["verify", "--data", copy, "--key", key, "-o", "json"]);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: 600, pruned: 0 });
  });
});
