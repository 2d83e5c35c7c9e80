import { createHash } from "node:crypto";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { DedupeWriter, openSeenStore } from "./dedupe-writer.js";
import { printToInt64, type KeyPrint } from "./key-hash.js";
import { RecordTable } from "./record-table.js";

function rows(n: number): { print: KeyPrint; h: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    // Both signs of the signed 64-bit integer SQLite stores: the high bit set on every other row.
    print: {
      hi: ((Math.imul(i, 0x9e3779b9) >>> 1) | (i % 2 === 0 ? 0 : 0x80000000)) >>> 0,
      lo: Math.imul(i, 0x7f4a7c15) >>> 0,
    },
    h: createHash("sha256").update(String(i)).digest("hex"),
  }));
}

function table(records: readonly { print: KeyPrint; h: string }[]): RecordTable {
  const t = new RecordTable();
  for (const r of records) t.add(r.print, r.h);
  return t;
}

describe("dedupe writer", () => {
  it("stores every row and the covered size in one transaction per write, on its own thread", async () => {
    const file = path.join(tempDir("kt-dedupe-writer-"), "dedupe.db");
    const db = openSeenStore(file);
    const writer = new DedupeWriter(file);
    const sent = rows(37); // two 16-row statements and five single rows
    await writer.write(table(sent.slice(0, 20)), 20);
    await writer.write(table(sent.slice(20)), 37);
    await writer.close();
    const got = db.prepare("SELECT k, h FROM seen").safeIntegers(true).all() as { k: bigint; h: Buffer }[];
    const key = (k: bigint, h: string) => `${k}/${h}`;
    expect(got.map((r) => key(r.k, r.h.toString("hex"))).sort()).toEqual(
      sent.map((r) => key(printToInt64(r.print), r.h)).sort(),
    );
    expect(got.some((r) => r.k < 0n) && got.some((r) => r.k > 0n)).toBe(true);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'covered'").get()).toEqual({ value: "37" });
    db.close();
  });

  it("fails a write once its worker is gone instead of waiting forever", async () => {
    const file = path.join(tempDir("kt-dedupe-writer-"), "dedupe.db");
    openSeenStore(file).close();
    const writer = new DedupeWriter(file);
    await writer.close();
    await expect(writer.write(table(rows(1)), 1)).rejects.toThrow(/stopped/);
  });
});
