import { createHash } from "node:crypto";
import { openSync, readFileSync, readdirSync, truncateSync, writeSync, closeSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/fixtures/audit/temp-dir.js";
import type { KeyPrint } from "../key-hash.js";
import { RECORD_BYTES } from "../record-table.js";
import { STORE_CORRUPT } from "./corrupt.js";
import { BLOCK_BYTES, BLOCK_RECORDS, HEADER_BYTES, sectionsOf } from "./format.js";
import { RunBuilder } from "./run-builder.js";
import { loadRun, RunScanner } from "./run-file.js";
import { RunReader } from "./run-reader.js";
import type { RunView } from "./run-view.js";

const hashOf = (s: string): string => createHash("sha256").update(s).digest("hex");

function record(p: KeyPrint, hash: string): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeUInt32BE(p.hi, 0);
  b.writeUInt32BE(p.lo, 4);
  b.write(hash, 8, "hex");
  return b;
}

/** Writes `records` (sorted here) as run `name` in `dir`. */
function writeRun(dir: string, name: string, records: Buffer[]): RunView {
  const sorted = [...records].sort(Buffer.compare);
  const b = new RunBuilder(dir, name, sorted.length);
  for (const r of sorted) b.add(r, 0);
  return b.finish();
}

/** A run of many keys where one key has 250 hashes (more than two blocks), and the extremes of the key space. */
function sample(): { records: Buffer[]; crowded: KeyPrint; keys: KeyPrint[] } {
  const keys: KeyPrint[] = [
    { hi: 0, lo: 0 },
    { hi: 0xffffffff, lo: 0xffffffff },
  ];
  for (let i = 1; i <= 1000; i++)
    keys.push({ hi: Math.imul(i, 0x9e3779b9) >>> 0, lo: Math.imul(i, 0x85ebca6b) >>> 0 });
  const crowded = keys[500]!;
  const records = keys.map((k, i) => record(k, hashOf(String(i))));
  for (let j = 0; j < 249; j++) records.push(record(crowded, hashOf(`crowded-${j}`)));
  return { records, crowded, keys };
}

function find(reader: RunReader, p: KeyPrint): string[] {
  const found: string[] = [];
  reader.collect(p, found, Buffer.alloc(BLOCK_BYTES));
  return found;
}

describe("run files", () => {
  it("finds every key's hashes, across block boundaries, and nothing for absent keys", () => {
    const dir = tempDir("kt-run-");
    const { records, crowded, keys } = sample();
    const view = writeRun(dir, "a.run", records);
    expect(view.records).toBe(records.length);
    const reader = new RunReader(dir, loadRun(dir, "a.run"));
    keys.forEach((k, i) => {
      if (k !== crowded) expect(find(reader, k)).toEqual([hashOf(String(i))]);
    });
    const crowdedHashes = find(reader, crowded);
    expect(crowdedHashes).toHaveLength(250);
    expect(crowdedHashes).toEqual([...crowdedHashes].sort());
    expect(250 * RECORD_BYTES).toBeGreaterThan(2 * BLOCK_BYTES);
    for (const absent of [
      { hi: 0, lo: 1 },
      { hi: 0xffffffff, lo: 0xfffffffe },
      { hi: crowded.hi, lo: crowded.lo + 1 },
    ])
      expect(find(reader, absent)).toEqual([]);
    reader.close();
  });

  it("keeps one copy of repeated records and refuses records out of order", () => {
    const dir = tempDir("kt-run-");
    const r = record({ hi: 5, lo: 5 }, hashOf("x"));
    const b = new RunBuilder(dir, "a.run", 3);
    b.add(r, 0);
    b.add(r, 0);
    expect(() => b.add(record({ hi: 4, lo: 9 }, hashOf("y")), 0)).toThrow(/out of order/);
    b.add(record({ hi: 5, lo: 5 }, hashOf("z")), 0);
    expect(b.finish().records).toBe(2);
  });

  it("lays the file out as format.ts says: header, sorted records, fences, filter, trailer", () => {
    const dir = tempDir("kt-run-");
    const { records } = sample();
    const view = writeRun(dir, "a.run", records);
    const file = readFileSync(path.join(dir, "a.run"));
    const at = sectionsOf({ records: view.records, filterBlocks: view.filter.byteLength / 64 });
    expect(file.length).toBe(at.size);
    const body = file.subarray(HEADER_BYTES, at.fences);
    expect(body).toEqual(Buffer.concat([...records].sort(Buffer.compare)));
    expect(file.subarray(24, 56)).toEqual(createHash("sha256").update(body).digest());
    // Each fence is its block's first fingerprint.
    const fences = file.subarray(at.fences, at.filter);
    for (let b = 0; b * BLOCK_RECORDS < view.records; b++)
      expect(fences.subarray(b * 8, b * 8 + 8)).toEqual(body.subarray(b * BLOCK_BYTES, b * BLOCK_BYTES + 8));
    expect(Buffer.from(view.fences)).toEqual(fences);
  });

  it("scans the records in order and checks them against the header's digest", () => {
    const dir = tempDir("kt-run-");
    const { records } = sample();
    writeRun(dir, "a.run", records);
    const scanned: Buffer[] = [];
    const s = new RunScanner(dir, "a.run");
    for (; s.more; s.next()) scanned.push(Buffer.from(s.buf.subarray(s.pos, s.pos + RECORD_BYTES)));
    s.close();
    expect(scanned).toEqual([...records].sort(Buffer.compare));
    // One record changed: the scan fails when it reaches the end.
    const fd = openSync(path.join(dir, "a.run"), "r+");
    writeSync(fd, Buffer.from([0xff]), 0, 1, HEADER_BYTES + 10 * RECORD_BYTES + 20);
    closeSync(fd);
    const damaged = new RunScanner(dir, "a.run");
    expect(() => {
      for (; damaged.more; damaged.next());
    }).toThrow(/records do not match their checksum/);
    damaged.close();
  });

  it("refuses a run that is cut short, not a run, or whose index or filter was changed", () => {
    const dir = tempDir("kt-run-");
    const { records } = sample();
    const corrupt = (name: string, change: (file: string) => void): unknown => {
      writeRun(dir, name, records);
      change(path.join(dir, name));
      try {
        loadRun(dir, name);
        return null;
      } catch (err) {
        return err;
      }
    };
    const poke = (offset: (size: number) => number) => (file: string) => {
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.from([0x5a]), 0, 1, offset(readFileSync(file).length));
      closeSync(fd);
    };
    const cases = {
      short: corrupt("short.run", (f) => truncateSync(f, 1000)),
      magic: corrupt(
        "magic.run",
        poke(() => 0),
      ),
      filter: corrupt(
        "filter.run",
        poke((size) => size - 40),
      ),
      fence: corrupt(
        "fence.run",
        poke(() => HEADER_BYTES + records.length * RECORD_BYTES + 3),
      ),
      missing: (() => {
        try {
          return loadRun(dir, "none.run");
        } catch (err) {
          return err;
        }
      })(),
    };
    for (const err of Object.values(cases)) expect(err).toMatchObject({ code: STORE_CORRUPT });
    expect(String(cases.short)).toMatch(/short.run: \d+ bytes, its header says \d+/);
    expect(String(cases.magic)).toMatch(/not a run file/);
    expect(String(cases.filter)).toMatch(/index or filter does not match its checksum/);
    expect(String(cases.fence)).toMatch(/index or filter does not match its checksum/);
    expect(String(cases.missing)).toMatch(/none.run: missing/);
    expect(readdirSync(dir).sort()).toEqual(["fence.run", "filter.run", "magic.run", "short.run"]);
  });
});
