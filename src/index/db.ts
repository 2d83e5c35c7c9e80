// DATA/index.db: the SQLite query index. Derived data: a missing, corrupt, foreign or
// outdated index is deleted and recreated empty, and the indexer refills it from the log.
import { randomUUID } from "node:crypto";
import { closeSync, mkdirSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Stage } from "../audit/types.js";
import { IndexError } from "./errors.js";
import { forgetUnreferenced, type ForgetOptions, type Forgotten } from "./forget-strings.js";
import { resourceLabel } from "./present.js";
import {
  compileSearch,
  compileWhere,
  type Cursor,
  type EventFilter,
  type IndexKeys,
  type SqlParam,
} from "./query.js";
import { auditKey } from "./audit-key.js";
import { ADMISSION_DECISION, LEVELS, levelCode, STAGE_OF_RANK, STAGE_RANK, type IndexRow } from "./row.js";
import { dictionaryProblem, LEAF_PREFIX, SCHEMA_SQL, SCHEMA_VERSION } from "./schema.js";
import { microsToRfc3339 } from "./time.js";

const EVENT_KIND = "Event";

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
  leaf: Buffer;
  kind: number | null;
  time_us: number;
  user: number | null;
  groups: string | null;
  imp_user: number | null;
  verb: number | null;
  resource: number | null;
  subresource: number | null;
  namespace: number | null;
  name: number | null;
  api_group: number | null;
  code: number | null;
  source_ip: number | null;
  decision: number | null;
  stage_rank: number | null;
  level: number | null;
}

const COLUMNS =
  "e.idx, e.leaf, e.kind, e.time_us, e.user, gs.groups, e.imp_user, e.verb, e.resource, e.subresource, " +
  "e.namespace, e.name, e.api_group, e.code, e.source_ip, e.decision, e.stage_rank, e.level";
const GROUPS_JOIN = "LEFT JOIN group_sets gs ON gs.id = e.group_set";

function list(json: string | null): string[] {
  return json === null ? [] : (JSON.parse(json) as string[]);
}

/** SQLite's verdict that the file is damaged or not a database at all. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB";
}

/** The columns each dimension groups by; their ids are turned into the key afterwards. */
const TOP_COLUMNS: Record<TopDimension, string> = {
  users: "e.user",
  verbs: "e.verb",
  resources: "e.resource, e.api_group, e.subresource",
  namespaces: "e.namespace",
  sources: "e.source_ip",
  groups: "m.grp",
  codes: "e.code",
};
const TOP_JOIN: Partial<Record<TopDimension, string>> = {
  groups: "JOIN group_members m ON m.set_id = e.group_set",
};

/** SQLite's order for a GROUP BY key: NULL first, numbers by value, text by its bytes. */
function compareKeys(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

/**
 * The `strings` table as this connection has seen it, both ways, for one generation of the
 * index: ids are never reused within a generation, so what was read once stays true until a
 * rebuild (a new generation) empties the caches.
 */
class StringTable {
  private readonly idOf = new Map<string, number>();
  private readonly valueOf = new Map<number, string>();
  private readonly stmts;

  constructor(
    db: Database.Database,
    private readonly path: string,
  ) {
    this.stmts = {
      find: db.prepare<[string], { id: number }>("SELECT id FROM strings WHERE value = ?"),
      value: db.prepare<[number], { value: string | null }>("SELECT value FROM strings WHERE id = ?"),
      add: db.prepare<[string]>("INSERT INTO strings (value) VALUES (?)"),
    };
  }

  clear(): void {
    this.idOf.clear();
    this.valueOf.clear();
  }

  /** The id of `value`, or undefined when the index holds no such string. */
  readonly find = (value: string): number | undefined => {
    let id = this.idOf.get(value);
    if (id === undefined) {
      id = this.stmts.find.get(value)?.id;
      if (id !== undefined) this.remember(value, id);
    }
    return id;
  };

  /** The id of `value`, adding it on first sight (inside the caller's write transaction). */
  intern(value: string | null): number | null {
    if (value === null) return null;
    let id = this.find(value);
    if (id === undefined) {
      id = Number(this.stmts.add.run(value).lastInsertRowid);
      this.remember(value, id);
    }
    return id;
  }

  /** The string of an id a row holds; a missing one means the dictionary is damaged. */
  value(id: number | null): string | null {
    if (id === null) return null;
    let value = this.valueOf.get(id);
    if (value === undefined) {
      const row = this.stmts.value.get(id);
      if (row === undefined)
        throw new IndexError("corrupt", `${this.path}: string ${id} is missing from the dictionary`);
      // Blanked as unreferenced (forget-strings.ts), yet a row refers to it.
      if (row.value === null)
        throw new IndexError("corrupt", `${this.path}: string ${id} was blanked but a row refers to it`);
      value = row.value;
      this.remember(value, id);
    }
    return value;
  }

  private remember(value: string, id: number): void {
    this.idOf.set(value, id);
    this.valueOf.set(id, value);
  }
}

/** Rows retention removed the entries of: those below a pruned point, or thinned ones. */
export type DroppedRows = { before: number } | { indexes: readonly number[] };

export interface DropOptions {
  /** Rows deleted per statement or transaction. */
  rowsPerStep?: number;
  /** Free pages given back per incremental vacuum step. */
  pagesPerStep?: number;
  /**
   * The readers holding rows learn of the deletion otherwise (serve's stats, from its indexer):
   * the index keeps its generation, which would have them read every row again.
   */
  readersTold?: boolean;
}

/** An open index. One process may write at a time (SQLite locking); any number may read. */
export class QueryIndex {
  private readonly stmts;
  /** Group list (JSON) → group_sets.id, valid for one generation of the index. */
  private readonly groupSets = new Map<string, number>();
  private readonly strings: StringTable;
  private readonly keys: IndexKeys;
  /** The generation and strings epoch (meta) the caches of ids were filled in. */
  private generation: string | undefined;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.strings = new StringTable(db, path);
    this.keys = { id: this.strings.find, auditKey };
    this.stmts = {
      position: db.prepare<
        [],
        { position: number; origin: string; generation: string; strings_epoch: number }
      >("SELECT position, origin, generation, strings_epoch FROM meta"),
      setPosition: db.prepare<[number, number]>("UPDATE meta SET position = ?, indexed_at = ?"),
      finalOf: db.prepare<[bigint], { idx: number; stage_rank: number }>(
        "SELECT idx, stage_rank FROM entries WHERE audit = ? AND final = 1",
      ),
      unfinal: db.prepare<[number]>("UPDATE entries SET final = 0 WHERE idx = ?"),
      insert: db.prepare(
        "INSERT INTO entries (idx, leaf, kind, time_us, user, imp_user, verb, resource, subresource, " +
          "namespace, name, api_group, source_ip, decision, group_set, code, audit, stage_rank, final, level) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      groupSet: db.prepare<[string], { id: number }>("SELECT id FROM group_sets WHERE groups = ?"),
      addGroupSet: db.prepare<[string]>("INSERT INTO group_sets (groups) VALUES (?)"),
      addMember: db.prepare<[string, number | bigint]>(
        "INSERT OR IGNORE INTO group_members (grp, set_id) VALUES (?, ?)",
      ),
    };
  }

  /** Number of log entries covered: rows exist for the entries [0, position), but those retention pruned. */
  position(): number {
    return this.meta().position;
  }

  origin(): string {
    return this.meta().origin;
  }

  private meta(): { position: number; origin: string; generation: string; strings_epoch: number } {
    const r = this.stmts.position.get();
    if (r === undefined) throw new IndexError("corrupt", `${this.path}: meta row missing`);
    return r;
  }

  /**
   * Empties the caches of ids when the index was rebuilt, or unreferenced strings were blanked,
   * (by any process) since they were filled.
   */
  private sameGeneration(): void {
    const { generation, strings_epoch } = this.meta();
    const current = `${generation}/${strings_epoch}`;
    if (current !== this.generation) {
      this.groupSets.clear();
      this.strings.clear();
      this.generation = current;
    }
  }

  /**
   * Adds the rows of entries [first row's index, newPosition) and moves the position, in one
   * transaction. Rows another process already indexed are skipped, so concurrent indexers
   * never double-index; returns how many rows were written. Throws IndexError("gap") when the
   * rows would leave a gap after the current position (another process emptied the index; the
   * caller refills from the log).
   */
  applyBatch(rows: readonly IndexRow[], newPosition: number): number {
    const tx = this.db.transaction((): number => {
      this.sameGeneration();
      const position = this.position();
      if (position >= newPosition) return 0;
      const first = rows[0]?.idx ?? newPosition;
      if (first > position) {
        throw new IndexError(
          "gap",
          `${this.path}: batch starts at entry ${first} but the index ends at ${position}`,
        );
      }
      // An entry retention pruned before it was indexed (a rebuild of a pruned log) gets no row:
      // dropBelow deletes the rows of what it prunes, and a placeholder answers no query.
      const fresh = rows.filter((r) => r.idx >= position && r.kind !== PRUNED_KIND);
      const finals = this.finalRows(fresh);
      // An admission decision is the one row of its review: queried by default beside events.
      for (const r of fresh) this.insertRow(r, finals.has(r) || r.kind === ADMISSION_DECISION);
      this.stmts.setPosition.run(newPosition, Date.now());
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
      const prev = this.stmts.finalOf.get(this.auditKeyOf(r, auditID));
      if (prev !== undefined && prev.stage_rank >= STAGE_RANK[r.stage as Stage]) continue;
      if (prev !== undefined) this.stmts.unfinal.run(prev.idx);
      finals.add(r);
    }
    return finals;
  }

  /** Each row's auditID key, hashed once for both the finality lookup and the insert. */
  private readonly auditKeys = new WeakMap<IndexRow, bigint>();

  private auditKeyOf(r: IndexRow, auditID: string): bigint {
    let key = this.auditKeys.get(r);
    if (key === undefined) {
      key = auditKey(auditID);
      this.auditKeys.set(r, key);
    }
    return key;
  }

  private insertRow(r: IndexRow, isFinal: boolean): void {
    const s = this.strings;
    this.stmts.insert.run(
      r.idx,
      Buffer.from(r.leafHash.subarray(0, LEAF_PREFIX)),
      r.kind === EVENT_KIND ? null : s.intern(r.kind),
      r.timeUs,
      s.intern(r.user),
      s.intern(r.impersonatedUser),
      s.intern(r.verb),
      s.intern(r.resource),
      s.intern(r.subresource),
      s.intern(r.namespace),
      s.intern(r.name),
      s.intern(r.apiGroup),
      s.intern(r.sourceIPs[0] ?? null),
      s.intern(r.decision),
      this.groupSetId(r.groups),
      r.code,
      r.auditID === null ? null : this.auditKeyOf(r, r.auditID),
      r.stage === null ? null : STAGE_RANK[r.stage],
      isFinal ? 1 : 0,
      levelCode(r.level),
    );
  }

  /**
   * A row as the index holds it: the fields filters use. Everything else (the original time
   * strings, uid, user agent, request URI, …) is derived from the entry's bytes when it is
   * read back from the log (resolve.ts); `leafHash` is the stored prefix.
   */
  private fromDb(r: DbRow): IndexRow {
    const s = this.strings;
    const level = r.level === null ? null : (LEVELS[r.level] ?? null);
    return {
      idx: r.idx,
      leafHash: new Uint8Array(r.leaf),
      kind: r.kind === null ? EVENT_KIND : (s.value(r.kind) as string),
      timeUs: r.time_us,
      time: r.time_us === 0 ? null : microsToRfc3339(r.time_us),
      stageTime: null,
      user: s.value(r.user),
      uid: null,
      groups: list(r.groups),
      impersonatedUser: s.value(r.imp_user),
      impersonatedGroups: [],
      verb: s.value(r.verb),
      resource: s.value(r.resource),
      subresource: s.value(r.subresource),
      namespace: s.value(r.namespace),
      name: s.value(r.name),
      apiGroup: s.value(r.api_group),
      apiVersion: null,
      code: r.code,
      sourceIPs: r.source_ip === null ? [] : [s.value(r.source_ip) as string],
      userAgent: null,
      decision: s.value(r.decision),
      reason: null,
      auditID: null,
      stage: r.stage_rank === null ? null : (STAGE_OF_RANK[r.stage_rank] ?? null),
      level,
      requestURI: null,
      hasRequestObject: level === "Request" || level === "RequestResponse",
      length: 0,
    };
  }

  private select(sql: string, params: readonly SqlParam[]): IndexRow[] {
    return this.db
      .prepare<SqlParam[], DbRow>(sql)
      .all(...params)
      .map((r) => this.fromDb(r));
  }

  /** Rows matching the filter in its order, at most filter.limit, with the cursor of the next page. */
  search(filter: EventFilter, nowUs: number): SearchResult {
    this.sameGeneration();
    const q = compileSearch(filter, nowUs, this.keys, COLUMNS, GROUPS_JOIN);
    const rows = this.select(q.sql, q.params);
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
    this.sameGeneration();
    const firstResource = this.db.prepare<[], { r: number | null }>(
      "SELECT MIN(resource) AS r FROM entries WHERE final = 1 AND resource IS NOT NULL",
    );
    const nextResource = this.db.prepare<[number], { r: number | null }>(
      "SELECT MIN(resource) AS r FROM entries WHERE final = 1 AND resource > ?",
    );
    const nextNamespace = this.db.prepare<[number, number], { n: number | null }>(
      "SELECT MIN(namespace) AS n FROM entries WHERE final = 1 AND resource = ? AND namespace > ?",
    );
    const found = new Set<number>();
    for (let r = firstResource.get()?.r ?? null; r !== null; r = nextResource.get(r)?.r ?? null) {
      for (let n = nextNamespace.get(r, -1)?.n ?? null; n !== null; n = nextNamespace.get(r, n)?.n ?? null) {
        found.add(n);
      }
    }
    return [...found].map((id) => this.strings.value(id) as string).sort();
  }

  /** The rows of these log indexes, in the order given (indexes without a row are left out). */
  rowsAt(idxs: readonly number[]): IndexRow[] {
    if (idxs.length === 0) return [];
    this.sameGeneration();
    const found = new Map<number, IndexRow>();
    for (let i = 0; i < idxs.length; i += 500) {
      const chunk = idxs.slice(i, i + 500);
      const sql = `SELECT ${COLUMNS} FROM entries e ${GROUPS_JOIN} WHERE e.idx IN (${chunk.map(() => "?").join(", ")})`;
      for (const r of this.select(sql, chunk)) found.set(r.idx, r);
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
    this.sameGeneration();
    const ids = kinds.map(this.strings.find).filter((id): id is number => id !== undefined);
    if (ids.length === 0) return { rows: [] };
    // `kind IS NOT NULL` lets SQLite use the partial index entries_records.
    const conds = [`e.kind IS NOT NULL`, `e.kind IN (${ids.map(() => "?").join(", ")})`];
    const params: SqlParam[] = [...ids];
    if (opts.logSize !== undefined) {
      conds.push("e.idx < ?");
      params.push(opts.logSize);
    }
    if (opts.cursor !== undefined) {
      conds.push("(e.time_us, e.idx) < (?, ?)");
      params.push(opts.cursor.timeUs, opts.cursor.idx);
    }
    const sql =
      `SELECT ${COLUMNS} FROM entries e ${GROUPS_JOIN} ` +
      `WHERE ${conds.join(" AND ")} ORDER BY e.time_us DESC, e.idx DESC LIMIT ?`;
    const rows = this.select(sql, [...params, opts.limit + 1]);
    if (rows.length <= opts.limit) return { rows };
    rows.length = opts.limit;
    const last = rows[rows.length - 1] as IndexRow;
    return { rows, next: { timeUs: last.timeUs, idx: last.idx } };
  }

  /** Counts of requests matching the filter, grouped by one dimension, largest first. */
  top(dimension: TopDimension, filter: EventFilter, nowUs: number, limit: number): TopCount[] {
    this.sameGeneration();
    const { sql: where, params } = compileWhere(filter, nowUs, this.keys);
    const columns = TOP_COLUMNS[dimension];
    const sql =
      `SELECT ${columns}, COUNT(*) AS count FROM entries e ${TOP_JOIN[dimension] ?? ""}` +
      (where === "" ? "" : ` WHERE ${where}`) +
      ` GROUP BY ${columns}`;
    const groups = this.db
      .prepare<SqlParam[], (number | string | null)[]>(sql)
      .raw(true)
      .all(...params);
    const keyed = groups.map((g) => ({ key: this.topKey(dimension, g), count: g[g.length - 1] as number }));
    keyed.sort((a, b) => b.count - a.count || compareKeys(a.key, b.key));
    return keyed
      .slice(0, limit)
      .map((r) => ({ key: r.key === null ? "<none>" : String(r.key), count: r.count }));
  }

  /** A top group's key as `kubetrail top` prints it: resources in the spelling --resource accepts. */
  private topKey(dimension: TopDimension, g: readonly (number | string | null)[]): string | number | null {
    if (dimension === "groups" || dimension === "codes") return g[0] ?? null;
    if (dimension !== "resources") return this.strings.value(g[0] as number | null);
    const resource = this.strings.value(g[0] as number | null);
    if (resource === null) return null;
    return resourceLabel({
      resource,
      apiGroup: this.strings.value(g[1] as number | null),
      subresource: this.strings.value(g[2] as number | null),
    });
  }

  /** The log index of the first row, null when there is none. */
  lowestRow(): number | null {
    return this.db.prepare<[], { lo: number | null }>("SELECT MIN(idx) AS lo FROM entries").get()?.lo ?? null;
  }

  /**
   * Deletes the rows of entries below `before` (bundles retention removed): a row keeps who did
   * what to which object, which the policy said to keep no longer, and most of an event's disk.
   * A chunk of rows per transaction, so another writer (serve's index writer) waits briefly at
   * most; then the freed pages go back to the file system where the file allows it (auto_vacuum
   * INCREMENTAL, as configure() sets for new files; in older ones they are reused by new rows).
   * Returns how many rows were deleted.
   */
  dropBelow(before: number, opts: DropOptions = {}): number {
    const { rowsPerStep = 20_000 } = opts;
    const lowest = this.lowestRow();
    const del = this.db.prepare<[number]>("DELETE FROM entries WHERE idx < ?");
    if (lowest !== null && lowest < before) this.stringsPending();
    let deleted = 0;
    for (let lo = lowest; lo !== null && lo < before; lo = Math.min(before, lo + rowsPerStep))
      deleted += del.run(Math.min(before, lo + rowsPerStep)).changes;
    if (deleted > 0) this.rowsDeleted(opts);
    return deleted;
  }

  /**
   * Deletes the rows of the entries `indexes` (a retention run thinned them from the bundles it
   * kept), as dropBelow does for whole ranges. Returns how many rows were deleted.
   */
  dropEntries(indexes: readonly number[], opts: DropOptions = {}): number {
    const { rowsPerStep = 20_000 } = opts;
    const del = this.db.prepare<[number]>("DELETE FROM entries WHERE idx = ?");
    const step = this.db.transaction((part: readonly number[]) =>
      part.reduce((n, i) => n + del.run(i).changes, 0),
    );
    if (indexes.length > 0) this.stringsPending();
    let deleted = 0;
    for (let at = 0; at < indexes.length; at += rowsPerStep)
      deleted += step.immediate(indexes.slice(at, at + rowsPerStep));
    if (deleted > 0) this.rowsDeleted(opts);
    return deleted;
  }

  /** Counted before rows go, so that forgetUnreferenced blanks what they alone named even after a crash. */
  private stringsPending(): void {
    this.db.prepare("UPDATE meta SET strings_pending = strings_pending + 1").run();
  }

  /** dropBelow or dropEntries. */
  dropRows(rows: DroppedRows, opts: DropOptions = {}): number {
    return "before" in rows ? this.dropBelow(rows.before, opts) : this.dropEntries(rows.indexes, opts);
  }

  /**
   * Blanks the strings and group lists no row refers to any more, when rows were dropped since
   * it last ran (else it returns at once): once a run, since it reads every row. Returns how many.
   */
  forgetUnreferenced(opts?: ForgetOptions): Forgotten {
    return forgetUnreferenced(this.db, opts);
  }

  /**
   * After rows were deleted: unless the readers that hold rows (the web UI's stats) are told
   * otherwise, a new generation, so they read them again; and the freed pages go back to the
   * file system where the file allows it.
   */
  private rowsDeleted({ pagesPerStep = 2_000, readersTold = false }: DropOptions): void {
    if (!readersTold) this.db.prepare("UPDATE meta SET generation = ? WHERE id = 1").run(randomUUID());
    if (this.db.pragma("auto_vacuum", { simple: true }) === AUTO_VACUUM_INCREMENTAL) {
      const free = (): number => this.db.pragma("freelist_count", { simple: true }) as number;
      // Step by step, each its own short write; stops should a step free nothing.
      for (let left = free(), was = Infinity; left > 0 && left < was; was = left, left = free())
        this.db.pragma(`incremental_vacuum(${pagesPerStep})`);
    }
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

/** The kind of a row made for an entry whose bytes retention removed (row.ts goneRow). */
const PRUNED_KIND = "pruned";

/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const AUTO_VACUUM_INCREMENTAL = 2;

function configure(db: Database.Database): void {
  // Set first: the other pragmas may wait for a lock held by another process.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Before any table exists (a new file), or applied by the VACUUM after a schema change: what
  // retention deletes (dropBelow) can then be given back to the file system. No effect otherwise.
  db.pragma(`auto_vacuum = ${AUTO_VACUUM_INCREMENTAL}`);
  enterWalMode(db);
  // Derived data: NORMAL keeps the index consistent after a crash (it may lose the newest
  // batches, which the position makes the indexer redo), at a fraction of FULL's fsyncs.
  db.pragma("synchronous = NORMAL");
  // The secondary indexes take inserts all over their B-trees; the default 2 MB page cache
  // would re-read those pages for every batch.
  db.pragma("cache_size = -65536");
  // Planner statistics from a sample: ANALYZE (run by optimize) stays milliseconds at millions of rows.
  db.pragma("analysis_limit = 1000");
  // Zeroes the space a cell leaves in its page (a page split leaves stale copies of strings
  // otherwise): a name retention blanked must not linger in the file. No cost the indexing
  // rate shows; freed whole pages are not zeroed (FAST), incremental vacuum gives them back.
  db.pragma("secure_delete = FAST");
}

const BUSY_TIMEOUT_MS = 10_000;

/**
 * Switching a new file to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY for it at
 * once instead of calling the busy handler: several processes opening a just-deleted index at
 * the same moment would fail. So the switch is retried here, as long as the busy timeout.
 */
function enterWalMode(db: Database.Database): void {
  for (let waited = 0; ; waited += 20) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY" || waited >= BUSY_TIMEOUT_MS) throw err;
      sleepSync(20);
    }
  }
}

const DROP_SQL =
  "DROP TABLE IF EXISTS entries; DROP TABLE IF EXISTS group_sets; DROP TABLE IF EXISTS strings; " +
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
      "INSERT INTO meta (id, schema_version, generation, build, origin, position) VALUES (1, ?, ?, ?, ?, 0)",
    ).run(SCHEMA_VERSION, randomUUID(), randomUUID(), origin);
    return reason;
  });
  const reason = tx.immediate();
  if (reason !== undefined) reclaimFreePages(db);
  return reason;
}

/**
 * Dropping the tables leaves their pages in the file as free pages: an index rebuilt under a new
 * schema would keep the old one's size on disk. VACUUM gives them back, quickly while the tables
 * are empty. Another connection still reading keeps it from running (not waited for): the free
 * pages are then reused as the index refills.
 */
function reclaimFreePages(db: Database.Database): void {
  if (db.pragma("freelist_count", { simple: true }) === 0) return;
  const timeout = db.pragma("busy_timeout", { simple: true }) as number;
  db.pragma("busy_timeout = 0");
  try {
    db.exec("VACUUM");
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== "SQLITE_BUSY" && code !== "SQLITE_LOCKED") throw err;
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
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
      const problem = result !== "ok" ? `quick_check: ${String(result)}` : dictionaryProblem(db);
      if (problem !== undefined) {
        ensureSchema(db, origin, { ...opts, rebuild: true });
        return { db, rebuilt: problem };
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
