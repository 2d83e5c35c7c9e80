import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startWalCheckpointer } from "./wal-checkpointer.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe("startWalCheckpointer", () => {
  it("moves a writer's pages from the write-ahead log into the file while the writer never checkpoints", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubetrail-walcp-"));
    dirs.push(dir);
    const file = join(dir, "index.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run("x".repeat(1000));
    })();
    // Everything is still in the log: the database file holds the first pages only.
    const before = statSync(file).size;
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(3_000_000);
    expect(before).toBeLessThan(100_000);
    const errors: Error[] = [];
    const checkpointer = startWalCheckpointer(file, {
      intervalMs: 50,
      onStopped: (err) => errors.push(err),
      onError: (err) => errors.push(err),
    });
    try {
      expect(await until(() => statSync(file).size > 3_000_000, 10_000)).toBe(true);
      // The writer goes on meanwhile, and reads see every row.
      insert.run("after");
      expect(db.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 3001 });
    } finally {
      await checkpointer.stop();
      db.close();
    }
    expect(errors).toEqual([]);
  });

  it("tells once of a file it cannot checkpoint, and keeps going", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubetrail-walcp-"));
    dirs.push(dir);
    const file = join(dir, "index.db");
    writeFileSync(file, "this is not a database, it is much longer than a header would be".repeat(20));
    const errors: Error[] = [];
    let stopped: Error | undefined;
    const checkpointer = startWalCheckpointer(file, {
      intervalMs: 30,
      onStopped: (err) => (stopped = err),
      onError: (err) => errors.push(err),
    });
    try {
      expect(await until(() => errors.length >= 1, 10_000)).toBe(true);
      expect(errors[0]!.message).toMatch(/^index checkpoint: SQLITE_NOTADB/);
      // Ten more intervals of the same failure: not told again.
      await new Promise((r) => setTimeout(r, 300));
      expect(errors).toHaveLength(1);
      expect(stopped).toBeUndefined();
    } finally {
      await checkpointer.stop();
    }
  });
});
