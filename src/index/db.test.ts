import { fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scenarioEntries } from "../../test/query-fixtures.js";
import { hashLeaf } from "../tlog/hash.js";
import { TS_SOURCE_EXEC_ARGV } from "../worker/start.js";
import { INDEX_FILE, openIndex, type QueryIndex } from "./db.js";
import { parseFilter, type RawFilter } from "./query.js";
import { rowFromEntry } from "./row.js";

const NOW = Date.UTC(2026, 10, 21, 4, 0, 0) * 1000;

let dir: string;
let index: QueryIndex;

function fill(ix: QueryIndex): number {
  const entries = scenarioEntries();
  const rows = entries.map((data, i) => rowFromEntry(i, data, hashLeaf(data)));
  // Two batches, to cover final-stage bookkeeping across transactions.
  expect(ix.applyBatch(rows.slice(0, 5), 5)).toBe(5);
  expect(ix.applyBatch(rows.slice(5), rows.length)).toBe(rows.length - 5);
  return rows.length;
}

/** The auditID of the entry at a log index (the index keeps only a key of it). */
function auditIdAt(idx: number): string | null {
  return rowFromEntry(idx, scenarioEntries()[idx]!, new Uint8Array(32)).auditID;
}

function ids(raw: RawFilter): string[] {
  return index.search(parseFilter(raw), NOW).rows.map((r) => `${auditIdAt(r.idx)}:${r.stage}`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-index-"));
  index = openIndex(dir, { origin: "test.example/log" }).index;
  fill(index);
});
afterEach(() => {
  index.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("QueryIndex.search", () => {
  it("answers who deleted the ConfigMap", () => {
    const rows = index.search(
      parseFilter({ verb: ["delete"], resource: ["configmaps"], namespace: ["prod"] }),
      NOW,
    ).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      user: "mallory",
      verb: "delete",
      name: "app-config",
      time: "2026-11-21T03:12:00.123456Z",
      stage: "ResponseComplete",
      code: 200,
      sourceIPs: ["203.0.113.9"],
      decision: "allow",
      groups: ["system:authenticated", "contractors"],
    });
  });

  it("returns one row per request (the final stage) unless a stage is asked for", () => {
    expect(ids({ user: ["alice"] })).toEqual(["e5:ResponseComplete", "a1:ResponseComplete"]);
    expect(ids({ user: ["alice"], stage: ["RequestReceived"] })).toEqual([
      "e5:RequestReceived",
      "a1:RequestReceived",
    ]);
    expect(ids({ user: ["alice"], stage: ["RequestReceived", "ResponseComplete"], asc: ["true"] })).toEqual([
      "a1:RequestReceived",
      "a1:ResponseComplete",
      "e5:RequestReceived",
      "e5:ResponseComplete",
    ]);
  });

  it("combines filters with AND and repeated values with OR", () => {
    expect(ids({ user: ["mallory", "bob"], verb: ["delete", "update"] })).toEqual([
      "d4:ResponseComplete",
      "b2:ResponseComplete",
    ]);
    expect(ids({ code: ["403"] })).toEqual(["c3:ResponseComplete"]);
    expect(ids({ code: ["4xx", "1xx"] })).toEqual(["e5:ResponseComplete", "c3:ResponseComplete"]);
    expect(ids({ decision: ["forbid"] })).toEqual(["c3:ResponseComplete"]);
    expect(ids({ group: ["contractors"] })).toEqual(["d4:ResponseComplete", "c3:ResponseComplete"]);
    expect(ids({ "source-ip": ["192.168.1.20"] })).toEqual(["b2:ResponseComplete"]);
    expect(ids({ "audit-id": ["g7"] })).toEqual(["g7:ResponseComplete"]);
  });

  it("matches resources by subresource and group", () => {
    expect(ids({ resource: ["pods"] })).toEqual([]);
    expect(ids({ resource: ["pods/exec"] })).toEqual(["e5:ResponseComplete"]);
    expect(ids({ resource: ["pods/*"] })).toEqual(["e5:ResponseComplete"]);
    expect(ids({ resource: ["deployments.apps"] })).toEqual(["f6:ResponseComplete"]);
    expect(ids({ resource: ["deployments.extensions"] })).toEqual([]);
    expect(ids({ resource: ["configmaps.core"], verb: ["create"] })).toEqual(["a1:ResponseComplete"]);
  });

  it("filters by time windows", () => {
    // NOW is 04:00; 50m back is 03:10, so c3 (03:10:00.25) is just inside.
    expect(ids({ since: ["50m"], user: ["mallory"] })).toEqual([
      "d4:ResponseComplete",
      "c3:ResponseComplete",
    ]);
    expect(ids({ since: ["49m"], user: ["mallory"] })).toEqual(["d4:ResponseComplete"]);
    expect(
      ids({ from: ["2026-11-21T03:05:00.5Z"], to: ["2026-11-21T03:12:00.123456Z"], asc: ["true"] }),
    ).toEqual(["b2:ResponseComplete", "c3:ResponseComplete", "d4:ResponseComplete"]);
  });

  it("pages with cursors without gaps or repeats", () => {
    const all = ids({ limit: ["100"] });
    expect(all).toHaveLength(7);
    const seen: string[] = [];
    let raw: RawFilter = { limit: ["3"] };
    for (let page = 0; page < 5; page++) {
      const res = index.search(parseFilter(raw), NOW);
      seen.push(...res.rows.map((r) => `${auditIdAt(r.idx)}:${r.stage}`));
      if (res.next === undefined) break;
      raw = {
        limit: ["3"],
        cursor: [Buffer.from(`${res.next.timeUs}:${res.next.idx}`).toString("base64url")],
      };
    }
    expect(seen).toEqual(all);
  });

  it("keeps kubetrail records out of event queries", () => {
    expect(ids({ limit: ["100"] }).some((id) => id.startsWith("null"))).toBe(false);
    expect(index.position()).toBe(15);
  });
});

describe("admission decisions beside events", () => {
  const decision = (name: string, result: "allow" | "deny" | "warn", minute: number) =>
    Buffer.from(
      JSON.stringify({
        apiVersion: "kubetrail.dev/v1",
        kind: "AdmissionDecision",
        time: `2026-11-21T03:${String(minute).padStart(2, "0")}:00.000000Z`,
        uid: `uid-${name}`,
        user: { username: "alice", groups: ["devs"] },
        operation: "CREATE",
        dryRun: false,
        object: { apiGroup: "", apiVersion: "v1", kind: "Pod", resource: "pods", namespace: "prod", name },
        result,
        allowed: result !== "deny",
        policies: [],
      }),
    );
  beforeEach(() => {
    const start = index.position();
    const entries = [decision("a", "deny", 30), decision("b", "allow", 31), decision("c", "warn", 32)];
    index.applyBatch(
      entries.map((data, i) => rowFromEntry(start + i, data, hashLeaf(data))),
      start + entries.length,
    );
  });
  const names = (raw: RawFilter) =>
    index.search(parseFilter(raw), NOW).rows.map((r) => `${r.kind}:${r.name}`);

  it("are indexed by user, operation, object and result", () => {
    const [row] = index.search(parseFilter({ kind: ["decision"], result: ["deny"] }), NOW).rows;
    expect(row).toMatchObject({
      kind: "AdmissionDecision",
      user: "alice",
      verb: "create",
      resource: "pods",
      apiGroup: "",
      namespace: "prod",
      name: "a",
      decision: "deny",
      groups: ["devs"],
    });
  });
  it("--kind decision --result deny finds only denials; --kind event only events", () => {
    expect(names({ kind: ["decision"], result: ["deny"] })).toEqual(["AdmissionDecision:a"]);
    expect(names({ kind: ["decision"] })).toEqual([
      "AdmissionDecision:c",
      "AdmissionDecision:b",
      "AdmissionDecision:a",
    ]);
    expect(names({ kind: ["event"], limit: ["100"] }).every((n) => n.startsWith("Event:"))).toBe(true);
  });
  it("show up beside events by default, and filter like them", () => {
    expect(names({ namespace: ["prod"], resource: ["pods"] })).toContain("AdmissionDecision:b");
    expect(names({ user: ["alice"], verb: ["create"], kind: ["decision"] })).toHaveLength(3);
  });
  it("--decision (authorization) never matches an admission result", () => {
    expect(
      names({ decision: ["allow"], limit: ["100"] }).some((n) => n.startsWith("AdmissionDecision")),
    ).toBe(false);
  });
});

describe("final stage bookkeeping", () => {
  it("keeps the first of equal stages and lets a later stage win across batches", () => {
    const ev = (stage: string, extra: Record<string, unknown> = {}) =>
      Buffer.from(
        JSON.stringify({
          auditID: "zz",
          stage,
          verb: "get",
          user: { username: "carol" },
          requestReceivedTimestamp: "2026-11-21T03:30:00.000000Z",
          ...extra,
        }),
      );
    const add = (i: number, data: Buffer) => index.applyBatch([rowFromEntry(i, data, hashLeaf(data))], i + 1);
    add(15, ev("ResponseStarted"));
    add(16, ev("ResponseStarted", { annotations: { conflict: "1" } }));
    expect(index.search(parseFilter({ user: ["carol"] }), NOW).rows.map((r) => r.idx)).toEqual([15]);
    add(17, ev("ResponseComplete"));
    expect(index.search(parseFilter({ user: ["carol"] }), NOW).rows.map((r) => r.idx)).toEqual([17]);
    add(18, ev("RequestReceived"));
    expect(index.search(parseFilter({ user: ["carol"] }), NOW).rows.map((r) => r.idx)).toEqual([17]);
  });
});

describe("QueryIndex.top", () => {
  it("counts requests by dimension", () => {
    const f = parseFilter({});
    expect(index.top("users", f, NOW, 2)).toEqual([
      { key: "alice", count: 2 },
      { key: "bob", count: 2 },
    ]);
    expect(index.top("resources", f, NOW, 10)).toContainEqual({ key: "deployments.apps", count: 1 });
    expect(index.top("resources", f, NOW, 10)).toContainEqual({ key: "pods/exec", count: 1 });
    expect(index.top("sources", parseFilter({ user: ["mallory"] }), NOW, 10)).toEqual([
      { key: "203.0.113.9", count: 2 },
    ]);
    expect(index.top("namespaces", f, NOW, 10)).toEqual([
      { key: "prod", count: 6 },
      { key: "<none>", count: 1 },
    ]);
  });
});

describe("applyBatch and openIndex", () => {
  it("skips rows already indexed and refuses gaps", () => {
    const entries = scenarioEntries();
    const rows = entries.map((data, i) => rowFromEntry(i, data, hashLeaf(data)));
    expect(index.applyBatch(rows.slice(10), 15)).toBe(0);
    const extra = rowFromEntry(15, entries[0] as Uint8Array, hashLeaf(entries[0] as Uint8Array));
    const gap = rowFromEntry(17, entries[0] as Uint8Array, hashLeaf(entries[0] as Uint8Array));
    expect(() => index.applyBatch([gap], 18)).toThrow(
      expect.objectContaining({
        code: "gap",
        message: expect.stringMatching(/batch starts at entry 17 but the index ends at 15/),
      }),
    );
    // An overlapping batch writes only the new row.
    expect(index.applyBatch([...rows.slice(13), extra], 16)).toBe(1);
    expect(index.position()).toBe(16);
  });

  it("keeps the index across reopen", () => {
    index.close();
    const reopened = openIndex(dir, { origin: "test.example/log", check: true });
    expect(reopened.rebuilt).toBeUndefined();
    expect(reopened.index.position()).toBe(15);
    index = reopened.index;
  });

  it("gives back the pages of the tables a rebuild drops", () => {
    index.close();
    const pages = (): { free: number } => {
      const db = new Database(join(dir, INDEX_FILE), { readonly: true });
      const free = db.pragma("freelist_count", { simple: true }) as number;
      db.close();
      return { free };
    };
    // Enough rows that the tables span many pages (the scenario alone fits in one page each).
    const more = openIndex(dir, { origin: "test.example/log", rebuild: true }).index;
    const entries = scenarioEntries();
    const rows = Array.from({ length: 5000 }, (_, i) => {
      const data = entries[i % entries.length]!;
      return rowFromEntry(i, data, hashLeaf(data));
    });
    more.applyBatch(rows, rows.length);
    more.close();
    expect(pages().free).toBe(0);
    const r = openIndex(dir, { origin: "test.example/log", rebuild: true });
    expect(r.rebuilt).toBe("requested");
    r.index.close();
    // Each table and index keeps one page of its own; without the VACUUM the dropped ones' pages
    // would all be free pages, and the file would keep its size.
    expect(pages()).toMatchObject({ free: 0 });
  });

  it("rebuilds an index of another origin, another schema version or a corrupt file", () => {
    index.close();
    let r = openIndex(dir, { origin: "other.example/log" });
    expect(r.rebuilt).toMatch(/built for origin "test.example\/log"/);
    expect(r.index.position()).toBe(0);
    fill(r.index);
    r.index.close();

    const db = new Database(join(dir, INDEX_FILE));
    db.exec("UPDATE meta SET schema_version = 0");
    db.close();
    r = openIndex(dir, { origin: "other.example/log" });
    expect(r.rebuilt).toBe("schema version 0");
    r.index.close();

    writeFileSync(join(dir, INDEX_FILE), Buffer.alloc(8192, 0x41));
    r = openIndex(dir, { origin: "other.example/log" });
    expect(r.rebuilt).toMatch(/^unreadable/);
    expect(r.index.position()).toBe(0);
    index = r.index;
  });
});

describe("the strings dictionary", () => {
  const count = (ix: string, value: string): number =>
    (
      new Database(join(ix, INDEX_FILE), { readonly: true })
        .prepare("SELECT COUNT(*) AS n FROM strings WHERE value = ?")
        .get(value) as { n: number }
    ).n;
  const event = (auditID: string, user: string) =>
    Buffer.from(
      JSON.stringify({
        auditID,
        stage: "ResponseComplete",
        verb: "get",
        user: { username: user },
        objectRef: { resource: "pods", namespace: "prod", name: "web" },
        requestReceivedTimestamp: "2026-11-21T03:40:00.000000Z",
      }),
    );
  const add = (ix: QueryIndex, i: number, data: Buffer) =>
    ix.applyBatch([rowFromEntry(i, data, hashLeaf(data))], i + 1);
  const users = (ix: QueryIndex, user: string) =>
    ix.search(parseFilter({ user: [user] }), NOW).rows.map((r) => r.idx);

  it("is shared by every connection (as by several processes): each string is stored once", () => {
    const other = openIndex(dir, { origin: "test.example/log" }).index;
    try {
      // mallory was interned by `index` (fill); the other connection finds her id, adds zed.
      add(other, 15, event("m1", "mallory"));
      add(other, 16, event("z1", "zed"));
      expect(count(dir, "mallory")).toBe(1);
      // `index` never saw zed: it looks the new string up and writes with the same id.
      add(index, 17, event("z2", "zed"));
      expect(count(dir, "zed")).toBe(1);
      expect(users(index, "zed")).toEqual([17, 16]);
      expect(users(other, "mallory")).toContain(15);
      // A rebuild by another connection starts a new dictionary: cached ids are dropped.
      other.close();
      const rebuilt = openIndex(dir, { origin: "test.example/log", rebuild: true }).index;
      add(rebuilt, 0, event("y1", "yves"));
      add(index, 1, event("z3", "zed"));
      expect(users(index, "zed")).toEqual([1]);
      expect(users(rebuilt, "yves")).toEqual([0]);
      rebuilt.close();
    } finally {
      other.close();
    }
  });

  describe("after retention dropped rows", () => {
    const withGroups = (auditID: string, user: string, name: string, groups: string[]) => {
      const e = JSON.parse(event(auditID, user).toString()) as Record<string, unknown>;
      e["user"] = { username: user, groups };
      e["objectRef"] = { resource: "pods", namespace: "prod", name };
      return Buffer.from(JSON.stringify(e));
    };
    const groupLists = (ix: string): number =>
      (
        new Database(join(ix, INDEX_FILE), { readonly: true })
          .prepare("SELECT COUNT(*) AS n FROM group_sets WHERE groups LIKE '%team-olga%'")
          .get() as { n: number }
      ).n;

    it("blanks what no row names any more; every connection then gives a name met again a new id", () => {
      const other = openIndex(dir, { origin: "test.example/log" }).index;
      try {
        add(index, 15, withGroups("o1", "olga", "olga-notes", ["team-olga"]));
        add(index, 16, withGroups("o2", "olga", "olga-notes", ["team-olga"]));
        add(index, 17, event("m9", "mallory"));
        // Both connections have olga's id cached.
        expect(users(other, "olga")).toEqual([16, 15]);
        // As serve drops them: its stats are told, so the generation (which empties caches) stays.
        expect(index.dropEntries([15, 16], { readersTold: true })).toBe(2);
        expect(other.forgetUnreferenced()).toEqual({ strings: 2, groupSets: 1 });
        expect(count(dir, "olga")).toBe(0);
        expect(count(dir, "olga-notes")).toBe(0);
        expect(groupLists(dir)).toBe(0);
        // Still named by rows: kept.
        expect(count(dir, "mallory")).toBe(1);
        expect(count(dir, "prod")).toBe(1);
        // Nothing left to blank; the dictionary check still sees no gap.
        expect(index.forgetUnreferenced()).toEqual({ strings: 0, groupSets: 0 });
        expect(openIndex(dir, { origin: "test.example/log", check: true }).rebuilt).toBeUndefined();
        // olga again, written by the connection that cached her old id: a new id, found by both.
        add(index, 18, withGroups("o3", "olga", "olga-notes", ["team-olga"]));
        expect(count(dir, "olga")).toBe(1);
        expect(users(index, "olga")).toEqual([18]);
        expect(users(other, "olga")).toEqual([18]);
        expect(index.search(parseFilter({ group: ["team-olga"] }), NOW).rows.map((r) => r.idx)).toEqual([18]);
        expect(index.rowsAt([18])[0]).toMatchObject({
          user: "olga",
          name: "olga-notes",
          groups: ["team-olga"],
        });
      } finally {
        other.close();
      }
    });

    it("runs only when rows went since it last did; those a crash or a drop meanwhile left, later", () => {
      const mustNotRead = () => {
        throw new Error("read the rows with nothing pending");
      };
      expect(index.forgetUnreferenced({ afterRead: mustNotRead })).toEqual({ strings: 0, groupSets: 0 });
      add(index, 15, event("p1", "pia"));
      add(index, 16, event("q1", "quinn"));
      expect(index.dropEntries([15])).toBe(1);
      // A crash before the blanking: the next opener still knows.
      index.close();
      index = openIndex(dir, { origin: "test.example/log" }).index;
      // quinn's row goes while the rows are being read: read as naming quinn, left for the next run.
      const first = index.forgetUnreferenced({ rowsPerRead: 4, afterRead: () => index.dropEntries([16]) });
      expect(first.strings).toBe(1);
      expect([count(dir, "pia"), count(dir, "quinn")]).toEqual([0, 1]);
      expect(index.forgetUnreferenced().strings).toBe(1);
      expect(count(dir, "quinn")).toBe(0);
      expect(index.forgetUnreferenced({ afterRead: mustNotRead })).toEqual({ strings: 0, groupSets: 0 });
    });

    it("blanks nothing when the index was rebuilt between its read and its write", () => {
      add(index, 15, event("o1", "olga"));
      expect(index.dropEntries([15])).toBe(1);
      const rebuild = () => {
        const rebuilt = openIndex(dir, { origin: "test.example/log", rebuild: true }).index;
        fill(rebuilt);
        // zed takes the id olga had, which the read found unreferenced.
        add(rebuilt, 15, event("z1", "zed"));
        rebuilt.close();
      };
      // The ids read belong to the old dictionary: blanking by them would hit the new one's names.
      expect(index.forgetUnreferenced({ afterRead: rebuild })).toEqual({ strings: 0, groupSets: 0 });
      expect(count(dir, "zed")).toBe(1);
      expect(users(index, "zed")).toEqual([15]);
    });

    it("keeps a string a row written between its read and its write names", () => {
      add(index, 15, event("z1", "zoe"));
      expect(index.dropEntries([15])).toBe(1);
      const other = openIndex(dir, { origin: "test.example/log" }).index;
      try {
        // zoe is unreferenced when the rows are read; then the writer names her again.
        const f = other.forgetUnreferenced({
          rowsPerRead: 4,
          afterRead: () => add(index, 16, event("z2", "zoe")),
        });
        expect(f.strings).toBe(0);
        expect(count(dir, "zoe")).toBe(1);
        expect(users(other, "zoe")).toEqual([16]);
      } finally {
        other.close();
      }
    });

    it("leaves no byte of a blanked name in the file", () => {
      add(index, 15, withGroups("o1", "olga", "olga-notes", ["team-olga"]));
      index.close();
      const before = readFileSync(join(dir, INDEX_FILE));
      expect(before.includes("olga-notes")).toBe(true);
      index = openIndex(dir, { origin: "test.example/log" }).index;
      expect(index.dropEntries([15])).toBe(1);
      expect(index.forgetUnreferenced().strings).toBe(2);
      index.close();
      // The last connection closed: SQLite checkpointed and removed its write-ahead log.
      expect(existsSync(join(dir, `${INDEX_FILE}-wal`))).toBe(false);
      const after = readFileSync(join(dir, INDEX_FILE));
      for (const value of ["olga-notes", "team-olga", "olga"]) expect(after.includes(value)).toBe(false);
      expect(after.includes("mallory")).toBe(true);
      index = openIndex(dir, { origin: "test.example/log" }).index;
    });
  });

  it("a missing dictionary row is damage: found by the check (rebuilt) or by a query (corrupt)", () => {
    const db = new Database(join(dir, INDEX_FILE));
    const alice = (db.prepare("SELECT id FROM strings WHERE value = 'alice'").get() as { id: number }).id;
    db.prepare("DELETE FROM strings WHERE id = ?").run(alice);
    db.close();
    // This connection has alice cached from indexing; a fresh one must read the dictionary.
    index.close();
    // Opening looks no further than the schema; the check (serve's on start, in a worker) does.
    index = openIndex(dir, { origin: "test.example/log" }).index;
    index.close();
    const fresh = openIndex(dir, { origin: "test.example/log", check: true });
    index = fresh.index;
    expect(fresh.rebuilt).toMatch(/^dictionary: \d+ strings but ids up to \d+$/);
    expect(index.position()).toBe(0);
    fill(index);
    // The newest id is not followed by another, so no gap shows: a query meets the hole.
    const db2 = new Database(join(dir, INDEX_FILE));
    const top = (db2.prepare("SELECT MAX(id) AS id FROM strings").get() as { id: number }).id;
    db2.prepare("DELETE FROM strings WHERE id = ?").run(top);
    db2.close();
    index.close();
    index = openIndex(dir, { origin: "test.example/log" }).index;
    expect(() =>
      index.search(parseFilter({ limit: ["100"], stage: ["RequestReceived", "ResponseComplete"] }), NOW),
    ).toThrow(
      expect.objectContaining({
        code: "corrupt",
        message: expect.stringContaining("missing from the dictionary"),
      }),
    );
  });
});

describe("opening a missing index from several processes at once", () => {
  it("never fails with 'database is locked'", async () => {
    const raceDir = mkdtempSync(join(tmpdir(), "kubetrail-index-race-"));
    const children = Array.from({ length: 6 }, () =>
      fork(fileURLToPath(new URL("../../test/fixtures/open-index-child.ts", import.meta.url)), {
        execArgv: [...TS_SOURCE_EXEC_ARGV],
      }),
    );
    const errors: string[] = [];
    try {
      for (let round = 1; round <= 60; round++) {
        for (const suffix of ["", "-wal", "-shm"])
          rmSync(join(raceDir, INDEX_FILE + suffix), { force: true });
        await Promise.all(
          children.map(
            (child) =>
              new Promise<void>((resolve, reject) => {
                child.once("error", reject);
                child.once("message", (m: { round: number; error?: string }) => {
                  if (m.error !== undefined) errors.push(`round ${m.round}: ${m.error}`);
                  resolve();
                });
                child.send({ dir: raceDir, round });
              }),
          ),
        );
      }
    } finally {
      for (const child of children) child.disconnect();
      rmSync(raceDir, { recursive: true, force: true });
    }
    expect(errors).toEqual([]);
  }, 120_000);
});

describe("QueryIndex.dropBelow", () => {
  it("deletes the rows of pruned entries, keeps the rest and the position, and shrinks a new file", () => {
    // A larger index than the scenario's, so the deletes free whole pages.
    const big = openIndex(join(dir, "big"), { origin: "test.example/big" }).index;
    try {
      const entries = scenarioEntries();
      const rows = Array.from({ length: 30_000 }, (_, i) => {
        const data = entries[i % entries.length]!;
        return rowFromEntry(i, data, hashLeaf(data));
      });
      big.applyBatch(rows, rows.length);
      big.checkpointsItself(true);
      const db = new Database(join(dir, "big", INDEX_FILE), { readonly: true });
      const pages = () => db.pragma("page_count", { simple: true }) as number;
      try {
        expect(db.pragma("auto_vacuum", { simple: true })).toBe(2);
        const before = pages();
        expect(big.dropBelow(20_000, { rowsPerStep: 7_000 })).toBe(20_000);
        expect(big.position()).toBe(30_000);
        const left = db.prepare("SELECT MIN(idx) AS lo, COUNT(*) AS n FROM entries").get();
        expect(left).toEqual({ lo: 20_000, n: 10_000 });
        expect(pages()).toBeLessThan(before * 0.6);
        // Queries see only what is left; a second drop finds nothing.
        const all = big.search(
          parseFilter({
            stage: ["RequestReceived", "ResponseComplete", "ResponseStarted", "Panic"],
            limit: ["100000"],
          }),
          NOW,
        );
        expect(all.rows.every((r) => r.idx >= 20_000)).toBe(true);
        expect(big.dropBelow(20_000)).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      big.close();
    }
  });

  it("leaves an older file's freed pages in it, for new rows", () => {
    // Files made before auto_vacuum was set have NONE; reopening does not change that.
    index.close();
    const file = join(dir, INDEX_FILE);
    const raw = new Database(file);
    raw.pragma("auto_vacuum = 0");
    raw.exec("VACUUM");
    raw.close();
    index = openIndex(dir, { origin: "test.example/log" }).index;
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma("auto_vacuum", { simple: true })).toBe(0);
      const pages = db.pragma("page_count", { simple: true });
      expect(index.dropBelow(5)).toBe(5);
      expect(
        index.search(parseFilter({ limit: ["1000"], asc: ["true"] }), NOW).rows[0]!.idx,
      ).toBeGreaterThanOrEqual(5);
      expect(db.pragma("page_count", { simple: true })).toBe(pages);
    } finally {
      db.close();
    }
  });
});
