// The log's conformance suite: what every storage driver must give, run against each driver by
// its own test file (fs/log.test.ts, memory/log.test.ts). Everything here goes
// through the log core and LogReader, never through a driver's own files.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  consistencyProof,
  hashLeaf,
  inclusionProof,
  proveConsistency,
  proveInclusion,
  rootFromLeafHashes,
  tileHashReader,
  verifyInclusion,
  type Tile,
} from "../../tlog/index.js";
import { LeafHasherPool } from "../leaf-hasher.js";
import { sourceTileReader } from "../log-reader.js";
import { openSnapshot, type OpenLogOptions, type Storage } from "../storage.js";
import { MAX_ENTRY_BYTES, type AuditLog, type LogEntry } from "../types.js";

/** One log under test, fresh for each test; open() may be called again after close(). */
export interface LogUnderTest {
  storage: Storage;
  open(opts?: OpenLogOptions): Promise<AuditLog>;
  /** Removes the bundles of entries before `before`, recording why (the driver's retention primitive). */
  prune(log: AuditLog, before: number, reason: string): Promise<void>;
  /** Loses the hash tiles `drop` selects and the record of which tiles are durable (a damaged disk). */
  loseTiles(drop: (tile: Tile) => boolean): Promise<void>;
}

const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
export const entries = (from: number, n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => enc({ auditID: `id-${from + i}`, n: from + i }));

export async function readAll(
  log: Pick<AuditLog, "readEntries">,
  start: number,
  end: number,
): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of log.readEntries(start, end)) out.push(e);
  return out;
}

const bytesOf = (e: LogEntry): Buffer => {
  if (e.gone !== undefined) throw new Error(`entry ${e.index} is ${e.gone.state}`);
  return Buffer.from(e.data);
};
const hex = (h: Uint8Array) => Buffer.from(h).toString("hex");

export function logConformance(driver: string, make: () => LogUnderTest): void {
  describe(`log conformance: ${driver} driver`, () => {
    const opened: AuditLog[] = [];
    let subject: LogUnderTest;
    const open = async (opts?: OpenLogOptions): Promise<AuditLog> => {
      const log = await subject.open(opts);
      opened.push(log);
      return log;
    };
    const fresh = (): LogUnderTest => (subject = make());
    /**
     * A closed log of `size` entries (closing makes its tiles durable, which pruning needs),
     * then, when `before` is given, reopened to prune it and closed again. Its checkpoint.
     */
    const closedLog = async (size: number, prune?: { before: number; reason: string }) => {
      const log = await open();
      await log.append(entries(0, size));
      const cp = await log.waitIntegrated(size);
      await log.close();
      if (prune) {
        const pruning = await open();
        await subject.prune(pruning, prune.before, prune.reason);
        await pruning.close();
      }
      return cp;
    };
    afterEach(async () => {
      for (const log of opened.splice(0)) await log.close().catch(() => undefined);
    });

    it("appends, integrates and reads back the exact bytes; the checkpoint root is the RFC 6962 root", async () => {
      fresh();
      const log = await open({ origin: "example.com/test-log" });
      const batches = await Promise.all([0, 1, 2, 3].map((b) => log.append(entries(b * 300, 300))));
      expect(batches.map((b) => b.firstIndex).sort((a, b) => a - b)).toEqual([0, 300, 600, 900]);
      const cp = await log.waitIntegrated(1200);
      expect(cp.size).toBe(1200);
      const stored = await readAll(log, 0, log.size());
      expect(stored.map((e) => e.index)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
      expect(hex(cp.rootHash)).toBe(hex(rootFromLeafHashes(stored.map((e) => hashLeaf(bytesOf(e))))));
      expect(cp.note.startsWith("example.com/test-log\n1200\n")).toBe(true);
    });

    it("integrates from the leaf hashes of the write path, never reading fresh entries back", async () => {
      fresh();
      const reads = vi.spyOn(LeafHasherPool.prototype, "hashGiven");
      try {
        // Integration every millisecond while commits keep coming: rounds start while the
        // hashes of the newest entries are still on their way from the worker.
        const log = await open({ integrateIntervalMs: 1 });
        let next = 0;
        for (let round = 0; round < 30; round++) {
          await Promise.all(
            Array.from({ length: 4 }, () => {
              next += 150;
              return log.append(entries(next - 150, 150));
            }),
          );
        }
        const cp = await log.waitIntegrated(next);
        const stored = await readAll(log, 0, next);
        expect(hex(cp.rootHash)).toBe(hex(rootFromLeafHashes(stored.map((e) => hashLeaf(bytesOf(e))))));
        expect(reads).not.toHaveBeenCalled();
      } finally {
        reads.mockRestore();
      }
    });

    it("takes the leaf hashes an appender gives instead of hashing those entries again", async () => {
      fresh();
      // Entries per commit the worker hashed, counted before their memory goes to the worker.
      const hashedByWorker: number[] = [];
      const hashLent = LeafHasherPool.prototype.hashLent;
      const lent = vi.spyOn(LeafHasherPool.prototype, "hashLent").mockImplementation(function (
        this: LeafHasherPool,
        bundle,
      ) {
        hashedByWorker.push(bundle.filter((c) => c === 10).length);
        return hashLent.call(this, bundle);
      });
      try {
        const log = await open({ integrateIntervalMs: 1 });
        let next = 0;
        // Appends with their hashes, interleaved with appends without (an alert): both kinds
        // land in one tree, in log order.
        for (let round = 0; round < 12; round++) {
          const batch = entries(next, 200);
          next += 200;
          const given = log.append(batch, batch.map(hashLeaf));
          const plain = round % 4 === 3 ? log.append(entries(next, 3)) : null;
          if (plain) next += 3;
          await Promise.all([given, plain]);
        }
        const cp = await log.waitIntegrated(next);
        const stored = await readAll(log, 0, next);
        expect(stored).toHaveLength(next);
        expect(hex(cp.rootHash)).toBe(hex(rootFromLeafHashes(stored.map((e) => hashLeaf(bytesOf(e))))));
        // The worker hashed only the commits without given hashes (some held both kinds).
        expect(hashedByWorker.length).toBeGreaterThan(0);
        expect(hashedByWorker.reduce((a, b) => a + b, 0)).toBeLessThan(next / 2);
        await expect(log.append(entries(0, 2), [hashLeaf(entries(0, 1)[0]!)])).rejects.toMatchObject({
          code: "invalid",
          message: "1 leaf hashes given for 2 entries",
        });
        await expect(log.append(entries(0, 1), [new Uint8Array(31)])).rejects.toMatchObject({
          code: "invalid",
        });
      } finally {
        lent.mockRestore();
      }
    });

    it("serves proofs from its tiles that equal the in-memory proofs", async () => {
      fresh();
      const log = await open();
      await log.append(entries(0, 1000));
      const cp = await log.waitIntegrated(1000);
      const leaves = (await readAll(log, 0, 1000)).map((e) => hashLeaf(bytesOf(e)));
      for (const i of [0, 1, 255, 256, 511, 999]) {
        const proof = await proveInclusion(cp.size, i, log.hashReader());
        expect(proof.map(hex)).toEqual(inclusionProof(i, cp.size, leaves).map(hex));
        expect(verifyInclusion(leaves[i]!, i, cp.size, proof, cp.rootHash)).toBe(true);
      }
      for (const old of [1, 256, 700]) {
        const proof = await proveConsistency(old, cp.size, log.hashReader());
        expect(proof.map(hex)).toEqual(consistencyProof(old, cp.size, leaves).map(hex));
      }
    });

    it("reads tiles and bundles as of its latest checkpoint, the same through a snapshot beside it", async () => {
      fresh();
      const log = await open({ integrateIntervalMs: 3_600_000 });
      await log.append(entries(0, 300));
      const cp = await log.waitIntegrated(300);
      // Durable but not yet covered by a checkpoint: not served.
      await log.append(entries(300, 20));
      const snapshot = await openSnapshot(subject.storage);
      expect(snapshot.size()).toBe(300);
      for (const reader of [log, snapshot]) {
        expect((await reader.readTile({ level: 0, index: 0, width: 256 }))?.length).toBe(8192);
        expect((await reader.readTile({ level: 0, index: 1, width: 44 }))?.length).toBe(44 * 32);
        expect((await reader.readTile({ level: 0, index: 0, width: 10 }))?.length).toBe(320);
        expect(await reader.readTile({ level: 0, index: 1, width: 45 })).toBeNull();
        expect(await reader.readTile({ level: 0, index: 2, width: 1 })).toBeNull();
        const full = await reader.readEntryBundle(0, 256);
        expect(full?.data?.toString()).toBe(
          entries(0, 256)
            .map((e) => `${e.toString()}\n`)
            .join(""),
        );
        const partial = await reader.readEntryBundle(1, 44);
        expect(Buffer.from(partial!.data!).toString().split("\n")).toHaveLength(45);
        expect(await reader.readEntryBundle(1, 45)).toBeNull();
      }
      const tiles = tileHashReader(
        300,
        sourceTileReader((t) => snapshot.readTile(t)),
        cp.rootHash,
      );
      const proof = await proveInclusion(300, 299, tiles);
      expect(verifyInclusion(hashLeaf(entries(299, 1)[0]!), 299, 300, proof, cp.rootHash)).toBe(true);
      expect((await readAll(snapshot, 290, 300)).map((e) => bytesOf(e).toString())).toEqual(
        entries(290, 10).map(String),
      );
    });

    it("refuses entries that would break the line framing or exceed the maximum, naming the entry", async () => {
      fresh();
      const log = await open();
      await expect(log.append([enc({ a: 1 }), Buffer.from('{"a":\n1}')])).rejects.toThrow(
        /entry 1 .*newline/,
      );
      await expect(log.append([Buffer.alloc(0)])).rejects.toThrow(/empty/);
      const huge = Buffer.alloc(MAX_ENTRY_BYTES + 1, 0x20);
      await expect(log.append([enc({ a: 1 }), huge])).rejects.toMatchObject({
        code: "invalid",
        message: expect.stringMatching(/^entry 1 of the batch: entry of 16777217 bytes is larger/),
      });
      expect(log.size()).toBe(0);
    });

    it("stores a tombstone only when asked and given its leaf hash, read back as erased and proven by that hash", async () => {
      fresh();
      const log = await open();
      const published = hashLeaf(enc({ erased: "elsewhere" }));
      const empty = Buffer.alloc(0);
      await expect(log.append([empty], [published])).rejects.toThrow(/entry 0 .*empty/);
      await expect(log.append([empty], undefined, { tombstones: true })).rejects.toThrow(/empty/);
      const one = enc({ a: 1 });
      await log.append([one, empty], [hashLeaf(one), published], { tombstones: true });
      const cp = await log.waitIntegrated(2);
      expect(hex(cp.rootHash)).toBe(hex(rootFromLeafHashes([hashLeaf(one), published])));
      expect((await readAll(log, 0, 2)).map((e) => e.gone?.state ?? "present")).toEqual([
        "present",
        "erased",
      ]);
    });

    it("refuses a second writer", async () => {
      fresh();
      const log = await open();
      await expect(subject.open()).rejects.toMatchObject({ code: "locked" });
      await log.close();
      await (await open()).close();
    });

    it("tells listeners about each checkpoint and resumes appending after reopen", async () => {
      fresh();
      const log = await open({ integrateIntervalMs: 20 });
      const seen: number[] = [];
      log.onIntegrated((cp) => seen.push(cp.size));
      await log.append(entries(0, 5));
      await log.waitIntegrated(5);
      await log.append(entries(5, 5));
      await log.waitIntegrated(10);
      expect(seen).toContain(5);
      expect(seen).toContain(10);
      await log.close();
      const again = await open();
      expect(again.size()).toBe(10);
      expect(again.latestCheckpoint().size).toBe(10);
      expect((await again.append(entries(10, 1))).firstIndex).toBe(10);
    });

    it("reports pruned entries as gone, not missing, and keeps growing and proving after reopen", async () => {
      fresh();
      const cp = await closedLog(700);
      const writer = await open();
      await subject.prune(writer, 512, "retention: 90 days");
      await expect(subject.prune(writer, 700, "too far")).rejects.toMatchObject({ code: "invalid" });
      const head = await readAll(writer, 254, 258);
      expect(head.map((e) => e.gone)).toEqual(
        Array.from({ length: 4 }, () => ({ state: "pruned", reason: "retention: 90 days" })),
      );
      expect(await writer.readEntryBundle(1, 256)).toEqual({
        gone: { state: "pruned", reason: "retention: 90 days" },
      });
      expect(bytesOf((await readAll(writer, 512, 513))[0]!).toString()).toBe(entries(512, 1)[0]!.toString());
      await writer.close();

      const reopened = await open();
      expect(reopened.size()).toBe(700);
      await reopened.append(entries(700, 100));
      const grown = await reopened.waitIntegrated(800);
      const leaf = hashLeaf(entries(3, 1)[0]!);
      const proof = await proveInclusion(800, 3, reopened.hashReader());
      expect(verifyInclusion(leaf, 3, 800, proof, grown.rootHash)).toBe(true);
      const consistency = await proveConsistency(700, 800, reopened.hashReader());
      expect(consistency.length).toBeGreaterThan(0);
      expect(hex((await openSnapshot(subject.storage)).latestCheckpoint().rootHash)).toBe(
        hex(grown.rootHash),
      );
      expect(hex(cp.rootHash)).not.toBe(hex(grown.rootHash));
    });

    it("rebuilds lost tiles from the entries, and from the level-0 tiles where bundles were pruned", async () => {
      fresh();
      const cp = await closedLog(1000, { before: 512, reason: "retention" });
      // Everything lost but the leaf hashes of the pruned entries.
      await subject.loseTiles((t) => !(t.level === 0 && t.index < 2));
      const repairs: string[] = [];
      const reopened = await open({ onRepair: (m) => repairs.push(m) });
      expect(repairs.join("\n")).toMatch(/rebuilding them from the entries/);
      expect(hex(reopened.latestCheckpoint().rootHash)).toBe(hex(cp.rootHash));
      const proof = await proveInclusion(1000, 999, reopened.hashReader());
      expect(verifyInclusion(hashLeaf(entries(999, 1)[0]!), 999, 1000, proof, cp.rootHash)).toBe(true);
      expect((await readAll(reopened, 0, 1)).map((e) => e.gone?.state)).toEqual(["pruned"]);
    });

    it("refuses to open when pruned entries' leaf hashes are gone too", async () => {
      fresh();
      await closedLog(600, { before: 256, reason: "retention" });
      await subject.loseTiles(() => true);
      await expect(open()).rejects.toMatchObject({ code: "corrupt" });
    });
  });
}
