// Reads what the in-memory stats need from DATA/index.db on a read-only connection of its own,
// beside the indexer that writes it (SQLite WAL: readers never block the writer).
import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { INDEX_FILE } from "../db.js";
import type { StatsRow } from "./columns.js";
import { IndexError } from "../errors.js";
import { auditKey } from "../audit-key.js";

/** idx, time_us, then strings ids and numbers as the SELECT below lists them. */
type RawRow = [
  number,
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  number,
];

export class StatsSource {
  private db!: Database.Database;
  private stmts!: ReturnType<StatsSource["prepare"]>;
  /** The inode of the file open: serve's indexer replaces a damaged index.db by a new file. */
  private inode = -1;
  private readonly file: string;
  /** index.db's dictionary (strings id → value) as far as read, for `dictionaryOf` (generation/strings epoch). */
  private dictionary = new Map<number, string>();
  private dictionaryOf: string | undefined;

  constructor(dataDir: string) {
    this.file = join(dataDir, INDEX_FILE);
    this.open();
  }

  private open(): void {
    this.db = new Database(this.file, { readonly: true, fileMustExist: true });
    this.db.pragma("busy_timeout = 10000");
    this.inode = statSync(this.file).ino;
    this.stmts = this.prepare(this.db);
  }

  private prepare(db: Database.Database) {
    return {
      meta: db.prepare<[], { position: number; generation: string; strings_epoch: number }>(
        "SELECT position, generation, strings_epoch FROM meta WHERE id = 1",
      ),
      rows: db
        .prepare<[number, number]>(
          "SELECT idx, time_us, user, group_set, verb, resource, api_group, subresource, namespace, name, " +
            "code, source_ip, decision, stage_rank, final FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
        )
        .raw(true),
      string: db.prepare<[number], string | null>("SELECT value FROM strings WHERE id = ?").pluck(true),
      // Earlier rows of the same requests that rows in [from, to) superseded (no longer final).
      superseded: db
        .prepare<[number, number, number]>(
          "SELECT o.idx FROM entries n JOIN entries o ON o.audit = n.audit " +
            "WHERE n.idx >= ? AND n.idx < ? AND n.stage_rank > 0 AND o.idx < ? AND o.final = 0",
        )
        .pluck(true),
      groupSets: (n: number) =>
        db
          .prepare(
            `SELECT DISTINCT set_id FROM group_members WHERE grp IN (${new Array(n).fill("?").join(", ")})`,
          )
          .pluck(true),
      auditIdxs: (n: number) =>
        db
          .prepare(`SELECT idx FROM entries WHERE audit IN (${new Array(n).fill("?").join(", ")})`)
          .pluck(true),
    };
  }

  /**
   * The index's position and generation (a new generation means it was rebuilt); undefined
   * while there is no readable index. A file replaced since it was opened is opened anew.
   */
  meta(): { position: number; generation: string; stringsEpoch: number } | undefined {
    try {
      if (statSync(this.file).ino !== this.inode) {
        this.db.close();
        this.open();
      }
      const meta = this.stmts.meta.get();
      if (meta === undefined) return undefined;
      // Also when retention's unreferenced strings were blanked: the names it held go from memory too.
      const dictionaryOf = `${meta.generation}/${meta.strings_epoch}`;
      if (dictionaryOf !== this.dictionaryOf) {
        this.dictionary = new Map();
        this.dictionaryOf = dictionaryOf;
      }
      return { position: meta.position, generation: meta.generation, stringsEpoch: meta.strings_epoch };
    } catch {
      // Being replaced or not yet filled (no meta row, no file): nothing to follow yet.
      return undefined;
    }
  }

  /** Rows of log indexes [from, to), in order. */
  rows(from: number, to: number): StatsRow[] {
    const s = (id: number | null): string | null => (id === null ? null : this.string(id));
    return (this.stmts.rows.all(from, to) as RawRow[]).map((r) => ({
      idx: r[0],
      timeUs: r[1],
      user: s(r[2]),
      groupSet: r[3],
      verb: s(r[4]),
      resource: s(r[5]),
      apiGroup: s(r[6]),
      subresource: s(r[7]),
      namespace: s(r[8]),
      name: s(r[9]),
      code: r[10],
      sourceIP: s(r[11]),
      decision: s(r[12]),
      stageRank: r[13],
      final: r[14] === 1,
    }));
  }

  /**
   * A dictionary string, read from index.db the first time it is met: one row at a time, so a
   * batch of rows costs the strings it uses, never the whole table (a first load after a
   * rebuild would otherwise read it all in one turn of the event loop).
   */
  private string(id: number): string {
    let value = this.dictionary.get(id);
    if (value === undefined) {
      const read = this.stmts.string.get(id);
      if (read === undefined || read === null)
        throw new IndexError("corrupt", `${this.file}: string ${id} is missing from the dictionary`);
      value = read;
      this.dictionary.set(id, value);
    }
    return value;
  }

  /** Log indexes below `before` whose rows the rows [from, to) made non-final. */
  superseded(from: number, to: number, before: number): number[] {
    return this.stmts.superseded.all(from, to, before) as number[];
  }

  groupSets(groups: readonly string[]): Set<number> {
    if (groups.length === 0) return new Set();
    return new Set(this.stmts.groupSets(groups.length).all(...groups) as number[]);
  }

  auditIdxs(auditIDs: readonly string[]): Set<number> {
    if (auditIDs.length === 0) return new Set();
    return new Set(this.stmts.auditIdxs(auditIDs.length).all(...auditIDs.map(auditKey)) as number[]);
  }

  close(): void {
    this.db.close();
  }
}
