// The in-memory stats must count exactly what the SQLite index finds for the same filter (the
// list below the histogram comes from SQLite): checked on generated events for random filters,
// including the requests that move from one stage to the next while the stats follow the index,
// and an index whose rows retention deleted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEventLines } from "../../../bench/gen/events.js";
import { makeRng } from "../../../bench/gen/rng.js";
import { openLogIn } from "../../../test/fixtures/memory-log.js";
import type { AuditLog } from "../../store/types.js";
import { TOP_DIMENSIONS, type QueryIndex, type TopDimension } from "../db.js";
import { startIndexer, type Indexer } from "../indexer.js";
import { parseFilter, type EventFilter } from "../query.js";
import { FACETS, type Facet } from "./aggregate.js";
import { Columns } from "./columns.js";
import { EventStats, StatsLoadingError } from "./event-stats.js";
import { StatsSource } from "./source.js";

const SEED = 2601;
const COUNT = 6000;
const NOW_US = Date.UTC(2026, 10, 21, 0, 0, 10) * 1000;

let dir: string;
let log: AuditLog;
let indexer: Indexer;
let lines: string[];

beforeAll(async () => {
  console.log(`stats test seed ${SEED}`);
  dir = mkdtempSync(join(tmpdir(), "kubetrail-stats-"));
  log = await openLogIn(dir, { origin: "stats.test/log", integrateIntervalMs: 20 });
  lines = [...generateEventLines({ seed: SEED, count: COUNT })];
  // Half now, half after the stats have loaded: later stages then supersede loaded rows.
  await log.append(lines.slice(0, COUNT / 2).map((l) => new TextEncoder().encode(l)));
  await log.waitIntegrated(COUNT / 2);
  indexer = startIndexer(log, dir);
  await indexer.caughtUp();
});

afterAll(async () => {
  await indexer.stop();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

const FACET_TOP: Record<Facet, TopDimension> = {
  users: "users",
  verbs: "verbs",
  resources: "resources",
  namespaces: "namespaces",
  codes: "codes",
};
const FACET_FILTER: Record<Facet, keyof EventFilter> = {
  users: "users",
  verbs: "verbs",
  resources: "resources",
  namespaces: "namespaces",
  codes: "codes",
};

function sqlTotal(index: QueryIndex, filter: EventFilter): number {
  return index.top("verbs", filter, NOW_US, 100_000).reduce((n, t) => n + t.count, 0);
}

/** Filters built from values that occur in the data (and some that do not), seeded. */
function randomFilters(index: QueryIndex, n: number): Record<string, string[]>[] {
  const rng = makeRng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)] as T;
  const values = Object.fromEntries(
    TOP_DIMENSIONS.map((d) => [d, index.top(d, parseFilter({}), NOW_US, 50).map((t) => t.key)]),
  ) as Record<TopDimension, string[]>;
  const out: Record<string, string[]>[] = [{}];
  for (let i = 0; i < n; i++) {
    const raw: Record<string, string[]> = {};
    if (rng.next() < 0.4)
      raw["user"] = [pick(values.users), ...(rng.next() < 0.3 ? [pick(values.users)] : [])];
    if (rng.next() < 0.4) raw["verb"] = [pick(values.verbs)];
    if (rng.next() < 0.3) raw["resource"] = [pick(values.resources.filter((r) => r !== "<none>"))];
    if (rng.next() < 0.2) raw["resource"] = [`${pick(["pods", "secrets", "configmaps"])}/*`];
    if (rng.next() < 0.3) raw["namespace"] = [pick(values.namespaces.filter((v) => v !== "<none>"))];
    if (rng.next() < 0.3) raw["code"] = [pick(["2xx", "403", "404", "4xx", "5xx", "201"])];
    if (rng.next() < 0.2) raw["group"] = [pick(values.groups.filter((v) => v !== "<none>"))];
    if (rng.next() < 0.1) raw["source-ip"] = [pick(values.sources.filter((v) => v !== "<none>"))];
    if (rng.next() < 0.1) raw["decision"] = [pick(["allow", "forbid"])];
    if (rng.next() < 0.1) raw["stage"] = [pick(["RequestReceived", "ResponseComplete", "ResponseStarted"])];
    if (rng.next() < 0.2) raw["since"] = [pick(["3s", "6s", "1h"])];
    if (rng.next() < 0.05) raw["user"] = ["nobody-at-all"];
    // What authorization sets for a namespace-limited reader (never a URL parameter).
    if (rng.next() < 0.25)
      raw[ALLOWED] = Array.from({ length: Math.floor(rng.next() * 4) }, () =>
        pick([...values.namespaces.filter((v) => v !== "<none>"), "no-such-namespace"]),
      );
    out.push(raw);
  }
  return out;
}

/** The key randomFilters uses for EventFilter.allowedNamespaces. */
const ALLOWED = "(allowed namespaces)";

function toFilter(raw: Record<string, string[]>): EventFilter {
  const { [ALLOWED]: allowed, ...rest } = raw;
  const filter = parseFilter(rest);
  if (allowed !== undefined) filter.allowedNamespaces = allowed;
  return filter;
}

function compare(stats: EventStats, index: QueryIndex, raw: Record<string, string[]>): void {
  const filter = toFilter(raw);
  const got = stats.query(filter, { nowUs: NOW_US, buckets: 60, top: 1000 });
  const where = JSON.stringify(raw);
  expect(got.total, `total for ${where}`).toBe(sqlTotal(index, filter));
  expect(
    got.histogram.counts.reduce((a, b) => a + b, 0),
    `histogram for ${where}`,
  ).toBe(got.total);
  for (const facet of FACETS) {
    // Disjunctive: the facet's own condition is left out of its counts.
    const without = { ...filter, [FACET_FILTER[facet]]: [] } as EventFilter;
    const want = index
      .top(FACET_TOP[facet], without, NOW_US, 1000)
      .map((t) => ({ key: t.key === "<none>" ? null : t.key, count: t.count }))
      .sort((a, b) => b.count - a.count || ((a.key ?? "") < (b.key ?? "") ? -1 : 1));
    expect(got.facets[facet], `${facet} for ${where}`).toEqual(want);
  }
}

/** Every page of the filter from the columns equals the page SQLite's search gives, cursor by cursor. */
function comparePages(stats: EventStats, index: QueryIndex, raw: Record<string, string[]>): void {
  const where = JSON.stringify(raw);
  let cursor: EventFilter["cursor"];
  for (let page = 0; page < 4; page++) {
    const filter = toFilter({ ...raw, limit: ["37"] });
    if (cursor !== undefined) filter.cursor = cursor;
    const mine = stats.page(filter, NOW_US);
    const sql = index.search(filter, NOW_US);
    expect(mine?.idxs, `page ${page} of ${where}`).toEqual(sql.rows.map((r) => r.idx));
    expect(mine?.next, `cursor after page ${page} of ${where}`).toEqual(sql.next);
    if (sql.next === undefined) return;
    cursor = sql.next;
  }
}

describe("in-memory stats", () => {
  it("refuses to answer until loaded, then counts as SQLite does for random filters", async () => {
    const stats = new EventStats(new StatsSource(dir));
    expect(() => stats.query(parseFilter({}), { nowUs: NOW_US, buckets: 10, top: 5 })).toThrow(
      StatsLoadingError,
    );
    await stats.refresh();
    for (const raw of randomFilters(indexer.index, 60)) compare(stats, indexer.index, raw);

    // The rest of the log: requests whose first stage was loaded now complete.
    await log.append(lines.slice(COUNT / 2).map((l) => new TextEncoder().encode(l)));
    await log.waitIntegrated(COUNT);
    await indexer.caughtUp();
    await stats.refresh();
    expect(stats.progress()).toEqual({ loaded: COUNT, total: COUNT, ready: true });
    for (const raw of randomFilters(indexer.index, 60)) {
      compare(stats, indexer.index, raw);
      comparePages(stats, indexer.index, raw);
    }
    // Ascending order is left to SQLite.
    expect(stats.page(parseFilter({ asc: ["true"] }), NOW_US)).toBeUndefined();

    // serve replaces a damaged index.db by a new file and refills it: the stats follow the new one.
    await indexer.rebuild("test: a damaged index");
    const more = [...generateEventLines({ seed: SEED + 1, count: 500 })];
    await log.append(more.map((l) => new TextEncoder().encode(l)));
    await log.waitIntegrated(COUNT + 500);
    await indexer.caughtUp();
    await stats.refresh();
    expect(stats.progress()).toEqual({ loaded: COUNT + 500, total: COUNT + 500, ready: true });
    for (const raw of randomFilters(indexer.index, 10)) compare(stats, indexer.index, raw);
    stats.close();
  });

  it("drops the oldest rows beyond its bound and says what the counts cover", async () => {
    const stats = new EventStats(new StatsSource(dir), 1000);
    await stats.refresh();
    const all = stats.query(parseFilter({}), { nowUs: NOW_US, buckets: 60, top: 5 });
    expect(all.fromIndex).toBeGreaterThan(0);
    expect(all.toIndex).toBe(COUNT + 500);
    expect(all.complete).toBe(false);
    expect(all.coveredSinceUs).toBeGreaterThan(0);
    // A window after the dropped rows is complete, and counted as SQLite counts it.
    const recent = parseFilter({
      from: [new Date((all.coveredSinceUs as number) / 1000 + 1000).toISOString()],
    });
    const got = stats.query(recent, { nowUs: NOW_US, buckets: 60, top: 5 });
    expect(got.complete).toBe(true);
    expect(got.total).toBe(sqlTotal(indexer.index, recent));
    expect(stats.page(parseFilter({}), NOW_US)).toBeUndefined();
    comparePages(stats, indexer.index, {
      from: recent.fromUs === undefined ? [] : [new Date(recent.fromUs / 1000).toISOString()],
    });
    stats.close();
  });
});

describe("in-memory stats after retention", () => {
  it("follows, and loads afresh, an index whose head was pruned and rows thinned, counting as SQLite does", async () => {
    const following = new EventStats(new StatsSource(dir));
    await following.refresh();
    const rng = makeRng(SEED + 2);
    const thinned = [...new Set(Array.from({ length: 400 }, () => 1000 + Math.floor(rng.next() * 5000)))];
    // The log's last entries too, so a batch's end has no row.
    thinned.push(COUNT + 498, COUNT + 499);
    expect(indexer.index.dropBelow(1000)).toBe(1000);
    expect(indexer.index.dropEntries(thinned)).toBe(thinned.length);
    // The stats of a running serve see the deletions at their next refresh; a new serve's load them.
    await following.refresh();
    const fresh = new EventStats(new StatsSource(dir));
    await fresh.refresh();
    for (const stats of [following, fresh]) {
      expect(stats.progress()).toEqual({ loaded: COUNT + 500, total: COUNT + 500, ready: true });
      for (const raw of randomFilters(indexer.index, 30)) {
        compare(stats, indexer.index, raw);
        comparePages(stats, indexer.index, raw);
      }
      stats.close();
    }
  });
});

describe("in-memory stats told of the rows serve's indexer drops", () => {
  it("forgets them without loading again, counting as SQLite does", async () => {
    const told = new EventStats(new StatsSource(dir));
    const untold = new EventStats(new StatsSource(dir));
    await told.refresh();
    await untold.refresh();
    const generation = new StatsSource(dir).meta()?.generation;
    const off = indexer.onDropped((rows) => told.forget(rows));
    try {
      const rng = makeRng(SEED + 3);
      const thinned = [...new Set(Array.from({ length: 300 }, () => 1500 + Math.floor(rng.next() * 4500)))];
      // Some were thinned by the test above already.
      expect(await indexer.dropRows({ indexes: thinned })).toBeGreaterThan(thinned.length / 2);
      expect(await indexer.dropRows({ before: 1500 })).toBeGreaterThan(0);
    } finally {
      off();
    }
    // No new generation: the stats keep their rows, and a refresh does not start over.
    expect(new StatsSource(dir).meta()?.generation).toBe(generation);
    await told.refresh();
    await untold.refresh();
    expect(told.progress()).toEqual({ loaded: COUNT + 500, total: COUNT + 500, ready: true });
    for (const raw of randomFilters(indexer.index, 30)) {
      compare(told, indexer.index, raw);
      comparePages(told, indexer.index, raw);
    }
    // Once the index blanks the names no row holds, the told stats drop them from memory too,
    // and still count as SQLite does.
    const held = (stats: EventStats) => (stats as unknown as { columns: Columns }).columns.names.size;
    const before = held(told);
    expect(indexer.index.forgetUnreferenced().strings).toBeGreaterThan(0);
    await told.refresh();
    expect(held(told)).toBeLessThan(before);
    for (const raw of randomFilters(indexer.index, 30)) compare(told, indexer.index, raw);
    // Stats not told keep counting what is gone.
    const all = parseFilter({});
    const opts = { nowUs: NOW_US, buckets: 60, top: 5 };
    expect(untold.query(all, opts).total).toBeGreaterThan(told.query(all, opts).total);
    told.close();
    untold.close();
  });
});

describe("columns", () => {
  const row = (idx: number, user: string, name: string | null = null) => ({
    idx,
    timeUs: 1000 + idx,
    user,
    groupSet: null,
    verb: "get",
    resource: "pods",
    apiGroup: "",
    subresource: null,
    namespace: "ns",
    name,
    code: 200,
    sourceIP: "10.0.0.1",
    decision: "allow",
    stageRank: 3,
    final: true,
  });

  it("re-codes dictionaries when dropping rows, keeping the values of the rows left", () => {
    const c = new Columns(4);
    for (let i = 0; i < 6; i++) c.push(row(i, `u${i}`));
    expect(c.base).toBe(2);
    expect(c.users.values).toEqual(["u2", "u3", "u4", "u5"]);
    expect(Array.from(c.user.subarray(0, c.length))).toEqual([0, 1, 2, 3]);
    expect(() => c.push(row(9, "x"))).toThrow(/expected entry 6, got 9/);
  });

  it("drops the names only forgotten rows had once asked to, keeping the others' values", () => {
    const c = new Columns(16);
    c.push(row(0, "olga", "olga-notes"));
    c.push(row(1, "bob", "web"));
    c.push(row(2, "olga", "olga-notes"));
    c.push(row(3, "carol", "web"));
    c.forget(0);
    c.forget(2);
    c.forgetUnusedNames();
    expect(c.users.values).toEqual(["bob", "carol"]);
    expect(c.names.values).toEqual(["web"]);
    expect([1, 3].map((i) => c.users.values[c.user[i] as number])).toEqual(["bob", "carol"]);
    expect(c.sources.values).toEqual(["10.0.0.1"]);
  });
});
