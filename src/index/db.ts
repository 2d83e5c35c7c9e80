// DATA/index.db: the SQLite query index. Derived data: a missing, corrupt, foreign or
// outdated index is deleted and recreated empty, and the indexer refills it from the log.
import { randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Stage } from "../audit/types.js";
import { IndexError } from "./errors.js";
import { compileSearch, compileWhere, type Cursor, type EventFilter } from "./query.js";
import { ADMISSION_DECISION, STAGE_RANK, type IndexRow } from "./row.js";
import { SCHEMA_SQL, SCHEMA_VERSION } from "./schema.js";

export const INDEX_FILE = "index.db";

export interface OpenIndexOptions {
  /** The log's origin line; an index built for another origin is rebuilt. */
  origin?: string;
  /** Run PRAGMA quick_check (reads the whole file: do it once per process start, not per query). */
  check?: boolean;
  /** Delete and recreate even if the index looks fine (`kubetrail reindex`). */
  rebuild?: boolean;
}

export interface SearchResult {
  rows: IndexRow[];
  /** Where the next page starts; absent on the last page. */
  next?: Cursor;
}

export type TopDimension = "users" | "verbs" | "resources" | "namespaces" | "sources" | "groups" | "codes";
export const TOP_DIMENSIONS: readonly TopDimension[] = [
  "users",
  "verbs",
  "resources",
  "namespaces",
  "sources",
  "groups",
  "codes",
];

export interface TopCount {
  key: string;
  count: number;
}

interface DbRow {
  idx: number;
  leaf_hash: Buffer;
  kind: string;
  time_us: number;
  time: string | null;
  stage_time: string | null;
  user: string | null;
  uid: string | null;
  groups: string | null;
  source_ip: string | null;
  imp_user: string | null;
  imp_groups: string | null;
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  api_group: string | null;
  api_version: string | null;
  code: number | null;
  source_ips: string | null;
  user_agent: string | null;
  decision: string | null;
  reason: string | null;
  audit_id: string | null;
  stage: string | null;
  level: string | null;
  request_uri: string | null;
  has_body: number;
  entry_length: number;
}

const COLUMNS =
  "e.idx, e.leaf_hash, e.kind, e.time_us, e.time, e.stage_time, e.user, e.uid, gs.groups, e.imp_user, " +
  "e.imp_groups, e.verb, e.resource, e.subresource, e.namespace, e.name, e.api_group, e.api_version, " +
  "e.code, e.source_ip, e.source_ips, e.user_agent, e.decision, e.reason, e.audit_id, e.stage, e.level, " +
  "e.request_uri, e.has_body, e.entry_length";

function list(json: string | null): string[] {
  return json === null ? [] : (JSON.parse(json) as string[]);
}

function fromDb(r: DbRow): IndexRow {
  return {
    idx: r.idx,
    leafHash: new Uint8Array(r.leaf_hash),
    kind: r.kind,
    timeUs: r.time_us,
    time: r.time,
    stageTime: r.stage_time,
    user: r.user,
    uid: r.uid,
    groups: list(r.groups),
    impersonatedUser: r.imp_user,
    impersonatedGroups: list(r.imp_groups),
    verb: r.verb,
    resource: r.resource,
    subresource: r.subresource,
    namespace: r.namespace,
    name: r.name,
    apiGroup: r.api_group,
    apiVersion: r.api_version,
    code: r.code,
    sourceIPs: r.source_ips !== null ? list(r.source_ips) : r.source_ip !== null ? [r.source_ip] : [],
    userAgent: r.user_agent,
    decision: r.decision,
    reason: r.reason,
    auditID: r.audit_id,
    stage: r.stage as Stage | null,
    level: r.level,
    requestURI: r.request_uri,
    hasRequestObject: r.has_body === 1,
    length: r.entry_length,
  };
}

function listOrNull(values: string[]): string | null {
  return values.length === 0 ? null : JSON.stringify(values);
}

/** SQLite's verdict that the file is damaged or not a database at all. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB";
}

const TOP_KEY: Record<TopDimension, string> = {
  users: "e.user",
  verbs: "e.verb",
  // resource[/subresource][.group] in the same spelling --resource accepts.
  resources:
    "e.resource || CASE WHEN e.api_group IS NULL OR e.api_group = '' THEN '' ELSE '.' || e.api_group END" +
    " || CASE WHEN e.subresource IS NULL THEN '' ELSE '/' || e.subresource END",
  namespaces: "e.namespace",
  sources: "e.source_ip",
  groups: "m.grp",
  codes: "e.code",
};
const TOP_JOIN: Partial<Record<TopDimension, string>> = {
  groups: "JOIN group_members m ON m.set_id = e.group_set",
};

/** An open index. One process may write at a time (SQLite locking); any number may read. */
export class QueryIndex {
  private readonly stmts;
  /** Group list (JSON) → group_sets.id, valid for one generation of the index. */
  private readonly groupSets = new Map<string, number>();
  private generation: string | undefined;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.stmts = {
      position: db.prepare<[], { position: number; origin: string }>("SELECT position, origin FROM meta"),
      setPosition: db.prepare<[number]>("UPDATE meta SET position = ?"),
      finalOf: db.prepare<[string], { idx: number; stage_rank: number }>(
        "SELECT idx, stage_rank FROM entries WHERE audit_id = ? AND final = 1",
      ),
      unfinal: db.prepare<[number]>("UPDATE entries SET final = 0 WHERE idx = ?"),
      insert: db.prepare(
        "INSERT INTO entries (idx, leaf_hash, kind, time_us, time, stage_time, user, uid, group_set, imp_user, " +
          "imp_groups, verb, resource, subresource, namespace, name, api_group, api_version, code, source_ip, source_ips, " +
          "user_agent, decision, reason, audit_id, stage, stage_rank, final, level, request_uri, has_body, " +
          "entry_length) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      generation: db.prepare<[], { generation: string }>("SELECT generation FROM meta"),
      groupSet: db.prepare<[string], { id: number }>("SELECT id FROM group_sets WHERE groups = ?"),
      addGroupSet: db.prepare<[string]>("INSERT INTO group_sets (groups) VALUES (?)"),
      addMember: db.prepare<[string, number | bigint]>(
        "INSERT OR IGNORE INTO group_members (grp, set_id) VALUES (?, ?)",
      ),
    };
  }

  /** Number of log entries covered: rows exist for exactly the entries [0, position). */
  position(): number {
    return this.row().position;
  }

  origin(): string {
    return this.row().origin;
  }

  private row(): { position: number; origin: string } {
    const r = this.stmts.position.get();
    if (r === undefined) throw new IndexError("corrupt", `${this.path}: meta row missing`);
    return r;
  }

  /**
   * Adds the rows of entries [first row's index, newPosition) and moves the position, in one
   * transaction. Rows another process already indexed are skipped, so concurrent indexers
   * never double-index; returns how many rows were written. Throws IndexError("corrupt") when
   * the rows would leave a gap after the current position.
   */
  applyBatch(rows: readonly IndexRow[], newPosition: number): number {
    const tx = this.db.transaction((): number => {
      const generation = this.stmts.generation.get()?.generation;
      if (generation !== this.generation) {
        this.groupSets.clear();
        this.generation = generation;
      }
      const position = this.position();
      if (position >= newPosition) return 0;
      const first = rows[0]?.idx ?? newPosition;
      if (first > position) {
        throw new IndexError(
          "corrupt",
          `${this.path}: batch starts at entry ${first} but the index ends at ${position}`,
        );
      }
      const fresh = rows.filter((r) => r.idx >= position);
      const finals = this.finalRows(fresh);
      // An admission decision is the one row of its review: queried by default beside events.
      for (const r of fresh) this.insertRow(r, finals.has(r) || r.kind === ADMISSION_DECISION);
      this.stmts.setPosition.run(newPosition);
      return fresh.length;
    });
    return tx.immediate();
  }

  /** The id of this group list, adding it on first sight (inside the caller's transaction). */
  private groupSetId(groups: readonly string[]): number | null {
    if (groups.length === 0) return null;
    const key = JSON.stringify(groups);
    let id = this.groupSets.get(key);
    if (id === undefined) {
      id = this.stmts.groupSet.get(key)?.id;
      if (id === undefined) {
        id = Number(this.stmts.addGroupSet.run(key).lastInsertRowid);
        for (const g of new Set(groups)) this.stmts.addMember.run(g, id);
      }
      this.groupSets.set(key, id);
    }
    return id;
  }

  /**
   * Which rows of a batch are the furthest stage of their request. Settled in memory first (a
   * request's stages usually land in the same batch), so superseded rows are inserted with
   * final = 0 and never enter the partial indexes; only the winner of each auditID is compared
   * with an earlier batch's row, which is demoted when superseded. Equal ranks (a conflicting
   * duplicate) keep the first.
   */
  private finalRows(rows: readonly IndexRow[]): Set<IndexRow> {
    const best = new Map<string, IndexRow>();
    for (const r of rows) {
      if (r.stage === null || r.auditID === null) continue;
      const b = best.get(r.auditID);
      if (b === undefined || STAGE_RANK[r.stage] > STAGE_RANK[b.stage as Stage]) best.set(r.auditID, r);
    }
    const finals = new Set<IndexRow>();
    for (const [auditID, r] of best) {
      const prev = this.stmts.finalOf.get(auditID);
      if (prev !== undefined && prev.stage_rank >= STAGE_RANK[r.stage as Stage]) continue;
      if (prev !== undefined) this.stmts.unfinal.run(prev.idx);
      finals.add(r);
    }
    return finals;
  }

  private insertRow(r: IndexRow, isFinal: boolean): void {
    const rank = r.stage === null ? null : STAGE_RANK[r.stage];
    const final = isFinal ? 1 : 0;
    this.stmts.insert.run(
      r.idx,
      Buffer.from(r.leafHash),
      r.kind,
      r.timeUs,
      r.time,
      r.stageTime,
      r.user,
      r.uid,
      this.groupSetId(r.groups),
      r.impersonatedUser,
      listOrNull(r.impersonatedGroups),
      r.verb,
      r.resource,
      r.subresource,
      r.namespace,
      r.name,
      r.apiGroup,
      r.apiVersion,
      r.code,
      r.sourceIPs[0] ?? null,
      r.sourceIPs.length > 1 ? JSON.stringify(r.sourceIPs) : null,
      r.userAgent,
      r.decision,
      r.reason,
      r.auditID,
      r.stage,
      rank,
      final,
      r.level,
      r.requestURI,
      r.hasRequestObject ? 1 : 0,
      r.length,
    );
  }

  /** Rows matching the filter in its order, at most filter.limit, with the cursor of the next page. */
  search(filter: EventFilter, nowUs: number): SearchResult {
    const q = compileSearch(filter, nowUs, COLUMNS, "LEFT JOIN group_sets gs ON gs.id = e.group_set");
    const rows = this.db
      .prepare<(string | number)[], DbRow>(q.sql)
      .all(...q.params)
      .map(fromDb);
    if (rows.length <= filter.limit) return { rows };
    rows.length = filter.limit;
    const last = rows[rows.length - 1] as IndexRow;
    const next: Cursor = { timeUs: last.timeUs, idx: last.idx };
    if (filter.logSize !== undefined) next.size = filter.logSize;
    return { rows, next };
  }

  /**
   * The namespaces events were recorded in (one request's final row each), sorted. A loose
   * index scan over (resource, namespace): one seek per distinct pair, not one row per event.
   */
  namespaces(): string[] {
    const firstResource = this.db.prepare<[], { r: string | null }>(
      "SELECT MIN(resource) AS r FROM entries WHERE final = 1 AND resource IS NOT NULL",
    );
    const nextResource = this.db.prepare<[string], { r: string | null }>(
      "SELECT MIN(resource) AS r FROM entries WHERE final = 1 AND resource > ?",
    );
    const nextNamespace = this.db.prepare<[string, string], { n: string | null }>(
      "SELECT MIN(namespace) AS n FROM entries WHERE final = 1 AND resource = ? AND namespace > ?",
    );
    const found = new Set<string>();
    for (let r = firstResource.get()?.r ?? null; r !== null; r = nextResource.get(r)?.r ?? null) {
      for (let n = nextNamespace.get(r, "")?.n ?? null; n !== null; n = nextNamespace.get(r, n)?.n ?? null) {
        found.add(n);
      }
    }
    return [...found].sort();
  }

  /** The rows of these log indexes, in the order given (indexes without a row are left out). */
  rowsAt(idxs: readonly number[]): IndexRow[] {
    if (idxs.length === 0) return [];
    const found = new Map<number, IndexRow>();
    for (let i = 0; i < idxs.length; i += 500) {
      const chunk = idxs.slice(i, i + 500);
      const sql =
        `SELECT ${COLUMNS} FROM entries e LEFT JOIN group_sets gs ON gs.id = e.group_set ` +
        `WHERE e.idx IN (${chunk.map(() => "?").join(", ")})`;
      for (const r of this.db.prepare<number[], DbRow>(sql).all(...chunk)) found.set(r.idx, fromDb(r));
    }
    return idxs.map((i) => found.get(i)).filter((r): r is IndexRow => r !== undefined);
  }

  /**
   * kubetrail's own records of the given kinds (Alert, AdmissionDecision, …), newest first,
   * below `logSize`, continuing after `cursor`; at most `limit`, with the next page's cursor.
   */
  records(
    kinds: readonly string[],
    opts: { limit: number; cursor?: Cursor; logSize?: number },
  ): SearchResult {
    if (kinds.length === 0) return { rows: [] };
    // The literal `kind <> 'Event'` lets SQLite use the partial index entries_records.
    const conds = [`e.kind <> 'Event'`, `e.kind IN (${kinds.map(() => "?").join(", ")})`];
    const params: (string | number)[] = [...kinds];
    if (opts.logSize !== undefined) {
      conds.push("e.idx < ?");
      params.push(opts.logSize);
    }
    if (opts.cursor !== undefined) {
      conds.push("(e.time_us, e.idx) < (?, ?)");
      params.push(opts.cursor.timeUs, opts.cursor.idx);
    }
    const sql =
      `SELECT ${COLUMNS} FROM entries e LEFT JOIN group_sets gs ON gs.id = e.group_set ` +
      `WHERE ${conds.join(" AND ")} ORDER BY e.time_us DESC, e.idx DESC LIMIT ?`;
    const rows = this.db
      .prepare<(string | number)[], DbRow>(sql)
      .all(...params, opts.limit + 1)
      .map(fromDb);
    if (rows.length <= opts.limit) return { rows };
    rows.length = opts.limit;
    const last = rows[rows.length - 1] as IndexRow;
    return { rows, next: { timeUs: last.timeUs, idx: last.idx } };
  }

  /** Counts of requests matching the filter, grouped by one dimension, largest first. */
  top(dimension: TopDimension, filter: EventFilter, nowUs: number, limit: number): TopCount[] {
    const { sql: where, params } = compileWhere(filter, nowUs);
    const key = TOP_KEY[dimension];
    const sql =
      `SELECT ${key} AS key, COUNT(*) AS count FROM entries e ${TOP_JOIN[dimension] ?? ""}` +
      (where === "" ? "" : ` WHERE ${where}`) +
      ` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`;
    return this.db
      .prepare<(string | number)[], { key: string | number | null; count: number }>(sql)
      .all(...params, limit)
      .map((r) => ({ key: r.key === null ? "<none>" : String(r.key), count: r.count }));
  }

  /**
   * Whether this connection checkpoints the write-ahead log itself when a commit makes it long
   * (SQLite's default), or leaves that to another connection (see wal-checkpointer.ts).
   */
  checkpointsItself(on: boolean): void {
    this.db.pragma(`wal_autocheckpoint = ${on ? 1000 : 0}`);
  }

  /** Refreshes planner statistics; worth it after a large batch such as a rebuild. */
  optimize(): void {
    this.db.pragma("optimize");
  }

  close(): void {
    this.db.close();
  }
}

function configure(db: Database.Database): void {
  // Set first: the other pragmas may wait for a lock held by another process.
  db.pragma("busy_timeout = 10000");
  db.pragma("journal_mode = WAL");
  // Derived data: NORMAL keeps the index consistent after a crash (it may lose the newest
  // batches, which the position makes the indexer redo), at a fraction of FULL's fsyncs.
  db.pragma("synchronous = NORMAL");
  // The secondary indexes take inserts all over their B-trees; the default 2 MB page cache
  // would re-read those pages for every batch.
  db.pragma("cache_size = -65536");
  // Planner statistics from a sample: ANALYZE (run by optimize) stays milliseconds at millions of rows.
  db.pragma("analysis_limit = 1000");
}

const DROP_SQL =
  "DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS group_sets; " +
  "DROP TABLE IF EXISTS group_members; DROP TABLE IF EXISTS meta;";

/**
 * Makes the schema current inside one write transaction, so concurrent openers (a query
 * beside `serve`, several queries at once) agree: creates it in an empty file, or drops and
 * recreates it when it is outdated, foreign or a rebuild was asked for. Returns why it
 * (re)created the tables, or undefined when the index was kept.
 */
function ensureSchema(db: Database.Database, origin: string, opts: OpenIndexOptions): string | undefined {
  const tx = db.transaction((): string | undefined => {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    let reason: string | undefined;
    if (hasMeta === undefined) reason = "missing";
    else {
      const meta = db
        .prepare<[], { schema_version: number; origin: string }>(
          "SELECT schema_version, origin FROM meta WHERE id = 1",
        )
        .get();
      if (meta === undefined) reason = "no meta row";
      else if (meta.schema_version !== SCHEMA_VERSION) reason = `schema version ${meta.schema_version}`;
      else if (opts.origin !== undefined && meta.origin !== opts.origin)
        reason = `built for origin "${meta.origin}"`;
      else if (opts.rebuild) reason = "requested";
    }
    if (reason === undefined) return undefined;
    db.exec(DROP_SQL);
    db.exec(SCHEMA_SQL);
    db.prepare(
      "INSERT INTO meta (id, schema_version, generation, origin, position) VALUES (1, ?, ?, ?, 0)",
    ).run(SCHEMA_VERSION, randomUUID(), origin);
    return reason;
  });
  return tx.immediate();
}

/** Synchronous sleep: openIndex is synchronous like the SQLite binding it wraps. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Deletes an index file SQLite cannot read, under a lock file so that two processes never
 * delete each other's fresh index; the file is re-checked once the lock is held.
 */
function deleteUnreadable(path: string): void {
  const lock = `${path}.rebuild-lock`;
  for (let waited = 0; ; waited += 50) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A holder that died leaves the lock behind; deleting takes milliseconds, so 10 s is stale.
      if (waited >= 10_000) rmSync(lock, { force: true });
      sleepSync(50);
    }
  }
  try {
    if (unreadable(path)) {
      // Main file last: nobody creates a fresh index (and its WAL) until the old one is gone.
      for (const suffix of ["-wal", "-shm", "-journal", ""]) rmSync(path + suffix, { force: true });
    }
  } finally {
    rmSync(lock, { force: true });
  }
}

function unreadable(path: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    return db.pragma("quick_check", { simple: true }) !== "ok";
  } catch (err) {
    return isCorruption(err);
  } finally {
    db?.close();
  }
}

function tryOpen(
  path: string,
  origin: string,
  opts: OpenIndexOptions,
): { db: Database.Database; rebuilt?: string } {
  const db = new Database(path);
  try {
    configure(db);
    const rebuilt = ensureSchema(db, origin, opts);
    if (opts.check && rebuilt === undefined) {
      const result = db.pragma("quick_check", { simple: true });
      if (result !== "ok") {
        ensureSchema(db, origin, { ...opts, rebuild: true });
        return { db, rebuilt: `quick_check: ${String(result)}` };
      }
    }
    return rebuilt === undefined ? { db } : { db, rebuilt };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens DATA/index.db, creating it when missing and recreating it when it is unreadable,
 * corrupt, of another schema version or built for another log origin. `rebuilt` says why
 * it was (re)created, if it was; the caller then refills it from the log.
 */
export function openIndex(
  dataDir: string,
  opts: OpenIndexOptions = {},
): { index: QueryIndex; rebuilt?: string } {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, INDEX_FILE);
  const origin = opts.origin ?? "";
  let opened: { db: Database.Database; rebuilt?: string };
  try {
    opened = tryOpen(path, origin, opts);
  } catch (err) {
    if (!isCorruption(err)) throw err;
    deleteUnreadable(path);
    opened = tryOpen(path, origin, opts);
    opened.rebuilt = `unreadable (${(err as Error).message})`;
  }
  const index = new QueryIndex(opened.db, path);
  return opened.rebuilt === undefined ? { index } : { index, rebuilt: opened.rebuilt };
}
