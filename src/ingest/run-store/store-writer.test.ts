import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { tempDir } from "../../../test/fixtures/audit/temp-dir.js";
import type { KeyPrint } from "../key-hash.js";
import { RECORD_BYTES, RecordTable } from "../record-table.js";
import { STORE_CORRUPT } from "./corrupt.js";
import { HEADER_BYTES } from "./format.js";
import { RunStore } from "./run-store.js";
import { runName } from "./manifest.js";
import { FAN_IN, pickMerge, RETRY_AFTER_MS, RunStoreWriter, TIER_BASE, tierOf } from "./store-writer.js";
import type { RunView } from "./run-view.js";

const ID = { origin: "example.com/log", hash: "rfc6962-leaf" };
const hashOf = (i: number): string => createHash("sha256").update(String(i)).digest("hex");
const printOf = (i: number): KeyPrint => ({ hi: Math.imul(i + 1, 0x9e3779b9) >>> 0, lo: i });

/** Records `from` … `from + n - 1`: key i with hash i. */
function table(from: number, n: number): RecordTable {
  const t = new RecordTable();
  for (let i = from; i < from + n; i++) t.add(printOf(i), hashOf(i));
  return t;
}

function lookup(store: RunStore, i: number): string[] {
  const found: string[] = [];
  store.collect(printOf(i), found);
  return found;
}

const manifestOf = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
    covered: number;
    next: number;
    runs: { name: string; records: number }[];
    damaged?: string;
  };

const view = (name: string, records: number): RunView => ({
  name,
  records,
  fences: new SharedArrayBuffer(0),
  filter: new SharedArrayBuffer(0),
});

describe("dedupe store: runs and merges", () => {
  it("puts runs in size tiers of FAN_IN× and merges the oldest FAN_IN of the lowest full tier", () => {
    expect([1, TIER_BASE, TIER_BASE + 1, FAN_IN * TIER_BASE, FAN_IN * TIER_BASE + 1].map(tierOf)).toEqual([
      0, 0, 1, 1, 2,
    ]);
    const small = Array.from({ length: FAN_IN + 1 }, (_, i) => view(`s${i}`, 10));
    const big = Array.from({ length: FAN_IN }, (_, i) => view(`b${i}`, TIER_BASE * 2));
    expect(pickMerge(small.slice(1))).toEqual(small.slice(1));
    expect(pickMerge([...big, ...small])?.map((r) => r.name)).toEqual(
      small.slice(0, FAN_IN).map((r) => r.name),
    );
    expect(pickMerge([...big.slice(1), ...small.slice(2)])).toBeNull();
  });

  it("merges FAN_IN runs into one, keeping each record once, and removes the merged files", async () => {
    const dir = tempDir("kt-runs-");
    const store = await RunStore.open(dir, ID);
    // Each flush repeats half of the one before (as catch-up after a crash does).
    for (let f = 0; f < FAN_IN; f++) await store.write(table(f * 100, 200), (f + 1) * 100);
    await store.idle();
    // Every key found through the store-wide filter too: each flush's keys went into it.
    expect(store.runs()).toEqual({ count: 1, records: FAN_IN * 100 + 100, filtered: true });
    for (let i = 0; i < FAN_IN * 100 + 100; i++) expect(lookup(store, i)).toEqual([hashOf(i)]);
    expect(lookup(store, FAN_IN * 100 + 100)).toEqual([]);
    const m = manifestOf(dir);
    expect(m.covered).toBe(FAN_IN * 100);
    expect(readdirSync(dir).sort()).toEqual([m.runs[0]!.name, "manifest.json"].sort());
    await store.close();
  });

  it("reopens with what it covered, removing files its manifest does not name", async () => {
    const dir = tempDir("kt-runs-");
    const store = await RunStore.open(dir, ID);
    await store.write(table(0, 50), 50);
    const t = table(50, 10);
    t.add(printOf(7), hashOf(1000)); // a second hash for a known key
    await store.write(t, 60);
    await store.close();
    writeFileSync(path.join(dir, "000000000099.run"), "left by a merge that did not finish");
    writeFileSync(path.join(dir, ".manifest.json.1234.tmp"), "{}");
    const again = await RunStore.open(dir, ID);
    await again.idle();
    // The store-wide filter, built again from the runs.
    expect(again.runs().filtered).toBe(true);
    expect(again.covered).toBe(60);
    expect(lookup(again, 59)).toEqual([hashOf(59)]);
    expect(lookup(again, 7).sort()).toEqual([hashOf(7), hashOf(1000)].sort());
    expect(readdirSync(dir)).toHaveLength(3);
    await again.close();
    // Another log's store starts empty.
    const other = await RunStore.open(dir, { ...ID, origin: "example.com/other" });
    expect([other.covered, other.runs().count, lookup(other, 59)]).toEqual([0, 0, []]);
    await other.close();
    expect(readdirSync(dir)).toEqual(["manifest.json"]);
  });

  it("drops a merge cut short by close, keeping its inputs, and finishes it on the next open", async () => {
    const dir = tempDir("kt-runs-");
    // The writer in this thread, so that closing lands while its merge gives way to other work.
    const writer = await RunStoreWriter.open(dir, ID, {
      runs: () => undefined,
      filter: () => undefined,
      error: () => undefined,
    });
    // Enough records that the merge gives way to other work before it ends.
    for (let f = 0; f < FAN_IN; f++) await writer.write(table(f * 3000, 3000).toRows(), (f + 1) * 3000);
    await writer.close();
    expect(manifestOf(dir).runs).toHaveLength(FAN_IN);
    expect(readdirSync(dir)).toHaveLength(FAN_IN + 1);
    const again = await RunStore.open(dir, ID);
    await again.idle();
    expect(again.runs()).toEqual({ count: 1, records: FAN_IN * 3000, filtered: true });
    expect(lookup(again, FAN_IN * 3000 - 1)).toEqual([hashOf(FAN_IN * 3000 - 1)]);
    await again.close();
  });

  it("marks the store damaged when a merge finds a run's records changed, and refuses to open it then", async () => {
    const dir = tempDir("kt-runs-");
    const store = await RunStore.open(dir, ID);
    const errors: Error[] = [];
    store.onError = (err) => errors.push(err);
    await store.write(table(0, 100), 100);
    const first = manifestOf(dir).runs[0]!.name;
    const fd = openSync(path.join(dir, first), "r+");
    writeSync(fd, Buffer.from([0xee]), 0, 1, HEADER_BYTES + 5 * RECORD_BYTES + 30);
    closeSync(fd);
    for (let f = 1; f < FAN_IN; f++) await store.write(table(f * 100, 100), (f + 1) * 100);
    await store.idle();
    expect(String(errors[0])).toMatch(new RegExp(`${first}: records do not match their checksum`));
    // Still serving from the runs it has.
    expect(lookup(store, 150)).toEqual([hashOf(150)]);
    await store.close();
    expect(manifestOf(dir).damaged).toMatch(/records do not match/);
    await expect(RunStore.open(dir, ID)).rejects.toMatchObject({ code: STORE_CORRUPT });
  });

  it("waits RETRY_AFTER_MS before trying a failed merge again, instead of at every flush", async () => {
    // The writer itself, in this thread, so its clock can be moved on.
    const dir = tempDir("kt-runs-");
    const errors: Error[] = [];
    let runs: RunView[] = [];
    const writer = await RunStoreWriter.open(dir, ID, {
      runs: (views) => (runs = views),
      filter: () => undefined,
      error: (err) => errors.push(err),
    });
    const write = async (f: number, covered: number) => {
      await writer.write(table(f * 100, 100).toRows(), covered);
      await writer.idle();
    };
    for (let f = 0; f < FAN_IN - 1; f++) await write(f, (f + 1) * 100);
    // The eighth flush takes the next run number and its merge the one after: that one fails.
    mkdirSync(path.join(dir, runName(manifestOf(dir).next + 1)));
    for (let f = FAN_IN - 1; f < FAN_IN + 2; f++) await write(f, (f + 1) * 100);
    expect(errors.map(String)).toEqual([expect.stringMatching(/EEXIST/)]);
    expect(runs).toHaveLength(FAN_IN + 2);
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + RETRY_AFTER_MS);
    try {
      await write(50, 1100);
    } finally {
      vi.restoreAllMocks();
    }
    expect(errors).toHaveLength(1);
    expect(runs).toHaveLength(4);
    expect(runs.reduce((n, r) => n + r.records, 0)).toBe(1100);
    await writer.close();
    const store = await RunStore.open(dir, ID);
    for (const i of [0, 799, 5099]) expect(lookup(store, i)).toEqual([hashOf(i)]);
    await store.close();
  });
});
