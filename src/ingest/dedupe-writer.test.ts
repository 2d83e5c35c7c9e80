import { createHash } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { DedupeWriter, SEEN_SCHEMA, type SeenRow } from "./dedupe-writer.js";

function rows(n: number): SeenRow[] {
  return Array.from({ length: n }, (_, i) => ({
    // Both signs: the fingerprint is stored as a signed 64-bit integer.
    k: ((BigInt(i) * 0x9e3779b97f4a7c15n) % (1n << 63n)) * (i % 2 === 0 ? 1n : -1n),
    h: createHash("sha256").update(String(i)).digest("hex"),
  }));
}

describe("dedupe writer", () => {
  it("stores every row and the covered size in one transaction per write, on its own thread", async () => {
    const file = path.join(tempDir("kt-dedupe-writer-"), "dedupe.db");
    const db = new Database(file);
    db.exec(SEEN_SCHEMA);
    const writer = new DedupeWriter(file);
    const sent = rows(37); // two 16-row statements and five single rows
    await writer.write(sent.slice(0, 20), 20);
    await writer.write(sent.slice(20), 37);
    await writer.close();
    const got = db.prepare("SELECT k, h FROM seen").safeIntegers(true).all() as { k: bigint; h: Buffer }[];
    const key = (r: { k: bigint; h: string }) => `${r.k}/${r.h}`;
    expect(got.map((r) => key({ k: r.k, h: r.h.toString("hex") })).sort()).toEqual(sent.map(key).sort());
    expect(db.prepare("SELECT value FROM meta WHERE key = 'covered'").get()).toEqual({ value: "37" });
    db.close();
  });

  it("fails a write once its worker is gone instead of waiting forever", async () => {
    const file = path.join(tempDir("kt-dedupe-writer-"), "dedupe.db");
    new Database(file).exec(SEEN_SCHEMA);
    const writer = new DedupeWriter(file);
    await writer.close();
    await expect(writer.write(rows(1), 1)).rejects.toThrow(/stopped/);
  });
});
