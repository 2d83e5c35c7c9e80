import { mkdtempSync, promises as fsp, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { joinEntries, splitBundle } from "../bundle-format.js";
import { LogError } from "../types.js";
import { decodeRecordHeader, RECORD_HEADER_BYTES } from "./wal-record.js";
import { WriteAheadLog, type WriteAheadOptions } from "./write-ahead-log.js";

const dirs: string[] = [];
const open: WriteAheadLog[] = [];
function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kt-wal-"));
  dirs.push(d);
  return path.join(d, "wal");
}
afterEach(async () => {
  for (const w of open.splice(0)) await w.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openWal(dir: string, opts: Partial<WriteAheadOptions> = {}): Promise<WriteAheadLog> {
  const wal = await WriteAheadLog.open(dir, {
    slotBytes: 4096,
    maxSlots: 4,
    makeRoom: async () => {},
    ...opts,
  });
  open.push(wal);
  return wal;
}

async function closeWal(wal: WriteAheadLog): Promise<void> {
  open.splice(open.indexOf(wal), 1);
  await wal.close();
}

/** Entry `i` of the log, `size` bytes long (no newline), unique to its index. */
function entry(i: number, size = 100): Buffer {
  const head = `{"i":${i},"pad":"`;
  const tail = `"}`;
  return Buffer.from(head + "x".repeat(size - head.length - tail.length) + tail);
}
const entries = (first: number, n: number, size = 100) =>
  Array.from({ length: n }, (_, k) => entry(first + k, size));

/** Writes and syncs one commit, as the log does before acknowledging it. */
async function commit(wal: WriteAheadLog, first: number, batch: Buffer[]): Promise<void> {
  await wal.sync(await wal.write(first, batch, joinEntries(batch)));
}

interface Replayed {
  first: number;
  count: number;
  entries: Buffer[];
}

async function replay(wal: WriteAheadLog, from: number): Promise<Replayed[]> {
  const out: Replayed[] = [];
  for await (const r of wal.replay(from)) {
    out.push({ first: r.first, count: r.count, entries: splitBundle(r.bytes).map((e) => Buffer.from(e)) });
  }
  return out;
}

/** Replayed records as text, for readable failures. */
const text = (replayed: Replayed[]) =>
  replayed.map((r) => ({ first: r.first, entries: r.entries.map(String) }));

/** The replayed entries, after checking that the records are contiguous from `from`. */
function flatten(from: number, replayed: Replayed[]): Buffer[] {
  let at = from;
  for (const r of replayed) {
    expect(r.first).toBe(at);
    expect(r.count).toBeGreaterThan(0);
    expect(r.entries.length).toBe(r.count);
    at += r.count;
  }
  return replayed.flatMap((r) => r.entries);
}

const walFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^\d+\.wal$/.test(f))
    .sort((a, b) => parseInt(a) - parseInt(b));
/**
 * Where the records at the start of a slot file end: the zeros written ahead of the writer
 * (or stale bytes) follow.
 */
async function recordsEnd(file: string): Promise<number> {
  const bytes = await fsp.readFile(file);
  let offset = 0;
  for (;;) {
    const h = decodeRecordHeader(bytes.subarray(offset));
    if (h === null) return offset;
    offset += RECORD_HEADER_BYTES + h.length;
  }
}

/** The size of each slot file, in slot order. */
const walSizes = (dir: string) => walFiles(dir).map((f) => statSync(path.join(dir, f)).size);

describe("write-ahead log", () => {
  it("replays every synced commit after a reopen, in order, across slots", async () => {
    const dir = tmpDir();
    let wal = await openWal(dir);
    // 20 commits of 5 × 101 bytes: 545-byte records, 7 to a 4096-byte slot.
    const all = entries(0, 100);
    for (let c = 0; c < 20; c++) await commit(wal, c * 5, all.slice(c * 5, c * 5 + 5));
    await closeWal(wal);
    expect(walFiles(dir)).toEqual(["0.wal", "1.wal", "2.wal"]);
    for (const size of walSizes(dir)) expect(size).toBeLessThanOrEqual(4096);

    wal = await openWal(dir);
    const replayed = await replay(wal, 0);
    expect(replayed.map((r) => r.first)).toEqual(Array.from({ length: 20 }, (_, c) => c * 5));
    expect(flatten(0, replayed)).toEqual(all);

    // From the middle of a record: its first entries are left out.
    const mid = await replay(wal, 12);
    expect(mid[0]).toMatchObject({ first: 12, count: 3 });
    expect(flatten(12, mid)).toEqual(all.slice(12));
    // From a record boundary, the end, and beyond the end.
    expect(flatten(15, await replay(wal, 15))).toEqual(all.slice(15));
    expect(flatten(99, await replay(wal, 99))).toEqual(all.slice(99));
    expect(await replay(wal, 100)).toEqual([]);
    expect(await replay(wal, 1000)).toEqual([]);
  });

  it("opens a new directory with one empty slot and replays nothing, also after a reopen", async () => {
    const dir = tmpDir();
    const wal = await openWal(dir);
    expect(walFiles(dir)).toEqual(["0.wal"]);
    expect(await replay(wal, 0)).toEqual([]);
    await closeWal(wal);
    const again = await openWal(dir);
    expect(await replay(again, 0)).toEqual([]);
    expect(walFiles(dir)).toEqual(["0.wal"]);
  });

  it("numbers a write after a reopen after every record found at open", async () => {
    const dir = tmpDir();
    let wal = await openWal(dir);
    await commit(wal, 0, entries(0, 5));
    await commit(wal, 5, entries(5, 5));
    await closeWal(wal);

    // Suppose the caller keeps only [0, 5) and writes index 5 again: the new record (in
    // another slot, as slot 0 holds unreleased entries) must win over the older one.
    wal = await openWal(dir);
    const again = entries(5, 2).map((e) => Buffer.concat([e, Buffer.from("-again")]));
    await commit(wal, 5, again);
    await closeWal(wal);
    expect(walFiles(dir)).toEqual(["0.wal", "1.wal"]);

    wal = await openWal(dir);
    expect(flatten(5, await replay(wal, 5))).toEqual(again);
    expect(flatten(0, await replay(wal, 0))).toEqual([...entries(0, 5), ...again]);
  });

  it("reuses released slots, and a reopen replays only the unreleased entries, never stale records", async () => {
    const dir = tmpDir();
    let wal = await openWal(dir);
    const commits = 60; // 32,700 bytes of records: about eight slots' worth, twice what four hold
    const all = entries(0, commits * 5);
    let maxFiles = 0;
    for (let c = 0; c < commits; c++) {
      await commit(wal, c * 5, all.slice(c * 5, c * 5 + 5));
      // The bundle files lag behind: everything but the last two commits is durable there.
      if (c >= 2 && c < commits - 3) wal.release((c - 1) * 5);
      maxFiles = Math.max(maxFiles, walFiles(dir).length);
    }
    const released = (commits - 5) * 5; // the last call: release(55 * 5)
    expect(maxFiles).toBeLessThanOrEqual(4);
    for (const size of walSizes(dir)) expect(size).toBeLessThanOrEqual(4096);
    await closeWal(wal);

    wal = await openWal(dir);
    expect(flatten(released, await replay(wal, released))).toEqual(all.slice(released));
    // Mid-record, and from the point the last release call named.
    expect(flatten(released + 3, await replay(wal, released + 3))).toEqual(all.slice(released + 3));
    // The first records are overwritten: whatever is replayed from 0 is still the right
    // entry at the right index.
    const fromZero = flatten(0, await replay(wal, 0));
    expect(fromZero).toEqual(all.slice(0, fromZero.length));
  });

  it("keeps stale records left behind in a reused slot out of a replay", async () => {
    const dir = tmpDir();
    let wal = await openWal(dir, { maxSlots: 2 });
    // Three 444-byte records in slot 0, then one that does not fit: slot 1.
    for (let c = 0; c < 3; c++) await commit(wal, c * 4, entries(c * 4, 4));
    const slot0 = path.join(dir, "0.wal");
    expect(await recordsEnd(slot0)).toBe(3 * 444);
    // Written with zeros up to the slot size ahead of the writer.
    expect(statSync(slot0).size).toBe(4096);
    await commit(wal, 12, [entry(12, 3700)]);
    expect(walFiles(dir)).toEqual(["0.wal", "1.wal"]);
    // [0, 12) is durable elsewhere: slot 0 is reused from offset 0 for a record of the same
    // size, and the two older records stay behind it with valid headers.
    wal.release(12);
    await commit(wal, 13, entries(13, 4));
    await closeWal(wal);
    const bytes = await fsp.readFile(slot0);
    expect(await recordsEnd(slot0)).toBe(3 * 444);
    expect(bytes.subarray(RECORD_HEADER_BYTES).toString().startsWith('{"i":13,')).toBe(true);
    expect(
      bytes
        .subarray(444 + RECORD_HEADER_BYTES)
        .toString()
        .startsWith('{"i":4,'),
    ).toBe(true);

    wal = await openWal(dir, { maxSlots: 2 });
    expect(flatten(13, await replay(wal, 13))).toEqual(entries(13, 4));
    // The stale records [4, 8) and [8, 12) end before `from`.
    expect(flatten(12, await replay(wal, 12))).toEqual([entry(12, 3700), ...entries(13, 4)]);
    expect(flatten(15, await replay(wal, 15))).toEqual(entries(15, 2));
  });

  describe("a damaged last record", () => {
    async function fiveCommits(): Promise<{ dir: string; file: string; lastOffset: number }> {
      const dir = tmpDir();
      const wal = await openWal(dir, { slotBytes: 1 << 16 });
      for (let c = 0; c < 5; c++) await commit(wal, c * 4, entries(c * 4, 4));
      await closeWal(wal);
      const file = path.join(dir, "0.wal");
      const recordBytes = RECORD_HEADER_BYTES + 4 * 101;
      expect(await recordsEnd(file)).toBe(5 * recordBytes);
      return { dir, file, lastOffset: 4 * recordBytes };
    }

    it("is left out when the file ends inside its payload", async () => {
      const { dir, file, lastOffset } = await fiveCommits();
      await fsp.truncate(file, lastOffset + RECORD_HEADER_BYTES + 150);
      const wal = await openWal(dir, { slotBytes: 1 << 16 });
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 16));
      expect(await replay(wal, 16)).toEqual([]);
    });

    it("is left out when the file ends inside its header", async () => {
      const { dir, file, lastOffset } = await fiveCommits();
      await fsp.truncate(file, lastOffset + 20);
      const wal = await openWal(dir, { slotBytes: 1 << 16 });
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 16));
    });

    it("is left out when payload bytes were overwritten", async () => {
      const { dir, file, lastOffset } = await fiveCommits();
      const fh = await fsp.open(file, "r+");
      await fh.write(Buffer.from("ZZ"), 0, 2, lastOffset + RECORD_HEADER_BYTES + 300);
      await fh.close();
      const wal = await openWal(dir, { slotBytes: 1 << 16 });
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 16));
      expect(await replay(wal, 17)).toEqual([]);
    });

    it("in the middle ends the replay there: nothing after it is joined on", async () => {
      const { dir, file } = await fiveCommits();
      const fh = await fsp.open(file, "r+");
      await fh.write(Buffer.from("ZZ"), 0, 2, 2 * (RECORD_HEADER_BYTES + 4 * 101) + RECORD_HEADER_BYTES + 10);
      await fh.close();
      const wal = await openWal(dir, { slotBytes: 1 << 16 });
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 8));
      expect(flatten(12, await replay(wal, 12))).toEqual(entries(12, 8));
    });
  });

  describe("when every slot holds unreleased entries", () => {
    // 3 × 301 bytes: 943-byte records, 4 to a 4096-byte slot, so 8 commits fill two slots.
    const batch = (c: number) => entries(c * 3, 3, 300);

    it("awaits makeRoom, which releases synced entries, and then writes into a freed slot", async () => {
      const dir = tmpDir();
      let acked = 0;
      let armed = false;
      const calls: number[] = [];
      const wal: WriteAheadLog = await openWal(dir, {
        maxSlots: 2,
        makeRoom: async () => {
          calls.push(acked);
          await new Promise((r) => setImmediate(r));
          if (armed) wal.release(acked);
        },
      });
      for (let c = 0; c < 8; c++) {
        await commit(wal, c * 3, batch(c));
        acked += 3;
      }
      expect(walFiles(dir)).toEqual(["0.wal", "1.wal"]);
      const before = calls.length;
      armed = true;
      await commit(wal, 24, batch(8));
      acked += 3;
      expect(calls.length).toBeGreaterThan(before);
      expect(calls[before]).toBe(24);
      expect(walFiles(dir)).toEqual(["0.wal", "1.wal"]);
      await closeWal(wal);

      const again = await openWal(dir, { maxSlots: 2 });
      expect(flatten(24, await replay(again, 24))).toEqual(batch(8));
    });

    it("rejects the write with a LogError when makeRoom frees nothing", async () => {
      const dir = tmpDir();
      let calls = 0;
      let armed = false;
      let acked = 0;
      const wal: WriteAheadLog = await openWal(dir, {
        maxSlots: 2,
        makeRoom: async () => {
          calls++;
          if (armed) wal.release(acked);
        },
      });
      for (let c = 0; c < 8; c++) {
        await commit(wal, c * 3, batch(c));
        acked += 3;
      }
      const before = calls;
      const err: unknown = await commit(wal, 24, batch(8)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LogError);
      expect((err as LogError).code).toBe("io");
      expect((err as LogError).message).toMatch(/all 2 write-ahead slots hold entries not yet synced/);
      expect(calls).toBeGreaterThan(before);
      expect(walFiles(dir)).toEqual(["0.wal", "1.wal"]);

      // Once room can be made, the same index is written again.
      armed = true;
      await commit(wal, 24, batch(8));
      await closeWal(wal);
      const again = await openWal(dir, { maxSlots: 2 });
      expect(flatten(24, await replay(again, 24))).toEqual(batch(8));
    });
  });

  describe("forgetBeyond", () => {
    it("hides every record beyond `durable` from later reopens", async () => {
      const dir = tmpDir();
      let wal = await openWal(dir, { slotBytes: 2048 });
      for (let c = 0; c < 8; c++) await commit(wal, c * 5, entries(c * 5, 5));
      await closeWal(wal);
      expect(walFiles(dir).length).toBeGreaterThan(1);

      // Recovery: suppose only the first 22 entries could be kept.
      wal = await openWal(dir, { slotBytes: 2048 });
      expect(flatten(22, await replay(wal, 22))).toEqual(entries(22, 18));
      await wal.forgetBeyond(22);
      await closeWal(wal);

      wal = await openWal(dir, { slotBytes: 2048 });
      expect(await replay(wal, 22)).toEqual([]);
      expect(await replay(wal, 30)).toEqual([]);
      await closeWal(wal);
    });

    it("does not join forgotten records to entries written after it", async () => {
      const dir = tmpDir();
      let wal = await openWal(dir, { slotBytes: 2048 });
      for (let c = 0; c < 8; c++) await commit(wal, c * 5, entries(c * 5, 5));
      await closeWal(wal);

      wal = await openWal(dir, { slotBytes: 2048 });
      await wal.forgetBeyond(22);
      const fresh = entries(22, 7).map((e) => Buffer.concat([e, Buffer.from("-new")]));
      await commit(wal, 22, fresh.slice(0, 4));
      await commit(wal, 26, fresh.slice(4));
      await closeWal(wal);

      wal = await openWal(dir, { slotBytes: 2048 });
      expect(flatten(22, await replay(wal, 22))).toEqual(fresh);
      expect(await replay(wal, 29)).toEqual([]);
    });

    // forgetBeyond hides a slot's records by zeroing the header at offset 0, but the slot is
    // then written again from offset 0; once new records end exactly where a forgotten one
    // starts, a scan finds it again: the newer records, though released, must still cut it off.
    it("keeps forgotten records hidden after their slot is written again", async () => {
      const dir = tmpDir();
      const opts = { slotBytes: 1 << 16, maxSlots: 1 };
      const payloadBytes = (batch: Buffer[]) => batch.reduce((n, e) => n + e.length + 1, 0);
      let wal = await openWal(dir, opts);
      // Slot 0: A = [0, 5), B = [5, 10), C = [10, 15), each 5 × 20 bytes of payload.
      for (let c = 0; c < 3; c++) await commit(wal, c * 5, entries(c * 5, 5, 19));
      await closeWal(wal);
      // B's payload is damaged: recovery replays A, makes it durable and forgets B and C.
      const file = path.join(dir, "0.wal");
      const fh = await fsp.open(file, "r+");
      await fh.write(Buffer.from("Z"), 0, 1, 140 + RECORD_HEADER_BYTES + 3);
      await fh.close();

      wal = await openWal(dir, opts);
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 5, 19));
      wal.release(5);
      await wal.forgetBeyond(5);
      // The next commit, [5, 10), is one 280-byte record at offset 0: it ends where C starts.
      const fresh = entries(5, 5, 47);
      expect(payloadBytes(fresh)).toBe(240);
      await commit(wal, 5, fresh);
      wal.release(10); // durable in the bundle files, e.g. at a clean close
      await closeWal(wal);

      wal = await openWal(dir, opts);
      expect(flatten(5, await replay(wal, 5))).toEqual(fresh);
      // C's entries 10..14 were never acknowledged: nothing follows entry 9.
      expect(text(await replay(wal, 10))).toEqual([]);
    });
  });

  describe("space written ahead of the writer", () => {
    const MiB = 1024 * 1024;

    it("is zeros a commit overwrites, so the slot does not grow with each commit", async () => {
      const dir = tmpDir();
      let wal = await openWal(dir, { slotBytes: 4 * MiB });
      const file = path.join(dir, "0.wal");
      await commit(wal, 0, entries(0, 4));
      // The first commit grew the file; a chunk of zeros follows it.
      await vi.waitFor(() => expect(statSync(file).size).toBe(444 + MiB));
      for (let c = 1; c < 100; c++) await commit(wal, c * 4, entries(c * 4, 4));
      expect(statSync(file).size).toBe(444 + MiB);
      await closeWal(wal);
      expect(await recordsEnd(file)).toBe(100 * 444);

      wal = await openWal(dir, { slotBytes: 4 * MiB });
      expect(flatten(0, await replay(wal, 0))).toEqual(entries(0, 400));
    });

    it("is never written over a record, also when the writer overtakes the zeros", async () => {
      const dir = tmpDir();
      const opts = { slotBytes: 2 * MiB, maxSlots: 8 };
      let wal = await openWal(dir, opts);
      // A commit of ten 200 KB entries is five records in a row (at most a quarter slot each):
      // each next record reaches past the zeros the one before it started.
      const all = entries(0, 30, 200_000);
      for (let c = 0; c < 3; c++) await commit(wal, c * 10, all.slice(c * 10, c * 10 + 10));
      await closeWal(wal);
      const ends = await Promise.all(walFiles(dir).map((f) => recordsEnd(path.join(dir, f))));
      expect(ends.reduce((a, b) => a + b, 0)).toBe(15 * RECORD_HEADER_BYTES + 30 * 200_001);

      wal = await openWal(dir, opts);
      expect(flatten(0, await replay(wal, 0))).toEqual(all);
    });
  });

  describe("record size", () => {
    it("splits a commit larger than a quarter slot into records of whole entries", async () => {
      const dir = tmpDir();
      let wal = await openWal(dir);
      const big = entries(0, 10, 300); // 301 bytes each: 3 to a 1024-byte record
      await commit(wal, 0, big);
      await commit(wal, 10, entries(10, 2, 300));
      await closeWal(wal);
      const ends = await Promise.all(walFiles(dir).map((f) => recordsEnd(path.join(dir, f))));
      expect(ends.reduce((a, b) => a + b, 0)).toBe(5 * RECORD_HEADER_BYTES + 12 * 301);

      wal = await openWal(dir);
      const replayed = await replay(wal, 0);
      expect(replayed.map((r) => [r.first, r.count])).toEqual([
        [0, 3],
        [3, 3],
        [6, 3],
        [9, 1],
        [10, 2],
      ]);
      expect(flatten(0, replayed)).toEqual([...big, ...entries(10, 2, 300)]);
    });

    it("writes and replays a single entry larger than a slot", async () => {
      const dir = tmpDir();
      let wal = await openWal(dir, { maxSlots: 8 });
      const huge = entry(3, 10_000);
      await commit(wal, 0, entries(0, 3));
      await commit(wal, 3, [huge]);
      await commit(wal, 4, entries(4, 3));
      await commit(wal, 7, [entry(7, 5000), entry(8, 50)]);
      await closeWal(wal);
      expect(walSizes(dir)).toContain(RECORD_HEADER_BYTES + 10_001);

      wal = await openWal(dir, { maxSlots: 8 });
      const replayed = await replay(wal, 0);
      expect(replayed.map((r) => [r.first, r.count])).toEqual([
        [0, 3],
        [3, 1],
        [4, 3],
        [7, 1],
        [8, 1],
      ]);
      expect(flatten(0, replayed)).toEqual([
        ...entries(0, 3),
        huge,
        ...entries(4, 3),
        entry(7, 5000),
        entry(8, 50),
      ]);
    });
  });

  it("does not replay the tail of a write that a shorter write at the same index replaced", async () => {
    const dir = tmpDir();
    let wal = await openWal(dir);
    // The caller's write of [0, 6) failed (say fdatasync reported EIO) though the record
    // reached the file; the next commit writes [0, 2) and is acknowledged, and both entries
    // become durable in the bundle files.
    await wal.write(0, entries(0, 6), joinEntries(entries(0, 6)));
    const retry = entries(0, 2).map((e) => Buffer.concat([e, Buffer.from("-retry")]));
    await commit(wal, 0, retry);
    wal.release(2);
    await closeWal(wal);

    wal = await openWal(dir);
    expect(flatten(0, await replay(wal, 0))).toEqual(retry);
    // Entries 2..5 of the failed write were never acknowledged: nothing follows entry 1.
    expect(text(await replay(wal, 2))).toEqual([]);
  });
});
