import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiserverEvents } from "../../test/fixtures/audit/events.js";
import { openLogIn } from "../../test/fixtures/memory-log.js";
import { STAGES } from "../audit/types.js";
import { INDEX_FILE } from "./db.js";
import { catchUp, LiveStep, openIndexForLog, startIndexer } from "./indexer.js";
import { parseFilter } from "./query.js";
import { resolveEntries } from "./resolve.js";

// 600 entries: two full entry bundles and a partial one, so both read paths are exercised.
const COUNT = 600;
let dir: string;
let log: Awaited<ReturnType<typeof openLogIn>>;
let entries: Buffer[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-indexer-"));
  log = await openLogIn(dir, { origin: "indexer-test.example/log", integrateIntervalMs: 20 });
  entries = apiserverEvents(COUNT, { withTypeMeta: true }).map((e) => Buffer.from(JSON.stringify(e)));
  await log.append(entries);
  await log.waitIntegrated(COUNT);
});

afterAll(async () => {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("catchUp and resolveEntries", () => {
  it("indexes in two runs that split a bundle and reads every entry back by its log index", async () => {
    const { index } = openIndexForLog(dir, log, { rebuild: true });
    try {
      expect(await catchUp(index, log, 300)).toBe(300);
      expect(await catchUp(index, log)).toBe(COUNT);
      const all = index.search(
        parseFilter({
          stage: ["RequestReceived", "ResponseStarted", "ResponseComplete"],
          limit: ["1000"],
          asc: ["true"],
        }),
        0,
      ).rows;
      expect(all).toHaveLength(COUNT);
      const resolved = await resolveEntries(log, all);
      expect(resolved.map((e) => Buffer.from(e.data).toString())).toEqual(
        all.map((r) => entries[r.idx]?.toString()),
      );
    } finally {
      index.close();
    }
  });

  it("refuses rows whose entry does not match the log", async () => {
    const { index } = openIndexForLog(dir, log);
    try {
      await catchUp(index, log);
      const db = new Database(join(dir, INDEX_FILE));
      db.prepare("UPDATE entries SET leaf = zeroblob(8) WHERE idx = 5").run();
      db.close();
      const rows = index.search(
        parseFilter({
          "audit-id": [JSON.parse(entries[5]!.toString()).auditID],
          stage: ["ResponseComplete", "RequestReceived"],
        }),
        0,
      ).rows;
      expect(rows.map((r) => r.idx)).toContain(5);
      await expect(resolveEntries(log, rows)).rejects.toThrow(
        /entry 5: the log's bytes do not match the index/,
      );
    } finally {
      index.close();
    }
  });
});

describe("LiveStep", () => {
  it("sizes live transactions to the time entries took, within bounds", () => {
    const step = new LiveStep();
    expect(step.size).toBe(8); // nothing known yet: start small
    step.took(0.1, 8); // cheap entries (decisions): as many as fit, up to the batch
    expect(step.size).toBe(128);
    for (let i = 0; i < 20; i++) step.took(4, 16); // 0.25 ms each: 2 ms holds 8
    expect(step.size).toBe(8);
    for (let i = 0; i < 20; i++) step.took(2, 64); // about 0.03 ms each
    expect(step.size).toBeGreaterThanOrEqual(60);
    expect(step.size).toBeLessThanOrEqual(68);
    for (let i = 0; i < 20; i++) step.took(100, 8); // a stall: never below the floor
    expect(step.size).toBe(8);
  });
});

describe("startIndexer", () => {
  it("rebuilds from the log when a query meets a missing dictionary row, then answers the same", async () => {
    const d = mkdtempSync(join(tmpdir(), "kubetrail-indexer-dict-"));
    const filter = parseFilter({ stage: [...STAGES], limit: ["1000"] });
    let indexer = startIndexer(log, d, { checkOnStart: false });
    try {
      await indexer.caughtUp();
      const before = indexer.read((ix) => ix.search(filter, 0).rows.map((r) => r.idx));
      await indexer.stop();
      // The newest string: no gap in the ids shows it on opening, a query meets the hole.
      const db = new Database(join(d, INDEX_FILE));
      db.prepare("DELETE FROM strings WHERE id = (SELECT MAX(id) FROM strings)").run();
      db.close();
      const rebuilds: string[] = [];
      indexer = startIndexer(log, d, { checkOnStart: false, onRebuild: (r) => rebuilds.push(r) });
      await indexer.caughtUp();
      expect(() => indexer.read((ix) => ix.search(filter, 0))).toThrow(
        expect.objectContaining({ code: "rebuilding" }),
      );
      await indexer.caughtUp();
      expect(rebuilds).toEqual([expect.stringContaining("missing from the dictionary")]);
      expect(indexer.read((ix) => ix.search(filter, 0).rows.map((r) => r.idx))).toEqual(before);
    } finally {
      await indexer.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("catches up on start and follows new checkpoints", async () => {
    const indexer = startIndexer(log, dir);
    try {
      await indexer.caughtUp();
      expect(indexer.position()).toBe(COUNT);
      const more = apiserverEvents(10, { seed: 99, withTypeMeta: true }).map((e) =>
        Buffer.from(JSON.stringify(e)),
      );
      await log.append(more);
      await log.waitIntegrated(COUNT + 10);
      await indexer.caughtUp();
      expect(indexer.position()).toBe(COUNT + 10);
      const rows = indexer.index.search(
        parseFilter({ stage: ["RequestReceived", "ResponseStarted", "ResponseComplete"], limit: ["5"] }),
        0,
      ).rows;
      const resolved = await resolveEntries(log, rows);
      expect(resolved.length).toBe(5);
    } finally {
      await indexer.stop();
    }
  });

  it("drops retention's rows through its one writer, and thinned entries not indexed yet once they are", async () => {
    const d = mkdtempSync(join(tmpdir(), "kubetrail-indexer-drop-"));
    const own = await openLogIn(d, { integrateIntervalMs: 3_600_000 });
    const indexer = startIndexer(own, d, { checkOnStart: false });
    const rows = (): number[] => {
      const db = new Database(join(d, INDEX_FILE), { readonly: true });
      try {
        return db
          .prepare<[], { idx: number }>("SELECT idx FROM entries ORDER BY idx")
          .all()
          .map((r) => r.idx);
      } finally {
        db.close();
      }
    };
    try {
      await own.append(entries);
      await own.waitIntegrated(COUNT);
      await indexer.caughtUp();
      expect(await indexer.dropRows({ indexes: [3, 300, 599] })).toBe(3);
      expect(await indexer.dropRows({ before: 100 })).toBe(99);
      const left = rows();
      expect(left[0]).toBe(100);
      expect(left).toHaveLength(COUNT - 100 - 2);
      expect(left).not.toContain(300);
      // Entries past what the index holds (no checkpoint covers them yet): their rows go once written.
      await own.append(entries.slice(0, 10));
      expect(await indexer.dropRows({ indexes: [COUNT + 2, COUNT + 7] })).toBe(0);
      await own.waitIntegrated(COUNT + 10);
      await indexer.caughtUp();
      const after = rows();
      expect(after.filter((i) => i >= COUNT)).toEqual([600, 601, 603, 604, 605, 606, 608, 609]);
    } finally {
      await indexer.stop();
      await own.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("rebuilds on a log whose old bundles were pruned: past them, with no rows for them; rows indexed before shown as gone", async () => {
    const d = mkdtempSync(join(tmpdir(), "kubetrail-indexer-pruned-"));
    try {
      let pruned = await openLogIn(d, { integrateIntervalMs: 20 });
      await pruned.append(entries);
      await pruned.waitIntegrated(COUNT);
      const { index: before } = openIndexForLog(d, pruned, { rebuild: true });
      await catchUp(before, pruned);
      const old = before.search(
        parseFilter({ stage: ["ResponseComplete"], limit: ["1000"], asc: ["true"] }),
        0,
      ).rows;
      before.close();
      await pruned.close();
      pruned = await openLogIn(d);
      pruned.driver.pruneBundles(256, "retention: 30 days");
      // Rows indexed before the pruning now resolve to "gone", with the index's fields.
      const { index: kept } = openIndexForLog(d, pruned);
      const resolved = await resolveEntries(pruned, old);
      kept.close();
      const first = resolved.find((r) => r.row.idx < 256)!;
      expect(first.gone).toEqual({ state: "pruned", reason: "retention: 30 days" });
      // The index keeps what filters use (the user, …), not the auditID, which only the bytes had.
      expect(first.row.user).toBe(JSON.parse(entries[first.row.idx]!.toString()).user.username);
      expect(first.row.auditID).toBeNull();
      expect(resolved.filter((r) => r.row.idx >= 256).every((r) => r.gone === undefined)).toBe(true);
      // A rebuild covers every position, and gives the pruned ones no row (retention drops theirs).
      const { index } = openIndexForLog(d, pruned, { rebuild: true });
      try {
        expect(await catchUp(index, pruned)).toBe(COUNT);
        const rows = index.search(
          parseFilter({ stage: ["RequestReceived", "ResponseStarted", "ResponseComplete"], limit: ["1000"] }),
          0,
        ).rows;
        expect(rows.map((r) => r.idx).sort((a, b) => a - b)).toEqual(
          Array.from({ length: COUNT - 256 }, (_, i) => 256 + i),
        );
        const db = new Database(join(d, INDEX_FILE), { readonly: true });
        expect(db.prepare("SELECT count(*) AS n FROM entries WHERE idx < 256").get()).toEqual({ n: 0 });
        db.close();
      } finally {
        index.close();
        await pruned.close();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
