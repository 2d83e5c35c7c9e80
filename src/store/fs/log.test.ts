import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  promises as fsp,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hashLeaf, parseTilePath, proveInclusion, verifyInclusion } from "../../tlog/index.js";
import { losePower } from "../../../test/fixtures/power-loss.js";
import { logConformance } from "../testdata/log-conformance.js";
import type { AuditLog, LogEntry } from "../types.js";
import type { FsDriver } from "./driver.js";
import { FsLayout } from "./layout.js";
import { fsStorage, openFsLog } from "./storage.js";

const dirs: string[] = [];
function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kt-fslog-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
const entries = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => enc({ auditID: `id-${from + i}`, n: from + i }));

/** Full bundles kept plain, for the tests that read or damage bundle files directly. */
const plain = { compressLevel: null };

/** A new log of `n` entries (plain bundles), integrated and closed cleanly; its directory's layout. */
async function closedLog(n: number): Promise<{ dir: string; layout: FsLayout }> {
  const dir = tmpDir();
  const log = await openFsLog(dir, plain);
  await log.append(entries(0, n));
  await log.waitIntegrated(n);
  await log.close();
  return { dir, layout: new FsLayout(dir) };
}

async function readAll(log: AuditLog): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of log.readEntries(0, log.size())) out.push(e);
  return out;
}

logConformance("filesystem", () => {
  const dir = tmpDir();
  return {
    storage: fsStorage(dir),
    open: (opts) => openFsLog(dir, opts),
    prune: (log, before, reason) =>
      (log as AuditLog & { driver: FsDriver }).driver.pruneBundles(before, reason),
    loseTiles: async (drop) => {
      const layout = new FsLayout(dir);
      rmSync(layout.tilesDurable, { force: true });
      const files = await fsp.readdir(path.join(dir, "tile"), { recursive: true });
      for (const f of files) {
        if (f.startsWith("entries")) continue;
        let parsed;
        try {
          parsed = parseTilePath(`tile/${f}`);
        } catch {
          continue; // a directory
        }
        if (parsed.kind === "hash" && drop(parsed.tile)) rmSync(path.join(dir, "tile", f));
      }
    },
  };
});

describe("fs log", () => {
  it("keeps only the partial files its latest checkpoint names, across bundle and reopen", async () => {
    const dir = tmpDir();
    const layout = new FsLayout(dir);
    const partials = async () => {
      const files = await fsp.readdir(path.join(dir, "tile"), { recursive: true });
      return files
        .filter((f) => /\.p\/\d+$/.test(f))
        .map((f) => `tile/${f}`)
        .sort();
    };
    let log = await openFsLog(dir, plain);
    await log.append(entries(0, 250));
    await log.waitIntegrated(250);
    expect(await partials()).toEqual(["tile/0/000.p/250", "tile/entries/000.p/250"]);
    await log.append(entries(250, 50)); // bundle 0 and tile 0/0 become full
    await log.waitIntegrated(300);
    expect(await partials()).toEqual(["tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/001.p/44"]);
    expect(statSync(layout.bundle(0)).isFile()).toBe(true);
    await log.close();
    log = await openFsLog(dir, plain);
    await log.append(entries(300, 10));
    await log.waitIntegrated(310);
    expect(await partials()).toEqual(["tile/0/001.p/54", "tile/1/000.p/1", "tile/entries/001.p/54"]);
    await log.close();
  });

  it("records on close that its tiles are durable, and reopens from them without re-hashing", async () => {
    const { dir, layout } = await closedLog(700);
    expect(readFileSync(layout.tilesDurable, "utf8")).toBe("700\n");
    // A bundle the right edge would re-hash is unreadable: the clean path must not need it.
    const partial = layout.openBundle(2);
    const saved = readFileSync(partial);
    writeFileSync(partial, "");
    const repairs: string[] = [];
    await expect(openFsLog(dir, { onRepair: (m) => repairs.push(m) })).rejects.toMatchObject({
      code: "corrupt",
    });
    writeFileSync(partial, saved);
    const reopened = await openFsLog(dir, { onRepair: (m) => repairs.push(m) });
    expect(repairs).toEqual([]);
    await reopened.close();
  });

  it.each([
    ["not a count", (f: string) => writeFileSync(f, "zzz\n")],
    ["negative", (f: string) => writeFileSync(f, "-5\n")],
    ["beyond the log", (f: string) => writeFileSync(f, "99999999\n")],
    ["a directory", (f: string) => (rmSync(f), mkdirSync(path.join(f, "inside"), { recursive: true }))],
  ])("repairs a damaged tiles-durable (%s) with a warning and goes on", async (_, damage) => {
    const { dir, layout } = await closedLog(700);
    const cp = readFileSync(layout.checkpoint, "utf8");
    damage(layout.tilesDurable);
    // The partial tiles lost too: the tiles are rebuilt from the entries, not taken as they are.
    rmSync(layout.hashTile({ level: 0, index: 2, width: 188 }));
    const repairs: string[] = [];
    const log = await openFsLog(dir, { onRepair: (m) => repairs.push(m) });
    expect(repairs.join("\n")).toMatch(/tiles-durable: .*re-hashing the entries to rebuild the tiles/);
    expect(log.latestCheckpoint().note).toBe(cp);
    await log.append(entries(700, 5));
    await log.waitIntegrated(705);
    await log.close();
    expect(readFileSync(layout.tilesDurable, "utf8")).toBe("705\n");
  });

  it("reopens a log from before the durable mark (tiles synced with each checkpoint) without re-hashing", async () => {
    const { dir, layout } = await closedLog(700);
    rmSync(layout.tilesDurable);
    // Re-hashing would read this bundle and fail: the checkpoint's tiles must be enough.
    const bundle = layout.bundle(0);
    const saved = readFileSync(bundle);
    writeFileSync(bundle, "");
    const reopened = await openFsLog(dir, plain);
    expect(reopened.size()).toBe(700);
    await reopened.close();
    writeFileSync(bundle, saved);
  });

  it("rewrites tiles a power loss could have lost (after the durable mark) from the entries", async () => {
    const dir = tmpDir();
    const layout = new FsLayout(dir);
    const log = await openFsLog(dir);
    await log.append(entries(0, 300));
    await log.waitIntegrated(300);
    await log.append(entries(300, 400));
    const cp = await log.waitIntegrated(700);
    await log.close();
    // As after a power loss before the batched tile sync: only the tiles of the first 300
    // entries are known durable; later full tiles are gone and the partial tiles are torn.
    writeFileSync(layout.tilesDurable, "300\n");
    const tile1 = layout.hashTile({ level: 0, index: 1, width: 256 });
    const good = readFileSync(tile1);
    rmSync(tile1);
    writeFileSync(layout.hashTile({ level: 0, index: 2, width: 188 }), good.subarray(0, 17));
    const repairs: string[] = [];
    const reopened = await openFsLog(dir, { onRepair: (m) => repairs.push(m) });
    expect(repairs).toEqual([]); // no full rebuild: only entries 300–699 were hashed again
    expect(readFileSync(tile1)).toEqual(good);
    expect(readFileSync(layout.tilesDurable, "utf8")).toBe("700\n");
    const all = await readAll(reopened);
    const leaves = all.map((e) => hashLeaf(e.data!));
    const reader = reopened.hashReader();
    for (const index of [0, 299, 300, 511, 699]) {
      const proof = await proveInclusion(700, index, reader);
      expect(verifyInclusion(leaves[index]!, index, 700, proof, cp.rootHash), `entry ${index}`).toBe(true);
    }
    await reopened.close();
  });

  it("keeps the key private and the origin fixed", async () => {
    const dir = tmpDir();
    const log = await openFsLog(dir, { origin: "example.com/a" });
    await log.close();
    expect(statSync(path.join(dir, "keys", "signing.key")).mode & 0o777).toBe(0o600);
    await expect(openFsLog(dir, { origin: "example.com/b" })).rejects.toThrow(/cannot be changed/);
  });

  it("tells when its latest checkpoint was written, and nothing before there is one", async () => {
    const dir = tmpDir();
    const storage = fsStorage(dir);
    expect(storage.checkpointWrittenAt?.()).toBeUndefined();
    const log = await openFsLog(dir);
    await log.append(entries(0, 3));
    await log.waitIntegrated(3);
    await log.close();
    const first = storage.checkpointWrittenAt?.();
    expect(first).toBeGreaterThan(0);
    // Dated back, as after a restart: the stored time is what is told, not the time of asking.
    const back = new Date(Date.now() - 3_600_000);
    await fsp.utimes(new FsLayout(dir).checkpoint, back, back);
    // (mtimeMs is a float of nanoseconds: within a millisecond.)
    expect(Math.abs(storage.checkpointWrittenAt!()! - back.getTime())).toBeLessThan(1);
  });

  it("cuts a torn tail on open and keeps everything before it", async () => {
    const dir = tmpDir();
    const log = await openFsLog(dir);
    await log.append(entries(0, 300));
    await log.close();
    const open = new FsLayout(dir).openBundle(1);
    const before = readFileSync(open);
    writeFileSync(open, Buffer.concat([before, Buffer.from('{"auditID":"torn'), Buffer.alloc(100)]));
    const repairs: string[] = [];
    const reopened = await openFsLog(dir, { onRepair: (m) => repairs.push(m) });
    expect(reopened.size()).toBe(300);
    expect(readFileSync(open)).toEqual(before);
    expect(repairs.join("\n")).toMatch(/cut 116 bytes after the last synced entry/);
    await reopened.append(entries(300, 10));
    expect((await readAll(reopened)).map((e) => JSON.parse(Buffer.from(e.data!).toString()).n)).toEqual(
      Array.from({ length: 310 }, (_, i) => i),
    );
    await reopened.close();
  });

  it("rebuilds tiles that are missing or edited, and refuses entries that do not match the checkpoint", async () => {
    const dir = tmpDir();
    const log = await openFsLog(dir, plain);
    await log.append(entries(0, 600));
    const cp = await log.waitIntegrated(600);
    await log.close();
    await fsp.rm(path.join(dir, "tile", "0"), { recursive: true });
    const repairs: string[] = [];
    const reopened = await openFsLog(dir, { ...plain, onRepair: (m) => repairs.push(m) });
    expect(repairs.join("\n")).toMatch(/rebuilding/);
    expect(Buffer.from(reopened.latestCheckpoint().rootHash)).toEqual(Buffer.from(cp.rootHash));
    expect(statSync(path.join(dir, "tile", "0", "001")).size).toBe(256 * 32);
    await reopened.close();

    const bundle = new FsLayout(dir).bundle(0);
    const data = readFileSync(bundle);
    data[10] = data[10]! ^ 1;
    writeFileSync(bundle, data);
    await fsp.rm(path.join(dir, "tile", "0"), { recursive: true });
    await expect(openFsLog(dir, plain)).rejects.toMatchObject({ code: "corrupt" });
  });

  it("rebuilds a torn partial tile of its checkpoint on open (a kill while recovery rewrote it)", async () => {
    const dir = tmpDir();
    const log = await openFsLog(dir, plain);
    await log.append(entries(0, 300));
    const cp = await log.waitIntegrated(300);
    await log.close();
    // Size 300: level 1 has a partial tile of width 1, the one a kill tore in the crash test.
    const torn = path.join(dir, "tile", "1", "000.p", "1");
    expect(statSync(torn).size).toBe(32);
    writeFileSync(torn, Buffer.alloc(0));
    const repairs: string[] = [];
    const reopened = await openFsLog(dir, { ...plain, onRepair: (m) => repairs.push(m) });
    expect(repairs.join("\n")).toMatch(/tile\/1\/000\.p\/1: shorter than its width; rebuilding/);
    expect(Buffer.from(reopened.latestCheckpoint().rootHash)).toEqual(Buffer.from(cp.rootHash));
    expect(statSync(torn).size).toBe(32);
    await reopened.close();
  });

  it("refuses to open when synced entries are gone", async () => {
    const { dir, layout } = await closedLog(600);
    await fsp.rm(layout.openBundle(2));
    await expect(openFsLog(dir)).rejects.toThrow(
      /hold 512 entries, but 600 were synced: entries are missing/,
    );
  });

  it("restores acknowledged entries from the write-ahead log when a power loss took them from the bundles", async () => {
    const dir = tmpDir();
    // No timer: nothing syncs the bundle files while the entries are appended.
    const log = await openFsLog(dir, { integrateIntervalMs: 3_600_000 });
    for (let b = 0; b < 6; b++) await log.append(entries(b * 50, 50));
    // The directory as a power loss now would leave it: the bundles hold none of the 300.
    const copy = tmpDir();
    cpSync(dir, copy, { recursive: true });
    await log.close();
    const copied = new FsLayout(copy);
    expect(readFileSync(copied.entriesDurable, "utf8")).toBe("0\n");
    expect(losePower(copy, () => 0.9).join("\n")).toMatch(
      /tile\/entries\/000\.open: kept 0 lines, lost [1-9]/,
    );

    const repairs: string[] = [];
    const reopened = await openFsLog(copy, { onRepair: (m) => repairs.push(m) });
    expect(repairs.join("\n")).toMatch(/restored 300 entries from the write-ahead log/);
    expect(reopened.size()).toBe(300);
    expect((await readAll(reopened)).map((e) => Buffer.from(e.data!).toString())).toEqual(
      entries(0, 300).map((e) => e.toString()),
    );
    // Synced and recorded before the log goes on: a second loss finds them in the bundles.
    expect(readFileSync(copied.entriesDurable, "utf8")).toBe("300\n");
    expect((await reopened.append(entries(300, 1))).firstIndex).toBe(300);
    await reopened.close();
  });

  it("leaves no write-ahead slot behind a clean close, and reopens with every entry", async () => {
    const dir = tmpDir();
    const layout = new FsLayout(dir);
    const log = await openFsLog(dir, { integrateIntervalMs: 3_600_000 });
    for (let b = 0; b < 4; b++) await log.append(entries(b * 50, 50));
    const slots = () => readdirSync(layout.walDir).filter((n) => n.endsWith(".wal"));
    expect(slots().length).toBeGreaterThan(0);
    expect(readFileSync(layout.entriesDurable, "utf8")).toBe("0\n");
    const openFiles = () =>
      readdirSync(path.join(dir, "tile", "entries"), { recursive: true, encoding: "utf8" }).filter((n) =>
        n.endsWith(".open"),
      );
    expect(openFiles().length).toBeGreaterThan(1); // bundle 0 and the spares made ahead of it
    await log.close();
    expect(slots()).toEqual([]);
    // Only the bundle still being filled, none of the empty spares.
    expect(openFiles()).toEqual([path.relative(path.join(dir, "tile", "entries"), layout.openBundle(0))]);
    // The entries were made durable in their bundles first.
    expect(readFileSync(layout.entriesDurable, "utf8")).toBe("200\n");

    const reopened = await openFsLog(dir);
    expect((await readAll(reopened)).map((e) => Buffer.from(e.data!).toString())).toEqual(
      entries(0, 200).map((e) => e.toString()),
    );
    expect((await reopened.append(entries(200, 1))).firstIndex).toBe(200);
    expect(slots().length).toBeGreaterThan(0);
    await reopened.close();
  });

  it("opens a log from before the write-ahead log, trusting its bundles, and records their count", async () => {
    const { dir, layout } = await closedLog(300);
    rmSync(layout.entriesDurable);
    rmSync(layout.walDir, { recursive: true });
    const log = await openFsLog(dir);
    expect(log.size()).toBe(300);
    expect(readFileSync(layout.entriesDurable, "utf8")).toBe("300\n");
    expect((await log.append(entries(300, 5))).firstIndex).toBe(300);
    await log.waitIntegrated(305);
    await log.close();
  });
});
