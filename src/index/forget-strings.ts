// After retention deleted rows, the dictionary still held every user, object name, namespace
// and source address those rows named: what the policy said to keep no longer stayed in
// index.db until a reindex. This blanks the strings (and group lists) no row refers to any more.
//
// Ids stay (value NULL), so an id is never handed out twice and every connection's cached id of
// a string it still sees stays true; a string met again gets a new id. `strings_epoch` in meta
// moves, so connections drop their cached value → id maps (db.ts sameGeneration) instead of
// writing a row under the blanked id. With secure_delete the old bytes are overwritten, not
// merely freed; the write-ahead log's older frames go when SQLite next resets or removes it.
import type Database from "better-sqlite3";
import { STRING_COLUMNS } from "./schema.js";

const READ_COLUMNS = `${STRING_COLUMNS.join(", ")}, group_set`;

export interface ForgetOptions {
  /** Rows read per statement (each a short read of its own, never blocking the writer). */
  rowsPerRead?: number;
  /** Called between the read of the rows and the write that blanks (tests race a writer here). */
  afterRead?: () => void;
}

export interface Forgotten {
  strings: number;
  groupSets: number;
}

/** Which ids of strings and group lists (up to the highest when the read began) a row refers to. */
class Referenced {
  readonly strings: Uint8Array;
  readonly groupSets: Uint8Array;

  constructor(topString: number, topGroupSet: number) {
    this.strings = new Uint8Array(topString + 1);
    this.groupSets = new Uint8Array(topGroupSet + 1);
  }

  mark(row: readonly (number | null)[]): void {
    for (let c = 0; c < STRING_COLUMNS.length; c++) {
      const id = row[c];
      if (id != null && id < this.strings.length) this.strings[id] = 1;
    }
    const set = row[STRING_COLUMNS.length];
    if (set != null && set < this.groupSets.length) this.groupSets[set] = 1;
  }
}

/**
 * Blanks the strings and group lists of `db` (index.db) that no row refers to, if rows were
 * deleted since it last did (meta.strings_pending); returns how many. Rows below the index's
 * position only ever go (the writer adds rows at or after it), so they are read outside the
 * write; the rows added meanwhile are read again inside it.
 */
export function forgetUnreferenced(db: Database.Database, opts: ForgetOptions = {}): Forgotten {
  const { rowsPerRead = 100_000, afterRead } = opts;
  const meta = db.prepare<[], { build: string; position: number; strings_pending: number }>(
    "SELECT build, position, strings_pending FROM meta WHERE id = 1",
  );
  const start = meta.get();
  if (start === undefined || start.strings_pending === 0) return { strings: 0, groupSets: 0 };
  const top = (table: string): number =>
    (db.prepare(`SELECT MAX(id) AS top FROM ${table}`).get() as { top: number | null }).top ?? 0;
  const seen = new Referenced(top("strings"), top("group_sets"));
  const rows = db
    .prepare<[number, number]>(`SELECT ${READ_COLUMNS} FROM entries WHERE idx >= ? AND idx < ?`)
    .raw(true);
  const markRange = (from: number, to: number): void => {
    for (const row of rows.iterate(from, to)) seen.mark(row as (number | null)[]);
  };
  for (let at = 0; at < start.position; at += rowsPerRead)
    markRange(at, Math.min(start.position, at + rowsPerRead));
  afterRead?.();

  const blankString = db.prepare<[number]>("UPDATE strings SET value = NULL WHERE id = ?");
  const blankSet = db.prepare<[number]>("UPDATE group_sets SET groups = NULL WHERE id = ?");
  const dropMembers = db.prepare<[number]>("DELETE FROM group_members WHERE set_id = ?");
  const unblanked = (table: string, column: string, marks: Uint8Array): number[] =>
    (
      db
        .prepare<[number]>(`SELECT id FROM ${table} WHERE ${column} IS NOT NULL AND id < ?`)
        .pluck(true)
        .all(marks.length) as number[]
    ).filter((id) => marks[id] === 0);
  const blank = db.transaction((): Forgotten => {
    const now = meta.get();
    // Rebuilt meanwhile: a new dictionary, holding only what its rows name. (A new generation
    // alone is deletions by another process: the rows read are still true or gone.)
    if (now === undefined || now.build !== start.build) return { strings: 0, groupSets: 0 };
    markRange(start.position, Number.MAX_SAFE_INTEGER);
    const strings = unblanked("strings", "value", seen.strings);
    const sets = unblanked("group_sets", "groups", seen.groupSets);
    for (const id of strings) blankString.run(id);
    for (const id of sets) {
      blankSet.run(id);
      dropMembers.run(id);
    }
    if (strings.length + sets.length > 0)
      db.prepare("UPDATE meta SET strings_epoch = strings_epoch + 1").run();
    // Deletions counted since the read began stay counted: the rows they took were read as
    // naming their strings, which the next run blanks.
    db.prepare<[number]>("UPDATE meta SET strings_pending = strings_pending - ?").run(start.strings_pending);
    return { strings: strings.length, groupSets: sets.length };
  });
  const secure = db.pragma("secure_delete", { simple: true });
  db.pragma("secure_delete = ON");
  try {
    return blank.immediate();
  } finally {
    db.pragma(`secure_delete = ${secure}`);
  }
}
