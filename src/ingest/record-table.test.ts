import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { keyPrint, type KeyPrint } from "./key-hash.js";
import { RECORD_BYTES, RecordTable } from "./record-table.js";

const hashOf = (s: string): string => createHash("sha256").update(s).digest("hex");

function hashesOf(t: RecordTable, p: KeyPrint): string[] {
  const found: string[] = [];
  t.collect(p, found);
  return found;
}

/** The records of a table as the store reads them: (fingerprint as 16 hex digits, hex hash). */
function rowsOf(t: RecordTable): [string, string][] {
  const rows = Buffer.from(t.toRows());
  const out: [string, string][] = [];
  for (let at = 0; at < rows.length; at += RECORD_BYTES)
    out.push([rows.toString("hex", at, at + 8), rows.toString("hex", at + 8, at + RECORD_BYTES)]);
  return out;
}

/** A fingerprint as big-endian hex, high half first: the order the store sorts by. */
const hexOf = (p: KeyPrint): string =>
  p.hi.toString(16).padStart(8, "0") + p.lo.toString(16).padStart(8, "0");

describe("record table", () => {
  it("keeps each (fingerprint, hash) once and collects a key's hashes in the order added", () => {
    const t = new RecordTable();
    const a = keyPrint("a\u0000ResponseComplete");
    const b = keyPrint("b\u0000ResponseComplete");
    expect(t.add(a, hashOf("1"))).toBe(true);
    expect(t.add(b, hashOf("2"))).toBe(true);
    expect(t.add(a, hashOf("3"))).toBe(true);
    expect(t.add(a, hashOf("1"))).toBe(false);
    expect(t.size).toBe(3);
    expect(hashesOf(t, a)).toEqual([hashOf("1"), hashOf("3")]);
    expect(hashesOf(t, b)).toEqual([hashOf("2")]);
    // What the caller found elsewhere (the store) is not added again.
    const found = [hashOf("3")];
    t.collect(a, found);
    expect(found).toEqual([hashOf("3"), hashOf("1")]);
    expect(hashesOf(t, keyPrint("c\u0000ResponseComplete"))).toEqual([]);
  });

  it("tells apart fingerprints that share a probe slot or a half", () => {
    const t = new RecordTable();
    // Same low half (the same first slot), and same high half with another low half.
    const prints: KeyPrint[] = [
      { hi: 1, lo: 7 },
      { hi: 2, lo: 7 },
      { hi: 1, lo: 7 + 2048 },
    ];
    prints.forEach((p, i) => t.add(p, hashOf(String(i))));
    prints.forEach((p, i) => expect(hashesOf(t, p)).toEqual([hashOf(String(i))]));
  });

  it("grows past its first capacity and lays records out as the store keeps them", () => {
    // High halves with and without the top bit.
    const printAt = (i: number): KeyPrint => ({
      hi: (Math.imul(i, 0x9e3779b9) | (i % 2 ? 0x80000000 : 0)) >>> 0,
      lo: i,
    });
    const t = new RecordTable();
    const added: [string, string][] = [];
    for (let i = 0; i < 5000; i++) {
      t.add(printAt(i), hashOf(String(i)));
      added.push([hexOf(printAt(i)), hashOf(String(i))]);
    }
    expect(t.size).toBe(5000);
    expect(rowsOf(t)).toEqual(added);
    expect(hashesOf(t, printAt(4321))).toEqual([hashOf("4321")]);
    // A copy: the table may be reused while the writer holds it.
    const rows = t.toRows();
    t.clear();
    expect(t.size).toBe(0);
    expect(hashesOf(t, { hi: 0, lo: 0 })).toEqual([]);
    expect(rows.length).toBe(5000 * RECORD_BYTES);
    expect(rows.byteOffset).toBe(0);
    expect(rows.buffer.byteLength).toBe(rows.length);
  });

  it("adds another table's records it lacks (a failed flush going back)", () => {
    const waiting = new RecordTable();
    const failed = new RecordTable();
    const k = keyPrint("k\u0000RequestReceived");
    failed.add(k, hashOf("x"));
    failed.add(k, hashOf("y"));
    waiting.add(k, hashOf("y"));
    waiting.add(k, hashOf("z"));
    waiting.addAll(failed);
    expect(waiting.size).toBe(3);
    expect(hashesOf(waiting, k).sort()).toEqual([hashOf("x"), hashOf("y"), hashOf("z")].sort());
  });

  it("takes a hash as its 32 bytes as it takes it in hex, from a view into a larger buffer too", () => {
    const t = new RecordTable();
    const k = keyPrint("k\u0000ResponseComplete");
    const many = Buffer.concat([Buffer.alloc(7), Buffer.from(hashOf("x"), "hex"), Buffer.alloc(5)]);
    const leaf = new Uint8Array(many.buffer, many.byteOffset + 7, 32);
    expect(t.addLeaf(k, leaf)).toBe(true);
    expect(t.add(k, hashOf("x"))).toBe(false);
    expect(hashesOf(t, k)).toEqual([hashOf("x")]);
    expect(() => t.addLeaf(k, new Uint8Array(31))).toThrow(/32-byte hash: 31 bytes/);
  });

  it("refuses a hash that is not 32 bytes of hex", () => {
    const t = new RecordTable();
    expect(() => t.add({ hi: 1, lo: 1 }, "abc")).toThrow(/32-byte hex/);
    expect(() => t.add({ hi: 1, lo: 1 }, "zz".repeat(32))).toThrow(/32-byte hex/);
    expect(t.size).toBe(0);
  });
});
